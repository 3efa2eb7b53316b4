//! Request ids the server has settled, remembered so that a repeat is never rolled.
//!
//! Dice are real and final: a request id is rolled at most once in this tab. An outbox
//! entry leaves when the server answers or its deadline passes, but the server may still
//! send the same `execute_roll` again (a reconnect that raced an HTTP ack, a takeover),
//! and a page reload forgets memory. So a settled id leaves a marker, in memory and in
//! the tab's storage, until its deadline plus [`SETTLED_MARGIN_MS`].
//!
//! A repeat of a settled id is answered from the marker without touching the dice: the
//! stored outcome is sent once more when it is still held (the server answers `duplicate`
//! or `expired`, which changes nothing here), and nothing at all is done when only the
//! marker remains (a roll a reload interrupted past its deadline).

use crate::id_map::IdMap;
use gold_box_protocol::{RollOutcome, json_struct};

/// How long a settled marker outlives its request's deadline. The server keeps its own
/// tombstones (and answers `duplicate`) for at least 10 minutes; the tab remembers as
/// long, which also covers a browser clock that drifts from the server's, and timers a
/// hidden tab throttles.
pub const SETTLED_MARGIN_MS: u64 = 10 * 60 * 1_000;

/// A settled marker as the tab's storage keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct SettledRoll {
    pub request_id: String,
    /// Epoch milliseconds after which the marker is dropped.
    pub keep_until_ms: u64,
    /// The outcome that settled it, when one was made.
    pub results: Option<Vec<RollOutcome>>,
}

// Its JSON, as the serde derive wrote it before (markers stored by an older version of
// the module still read).
json_struct!(SettledRoll {
    request_id: req,
    keep_until_ms: req,
    results: null,
});

impl SettledRoll {
    /// The marker for a request whose deadline is `deadline_ms`.
    pub fn new(request_id: String, deadline_ms: u64, results: Option<Vec<RollOutcome>>) -> Self {
        SettledRoll {
            request_id,
            keep_until_ms: deadline_ms.saturating_add(SETTLED_MARGIN_MS),
            results,
        }
    }
}

/// The settled markers held in memory.
#[derive(Debug, Default)]
pub struct Settled {
    markers: IdMap<SettledRoll>,
}

impl Settled {
    pub fn insert(&mut self, marker: SettledRoll) {
        self.markers.insert(marker.request_id.clone(), marker);
    }

    pub fn get(&self, request_id: &str) -> Option<&SettledRoll> {
        self.markers.get(request_id)
    }

    pub fn len(&self) -> usize {
        self.markers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.markers.is_empty()
    }

    /// Drops the markers kept long enough and returns their ids (to drop from storage).
    /// Called whenever a roll request comes in, so memory and storage hold only markers
    /// that can still matter.
    pub fn prune(&mut self, now_ms: u64) -> Vec<String> {
        // A plain loop: a `filter`/`map`/`collect` chain is compiled on its own.
        let mut expired: Vec<String> = Vec::new();
        for marker in self.markers.values() {
            if marker.keep_until_ms <= now_ms {
                expired.push(marker.request_id.clone());
            }
        }
        for id in &expired {
            self.markers.remove(id);
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_is_kept_until_its_deadline_plus_the_margin() {
        let mut settled = Settled::default();
        settled.insert(SettledRoll::new("r1".into(), 1_000, None));
        assert!(settled.prune(1_000 + SETTLED_MARGIN_MS - 1).is_empty());
        assert!(settled.get("r1").is_some());
        assert_eq!(
            settled.prune(1_000 + SETTLED_MARGIN_MS),
            vec!["r1".to_owned()]
        );
        assert!(settled.is_empty());
    }
}
