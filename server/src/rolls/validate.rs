//! Does a roll result fit the request it answers? One outcome per requested roll, and a
//! number for each total unless the browser reports why the roll failed.

use gold_box_protocol::{RollOutcome, RollRequest};

/// Why a result does not fit; the text names the field, as `results[1].total: ...`.
pub fn check(requested: &[RollRequest], results: &[RollOutcome]) -> Result<(), String> {
    if results.len() != requested.len() {
        return Err(format!(
            "results: expected {} outcome(s), one per requested roll, got {}",
            requested.len(),
            results.len()
        ));
    }
    for (index, outcome) in results.iter().enumerate() {
        match (outcome.total, &outcome.error) {
            (Some(total), _) if !total.is_finite() => {
                return Err(format!("results[{index}].total: must be a finite number"));
            }
            (Some(_), _) => {}
            (None, Some(error)) if !error.trim().is_empty() => {}
            (None, _) => {
                return Err(format!(
                    "results[{index}].total: must be a number (or give `error` for a roll that failed)"
                ));
            }
        }
        for (term, die) in outcome.dice.iter().enumerate() {
            if die.faces == 0 {
                return Err(format!(
                    "results[{index}].dice[{term}].faces: must be at least 1"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gold_box_protocol::{DieResult, DieTerm};

    fn request(n: usize) -> Vec<RollRequest> {
        (0..n)
            .map(|_| RollRequest {
                formula: "1d20".into(),
                flavor: None,
            })
            .collect()
    }

    fn outcome(total: Option<f64>, error: Option<&str>) -> RollOutcome {
        RollOutcome {
            formula: "1d20".into(),
            flavor: None,
            total,
            dice: vec![DieTerm {
                faces: 20,
                results: vec![DieResult {
                    result: 7,
                    active: true,
                }],
            }],
            error: error.map(str::to_owned),
        }
    }

    #[test]
    fn one_numeric_outcome_per_roll_fits() {
        assert_eq!(
            check(
                &request(2),
                &[outcome(Some(7.0), None), outcome(Some(3.0), None)]
            ),
            Ok(())
        );
    }

    #[test]
    fn a_missing_outcome_names_the_counts() {
        let error = check(&request(2), &[outcome(Some(7.0), None)]).expect_err("one short");
        assert!(
            error.starts_with("results:") && error.contains("expected 2"),
            "{error}"
        );
    }

    #[test]
    fn a_null_total_without_an_error_names_the_field() {
        let error = check(
            &request(2),
            &[outcome(Some(1.0), None), outcome(None, None)],
        )
        .expect_err("null");
        assert!(error.starts_with("results[1].total"), "{error}");
    }

    #[test]
    fn a_failed_roll_reported_with_its_error_fits() {
        assert_eq!(
            check(&request(1), &[outcome(None, Some("Unresolved term"))]),
            Ok(())
        );
    }

    #[test]
    fn a_die_without_faces_names_the_field() {
        let mut bad = outcome(Some(1.0), None);
        bad.dice[0].faces = 0;
        let error = check(&request(1), &[bad]).expect_err("no faces");
        assert_eq!(error, "results[0].dice[0].faces: must be at least 1");
    }
}
