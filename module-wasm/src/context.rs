//! The context budget of a `chat_request`: how many of the latest chat entries go to the
//! AI, and how large they may be, kept beside the encoder so the frame stays well under
//! the server's 64 KiB limit whatever the JS module collected.
//!
//! The JS module asks [`window`] how many entries to collect (the `contextMessages`
//! setting, clamped) and reduces each message to plain text; the core cuts long entries
//! and drops the oldest until the total fits.

use gold_box_protocol::text::trim;
use gold_box_protocol::{ChatEntry, JsonValue};

/// The entries a turn carries when the setting is missing or unreadable.
pub const DEFAULT_MESSAGES: usize = 15;
/// The most entries a turn carries, whatever the setting says.
pub const MAX_MESSAGES: usize = 50;
/// The longest content of one entry, in characters; longer content is cut with an
/// ellipsis.
pub const MAX_ENTRY_CHARS: usize = 2_000;
/// The budget for all entries' speaker and content, in UTF-8 bytes; the oldest entries
/// are dropped first (the latest one always stays).
pub const MAX_CONTEXT_BYTES: usize = 40_000;

/// How many of the latest entries to send, from the `contextMessages` setting: a number
/// (its fraction dropped), or a string holding one.
pub fn window(setting: Option<&JsonValue>) -> usize {
    let asked = match setting {
        Some(JsonValue::String(s)) => whole_part(s).unwrap_or(0),
        Some(JsonValue::Integer(i)) => u64::try_from(*i).unwrap_or(0),
        // `as` saturates: a huge float asks for the most.
        Some(JsonValue::Float(f)) if f.is_finite() && *f >= 1.0 => *f as u64,
        _ => 0,
    };
    if asked < 1 {
        DEFAULT_MESSAGES
    } else {
        usize::try_from(asked).map_or(MAX_MESSAGES, |asked| asked.min(MAX_MESSAGES))
    }
}

/// The whole part of a decimal number written as text (`" 20 "`, `"+7.9"`), or `None`
/// when the text is not one.
///
/// Read by hand rather than with `str::parse::<f64>`: Rust's float parser and its
/// tables are about 5 KB of .wasm, for a setting Foundry stores as a number anyway. What
/// that parser also took (exponents, `inf`, `NaN`) reads as unreadable here, so the
/// default applies (`1e2` asked for 50 entries before, `NaN` for none).
fn whole_part(text: &str) -> Option<u64> {
    let text = trim(text);
    let text = text.strip_prefix('+').unwrap_or(text);
    // One pass over the bytes (no `split_once`, no `parse`): digits, at most one point,
    // and at least one digit on either side of it. A whole part too large for `u64`
    // saturates: it asks for the most.
    let mut whole: u64 = 0;
    let mut digits = 0;
    let mut in_fraction = false;
    for byte in text.bytes() {
        match byte {
            b'0'..=b'9' => {
                digits += 1;
                if !in_fraction {
                    whole = whole
                        .saturating_mul(10)
                        .saturating_add(u64::from(byte - b'0'));
                }
            }
            b'.' if !in_fraction => in_fraction = true,
            _ => return None,
        }
    }
    if digits == 0 {
        return None;
    }
    Some(whole)
}

/// The entries that fit: the latest `count`, each cut to [`MAX_ENTRY_CHARS`], then the
/// oldest dropped until the total is within [`MAX_CONTEXT_BYTES`].
pub fn fit(entries: Vec<ChatEntry>, count: usize) -> Vec<ChatEntry> {
    // How many of the newest are kept, counted newest first by their size once cut; then
    // those are cut, in their order. (No `drain` of the front, no `reverse`, no indexing:
    // each was its own code in the .wasm.)
    let mut keep = 0;
    let mut total = 0;
    for entry in entries.iter().rev() {
        if keep == count {
            break;
        }
        let content = match cut_at(&entry.content) {
            Some(end) => end + '…'.len_utf8(),
            None => entry.content.len(),
        };
        let size = content + entry.speaker.len();
        // The newest entry is kept whatever its size.
        if total + size > MAX_CONTEXT_BYTES && keep > 0 {
            break;
        }
        total += size;
        keep += 1;
    }
    let first = entries.len() - keep;
    let mut kept = Vec::with_capacity(keep);
    for (at, mut entry) in entries.into_iter().enumerate() {
        if at >= first {
            if let Some(end) = cut_at(&entry.content) {
                entry.content.truncate(end);
                entry.content.push('…');
            }
            kept.push(entry);
        }
    }
    kept
}

/// Where `content` is cut when it is longer than [`MAX_ENTRY_CHARS`] characters: after
/// its first `MAX_ENTRY_CHARS - 1` (an ellipsis then follows). Characters are counted by
/// their first bytes (a UTF-8 continuation byte is `10xxxxxx`).
fn cut_at(content: &str) -> Option<usize> {
    let mut chars = 0;
    let mut end = None;
    for (at, byte) in content.bytes().enumerate() {
        if byte & 0xc0 != 0x80 {
            if chars == MAX_ENTRY_CHARS - 1 {
                end = Some(at);
            }
            chars += 1;
            if chars > MAX_ENTRY_CHARS {
                return end;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use gold_box_protocol::ChatKind;

    fn entry(content: &str) -> ChatEntry {
        ChatEntry {
            speaker: "Aria".into(),
            content: content.into(),
            kind: ChatKind::Chat,
            timestamp: 1,
        }
    }

    #[test]
    fn the_window_is_the_setting_clamped_with_a_default() {
        assert_eq!(window(None), DEFAULT_MESSAGES);
        assert_eq!(window(Some(&JsonValue::Integer(0))), DEFAULT_MESSAGES);
        assert_eq!(window(Some(&JsonValue::Float(7.9))), 7);
        assert_eq!(window(Some(&JsonValue::String("20".into()))), 20);
        assert_eq!(window(Some(&JsonValue::Integer(500))), MAX_MESSAGES);
        assert_eq!(window(Some(&JsonValue::Bool(true))), DEFAULT_MESSAGES);
        assert_eq!(window(Some(&JsonValue::Float(-3.0))), DEFAULT_MESSAGES);
        assert_eq!(window(Some(&JsonValue::Float(f64::NAN))), DEFAULT_MESSAGES);
        assert_eq!(window(Some(&JsonValue::Float(1e300))), MAX_MESSAGES);
        assert_eq!(window(Some(&JsonValue::Integer(-4))), DEFAULT_MESSAGES);
    }

    #[test]
    fn a_setting_given_as_text_is_read_as_a_decimal_number() {
        for (text, expected) in [
            ("20", 20),
            (" 20 ", 20),
            ("+7.9", 7),
            ("7.", 7),
            ("0.5", DEFAULT_MESSAGES),
            (".5", DEFAULT_MESSAGES),
            ("-5", DEFAULT_MESSAGES),
            ("99999999999999999999999", MAX_MESSAGES),
            ("18446744073709551616.5", MAX_MESSAGES),
            ("0012", 12),
            ("3.1.4", DEFAULT_MESSAGES),
            ("+", DEFAULT_MESSAGES),
            ("+.", DEFAULT_MESSAGES),
            ("\u{a0}9\u{3000}", 9),
            ("9 9", DEFAULT_MESSAGES),
            ("", DEFAULT_MESSAGES),
            (".", DEFAULT_MESSAGES),
            ("1e2", DEFAULT_MESSAGES),
            ("NaN", DEFAULT_MESSAGES),
            ("twenty", DEFAULT_MESSAGES),
        ] {
            assert_eq!(
                window(Some(&JsonValue::String(text.into()))),
                expected,
                "{text:?}"
            );
        }
    }

    /// The one-pass reading gives what `split_once` and `parse::<u64>` gave.
    #[test]
    fn the_number_in_text_reads_as_split_and_parse_read_it() {
        fn by_parse(text: &str) -> Option<u64> {
            let text = text.trim();
            let text = text.strip_prefix('+').unwrap_or(text);
            let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
            let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
            if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
                return None;
            }
            if whole.is_empty() {
                return Some(0);
            }
            Some(whole.parse::<u64>().unwrap_or(u64::MAX))
        }
        let pieces = [
            "",
            "0",
            "7",
            "12",
            "+",
            "-",
            ".",
            " ",
            "e",
            "\u{a0}",
            "99999999999",
        ];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let text = [a, b, c].concat();
                    assert_eq!(whole_part(&text), by_parse(&text), "{text:?}");
                }
            }
        }
    }

    #[test]
    fn only_the_latest_entries_are_kept() {
        let entries = (0..5).map(|i| entry(&i.to_string())).collect();
        let kept: Vec<String> = fit(entries, 2).into_iter().map(|e| e.content).collect();
        assert_eq!(kept, ["3", "4"]);
    }

    #[test]
    fn a_long_entry_is_cut_with_an_ellipsis_on_a_character_boundary() {
        let long = "é".repeat(MAX_ENTRY_CHARS + 10);
        let kept = fit(vec![entry(&long)], 1);
        assert_eq!(kept[0].content.chars().count(), MAX_ENTRY_CHARS);
        assert!(kept[0].content.ends_with('…'));
    }

    /// The cut by first bytes keeps what `chars().take(MAX_ENTRY_CHARS - 1)` kept, for
    /// one- to four-byte characters, around the limit.
    #[test]
    fn the_cut_keeps_the_same_characters_as_counting_chars() {
        for unit in ["a", "é", "☃", "😀", "aé☃😀"] {
            for extra in [0, 1, 2, 3, 7] {
                let chars = MAX_ENTRY_CHARS - 3 + extra;
                let text: String = unit.chars().cycle().take(chars).collect();
                let expected = if text.chars().count() > MAX_ENTRY_CHARS {
                    let mut kept: String = text.chars().take(MAX_ENTRY_CHARS - 1).collect();
                    kept.push('…');
                    kept
                } else {
                    text.clone()
                };
                assert_eq!(
                    fit(vec![entry(&text)], 1)[0].content,
                    expected,
                    "{unit} {chars}"
                );
            }
        }
    }

    /// Entries are kept newest first until one does not fit, and come back oldest first.
    #[test]
    fn the_entries_kept_are_the_newest_in_their_order() {
        let entries: Vec<ChatEntry> = ["a", "bb", "ccc", "dddd"].into_iter().map(entry).collect();
        let kept: Vec<String> = fit(entries.clone(), 3)
            .into_iter()
            .map(|e| e.content)
            .collect();
        assert_eq!(kept, ["bb", "ccc", "dddd"]);
        assert!(fit(entries, 0).is_empty());
        assert_eq!(fit(Vec::new(), 5).len(), 0);
    }

    #[test]
    fn the_oldest_entries_go_until_the_total_fits_and_the_latest_always_stays() {
        let big = "x".repeat(MAX_ENTRY_CHARS);
        let entries: Vec<ChatEntry> = (0..30).map(|_| entry(&big)).collect();
        let kept = fit(entries, 30);
        let total: usize = kept.iter().map(|e| e.content.len() + e.speaker.len()).sum();
        assert!(total <= MAX_CONTEXT_BYTES, "{total}");
        assert_eq!(kept.len(), MAX_CONTEXT_BYTES / (MAX_ENTRY_CHARS + 4));
    }
}
