//! The context budget of a `chat_request`: how many of the latest chat entries go to the
//! AI, and how large they may be, kept beside the encoder so the frame stays well under
//! the server's 64 KiB limit whatever the JS module collected.
//!
//! The JS module asks [`window`] how many entries to collect (the `contextMessages`
//! setting, clamped) and reduces each message to plain text; the core cuts long entries
//! and drops the oldest until the total fits.

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

/// How many of the latest entries to send, from the `contextMessages` setting.
pub fn window(setting: Option<&JsonValue>) -> usize {
    let asked = match setting {
        Some(JsonValue::String(s)) => s.trim().parse::<f64>().map_or(0.0, f64::trunc),
        Some(value) => value
            .as_f64()
            .filter(|n| n.is_finite())
            .map_or(0.0, f64::trunc),
        None => 0.0,
    };
    if asked < 1.0 {
        DEFAULT_MESSAGES
    } else {
        (asked as usize).min(MAX_MESSAGES)
    }
}

/// The entries that fit: the latest `count`, each cut to [`MAX_ENTRY_CHARS`], then the
/// oldest dropped until the total is within [`MAX_CONTEXT_BYTES`].
pub fn fit(entries: Vec<ChatEntry>, count: usize) -> Vec<ChatEntry> {
    let skip = entries.len().saturating_sub(count);
    let mut latest: Vec<ChatEntry> = entries.into_iter().skip(skip).map(cut).collect();
    let mut total = 0;
    let mut first = latest.len();
    while first > 0 {
        let entry = &latest[first - 1];
        let size = entry.content.len() + entry.speaker.len();
        if total + size > MAX_CONTEXT_BYTES && first < latest.len() {
            break;
        }
        total += size;
        first -= 1;
    }
    latest.drain(..first);
    latest
}

fn cut(mut entry: ChatEntry) -> ChatEntry {
    if entry.content.chars().count() > MAX_ENTRY_CHARS {
        let mut content: String = entry.content.chars().take(MAX_ENTRY_CHARS - 1).collect();
        content.push('…');
        entry.content = content;
    }
    entry
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
