//! Validation of Foundry-style dice formulas before the browser is asked to roll them.
//!
//! A formula Foundry cannot parse comes back from the browser as a failed roll after a
//! full round trip (and, for some typos, as a chat card that confuses the table). Checking
//! it here first lets the AI get a precise error ("`2d` has no number of faces") and
//! correct itself within the same turn, without anything reaching the table.
//!
//! The accepted language is deliberately a subset of Foundry's: sums and differences of
//! dice terms (`NdM`, `dM`, `d%`), integer constants and parenthesised groups, with the
//! keep/drop modifiers `kh`, `kl`, `dh`, `dl` (count optional, 1 by default) and Foundry's
//! bracketed flavor (`2d6[fire]`). Anything outside it is refused rather than guessed at.

use std::fmt;

/// The most dice one formula may roll (all its terms together). Foundry would roll more,
/// but an AI asking for 500 dice is a mistake, and each die is a DOM element in the chat card.
pub const MAX_DICE: u64 = 100;
/// The most faces a die may have.
pub const MAX_FACES: u64 = 1000;
/// The largest constant a formula may contain.
pub const MAX_CONSTANT: u64 = 1_000_000;
/// The longest formula accepted, in characters.
pub const MAX_FORMULA_CHARS: usize = 200;
/// How deeply parentheses may nest.
pub const MAX_DEPTH: usize = 8;

/// A formula that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Formula {
    /// The formula as given, trimmed: Foundry rolls exactly what the AI wrote.
    pub text: String,
    /// How many dice it rolls in all.
    pub dice: u64,
}

/// Why a formula was refused; the message is written for the AI to correct it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormulaError {
    pub message: String,
}

impl fmt::Display for FormulaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FormulaError {}

/// Checks `input` and returns it trimmed with its dice count, or says what is wrong.
pub fn validate(input: &str) -> Result<Formula, FormulaError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(error("the formula is empty: write it like `1d20+5`"));
    }
    if text.chars().count() > MAX_FORMULA_CHARS {
        return Err(error(format!(
            "the formula is longer than {MAX_FORMULA_CHARS} characters"
        )));
    }
    let mut parser = Parser {
        chars: text.chars().collect(),
        pos: 0,
        dice: 0,
        depth: 0,
    };
    parser.expression()?;
    parser.skip_spaces();
    if let Some(c) = parser.peek() {
        return Err(match c {
            ')' => error(format!(
                "unexpected `)` at position {}: it closes nothing",
                parser.pos + 1
            )),
            _ => parser.unexpected(c),
        });
    }
    Ok(Formula {
        text: text.to_owned(),
        dice: parser.dice,
    })
}

fn error(message: impl Into<String>) -> FormulaError {
    FormulaError {
        message: message.into(),
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    dice: u64,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn unexpected(&self, c: char) -> FormulaError {
        error(format!(
            "unexpected `{c}` at position {}: a formula is dice like `2d6`, whole numbers, \
             `+`, `-` and parentheses",
            self.pos + 1
        ))
    }

    /// expression := term (('+' | '-') term)*
    fn expression(&mut self) -> Result<(), FormulaError> {
        self.term(None)?;
        loop {
            self.skip_spaces();
            match self.peek() {
                Some(op @ ('+' | '-')) => {
                    self.pos += 1;
                    self.term(Some(op))?;
                }
                _ => return Ok(()),
            }
        }
    }

    /// term := dice | number | '(' expression ')', each optionally followed by `[flavor]`.
    fn term(&mut self, after: Option<char>) -> Result<(), FormulaError> {
        self.skip_spaces();
        let start = self.pos;
        match self.peek() {
            Some('(') => {
                if self.depth >= MAX_DEPTH {
                    return Err(error(format!(
                        "parentheses nest deeper than {MAX_DEPTH} levels"
                    )));
                }
                self.depth += 1;
                self.pos += 1;
                self.expression()?;
                self.skip_spaces();
                if self.peek() != Some(')') {
                    return Err(error(format!(
                        "missing `)` for the `(` at position {}",
                        start + 1
                    )));
                }
                self.pos += 1;
                self.depth -= 1;
            }
            Some(c) if c.is_ascii_digit() => {
                let count = self.number()?;
                if matches!(self.peek(), Some('d' | 'D')) {
                    self.dice_term(start, Some(count))?;
                } else if self.peek() == Some('.') {
                    return Err(error(format!(
                        "`{}` is not a whole number: use whole numbers only",
                        self.snippet(start)
                    )));
                }
            }
            Some('d' | 'D') => self.dice_term(start, None)?,
            found => {
                let place = match after {
                    Some(op) => format!("after `{op}` at position {}", self.pos),
                    None if self.pos == 0 => "at the start".to_owned(),
                    None => format!("at position {}", self.pos + 1),
                };
                let what = match found {
                    None => "the formula ends".to_owned(),
                    Some(c) => format!("found `{c}`"),
                };
                return Err(error(format!(
                    "expected a number, a die such as `1d20`, or `(` {place}, but {what}"
                )));
            }
        }
        self.flavor()
    }

    /// Foundry's per-term flavor: `2d6[fire]`. Its text is not interpreted.
    fn flavor(&mut self) -> Result<(), FormulaError> {
        if self.peek() != Some('[') {
            return Ok(());
        }
        let open = self.pos;
        while let Some(c) = self.peek() {
            self.pos += 1;
            if c == ']' {
                return Ok(());
            }
        }
        Err(error(format!(
            "missing `]` for the `[` at position {}",
            open + 1
        )))
    }

    fn number(&mut self) -> Result<u64, FormulaError> {
        let start = self.pos;
        let mut value: u64 = 0;
        while let Some(digit) = self.peek().and_then(|c| c.to_digit(10)) {
            value = value.saturating_mul(10).saturating_add(u64::from(digit));
            self.pos += 1;
        }
        if value > MAX_CONSTANT {
            return Err(error(format!(
                "`{}` is too large: numbers go up to {MAX_CONSTANT}",
                self.snippet(start)
            )));
        }
        Ok(value)
    }

    fn snippet(&self, start: usize) -> String {
        let end = self.pos.max(start);
        self.chars[start.min(self.chars.len())..end.min(self.chars.len())]
            .iter()
            .collect()
    }

    /// dice := [count] 'd' (faces | '%') modifier*; `self.pos` is at the `d`.
    fn dice_term(&mut self, start: usize, count: Option<u64>) -> Result<(), FormulaError> {
        self.pos += 1; // the `d`
        let count = count.unwrap_or(1);
        let faces = match self.peek() {
            Some('%') => {
                self.pos += 1;
                100
            }
            Some(c) if c.is_ascii_digit() => self.number()?,
            _ => {
                return Err(error(format!(
                    "`{}` has no number of faces: write it like `{}d6`",
                    self.snippet(start),
                    count
                )));
            }
        };
        if count == 0 {
            return Err(error(format!(
                "`{}` rolls no dice: roll at least one",
                self.snippet(start)
            )));
        }
        if faces == 0 {
            return Err(error(format!(
                "`{}`: a die needs at least 1 face",
                self.snippet(start)
            )));
        }
        if faces > MAX_FACES {
            return Err(error(format!(
                "`{}`: a die has at most {MAX_FACES} faces",
                self.snippet(start)
            )));
        }
        self.dice = self.dice.saturating_add(count);
        if self.dice > MAX_DICE {
            return Err(error(format!(
                "too many dice: the formula rolls more than {MAX_DICE} (MAX_DICE), which is \
                 the limit"
            )));
        }
        self.modifiers(start, count)
    }

    /// kh, kl, dh, dl, each with an optional count (1 by default).
    fn modifiers(&mut self, start: usize, count: u64) -> Result<(), FormulaError> {
        loop {
            let first = self.peek().map(|c| c.to_ascii_lowercase());
            let second = self.chars.get(self.pos + 1).map(|c| c.to_ascii_lowercase());
            let (keep, name) = match (first, second) {
                (Some('k'), Some('h')) => (true, "kh"),
                (Some('k'), Some('l')) => (true, "kl"),
                (Some('d'), Some('h')) => (false, "dh"),
                (Some('d'), Some('l')) => (false, "dl"),
                (Some(c), _) if c.is_ascii_alphabetic() => {
                    return Err(error(format!(
                        "`{}{c}`: unknown dice modifier `{c}`; use kh, kl, dh or dl",
                        self.snippet(start)
                    )));
                }
                _ => return Ok(()),
            };
            self.pos += 2;
            let n = if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.number()?
            } else {
                1
            };
            let term = self.snippet(start);
            if n == 0 {
                return Err(error(format!(
                    "`{term}`: `{name}` needs a count of at least 1"
                )));
            }
            if keep && n > count {
                return Err(error(format!("`{term}` keeps {n} of only {count} dice")));
            }
            if !keep && n >= count {
                return Err(error(format!(
                    "`{term}` drops {n} of only {count} dice, leaving none"
                )));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(formula: &str) -> String {
        match validate(formula) {
            Ok(ok) => panic!("{formula:?} was accepted as {ok:?}"),
            Err(e) => e.message,
        }
    }

    #[test]
    fn common_formulas_are_accepted_with_their_dice_counted() {
        for (formula, dice) in [
            ("1d20+5", 1),
            ("d20", 1),
            ("2d6", 2),
            ("1d8 + 3", 1),
            ("2d20kh", 2),
            ("2d20kl1 + 4", 2),
            ("4d6dl1", 4),
            ("4d6dl", 4),
            ("3d6dh1", 3),
            ("1d100", 1),
            ("d%", 1),
            ("(1d6 + 2) - 1", 1),
            ("2d6[fire] + 1d4[cold] + 3", 3),
            ("10", 0),
            ("1d20 - 1", 1),
            ("  1D20+2 ", 1),
        ] {
            let parsed = validate(formula).unwrap_or_else(|e| panic!("{formula}: {e}"));
            assert_eq!(parsed.dice, dice, "{formula}");
            assert_eq!(parsed.text, formula.trim());
        }
    }

    #[test]
    fn a_die_without_faces_is_refused_with_an_example() {
        let message = refused("2d");
        assert!(message.contains("`2d` has no number of faces"), "{message}");
        assert!(message.contains("2d6"), "{message}");
    }

    #[test]
    fn a_die_with_zero_faces_is_refused() {
        assert!(refused("1d0").contains("at least 1 face"));
    }

    #[test]
    fn zero_dice_are_refused() {
        assert!(refused("0d6").contains("rolls no dice"));
    }

    #[test]
    fn a_doubled_operator_is_refused_naming_where() {
        let message = refused("d20++");
        assert!(message.contains("after `+` at position 4"), "{message}");
        assert!(message.contains("found `+`"), "{message}");
        let message = refused("1d20+");
        assert!(message.contains("the formula ends"), "{message}");
    }

    #[test]
    fn an_empty_formula_is_refused() {
        assert!(refused("").contains("empty"));
        assert!(refused("   ").contains("empty"));
    }

    #[test]
    fn too_many_dice_are_refused_naming_the_limit() {
        let message = refused("101d6");
        assert!(message.contains("MAX_DICE"), "{message}");
        assert!(validate("100d6").is_ok());
        assert!(refused("60d6 + 60d6").contains("too many dice"));
    }

    #[test]
    fn oversized_dice_and_numbers_are_refused() {
        assert!(refused("1d1001").contains("at most 1000 faces"));
        assert!(refused("1d20+99999999").contains("too large"));
        assert!(refused(&"1+".repeat(150)).contains("longer than"));
    }

    #[test]
    fn unbalanced_parentheses_and_brackets_are_refused() {
        assert!(refused("(1d6+2").contains("missing `)`"));
        assert!(refused("1d6+2)").contains("closes nothing"));
        assert!(refused("1d6[fire").contains("missing `]`"));
        assert!(refused(&format!("{}1{}", "(".repeat(9), ")".repeat(9))).contains("nest"));
    }

    #[test]
    fn unknown_modifiers_and_characters_are_refused() {
        assert!(refused("1d20x").contains("unknown dice modifier `x`"));
        assert!(refused("1d20 * 2").contains("unexpected `*`"));
        assert!(refused("1.5").contains("whole number"));
        assert!(refused("+1d20").contains("at the start"));
    }

    #[test]
    fn keep_and_drop_counts_must_fit_the_dice() {
        assert!(refused("2d20kh3").contains("keeps 3 of only 2"));
        assert!(refused("2d20dl2").contains("leaving none"));
        assert!(refused("2d20kh0").contains("at least 1"));
    }
}
