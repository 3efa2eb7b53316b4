//! Fitting the table's recent chat and state into the AI's context budget.
//!
//! A `chat_request` may carry more than a model should read (a long session, a pasted
//! handout), and a provider bills and slows down by the token. The budget is measured in
//! characters of the transcript as `prompts::chat_line` writes it: a cheap, deterministic
//! stand-in for tokens that needs no tokenizer per model.
//!
//! Decisions: the newest messages are kept (the turn answers the latest message); if the
//! newest message alone is over the budget it is cut rather than dropped, since a turn
//! without the message it answers would be nonsense. Table snapshots (combat state, scene)
//! get at most a quarter of the budget, the chat the rest.

use super::prompts::chat_line;
use super::tools::truncate_chars;
use gold_box_protocol::{ChatEntry, JsonValue};

/// The chat a turn is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundedChat {
    /// The newest messages that fit, oldest first.
    pub kept: Vec<ChatEntry>,
    /// How many older messages were left out.
    pub dropped: usize,
}

/// What a turn reads: the bounded chat and the table snapshots that fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundedContext {
    pub chat: BoundedChat,
    /// Compact JSON snapshots, newest last.
    pub table: Vec<String>,
}

/// The share of the budget table snapshots may use (1/4).
const TABLE_SHARE_DIVISOR: usize = 4;

/// Bounds both the chat and the table snapshots by `budget_chars` in all.
pub fn bound(
    chat: &[ChatEntry],
    max_messages: Option<usize>,
    table: &[JsonValue],
    budget_chars: usize,
) -> BoundedContext {
    let table = bound_table(table, budget_chars / TABLE_SHARE_DIVISOR);
    let table_cost: usize = table.iter().map(|s| s.chars().count() + 1).sum();
    let chat = bound_chat(chat, max_messages, budget_chars.saturating_sub(table_cost));
    BoundedContext { chat, table }
}

/// Keeps the newest messages whose transcript lines fit in `budget_chars` (and, when
/// given, at most `max_messages` of them: the client's `contextMessages` setting).
pub fn bound_chat(
    chat: &[ChatEntry],
    max_messages: Option<usize>,
    budget_chars: usize,
) -> BoundedChat {
    let limit = max_messages.unwrap_or(usize::MAX);
    let mut kept: Vec<ChatEntry> = Vec::new();
    let mut used = 0usize;
    for entry in chat.iter().rev() {
        if kept.len() >= limit {
            break;
        }
        let cost = line_cost(entry);
        if used + cost > budget_chars {
            if kept.is_empty() {
                kept.push(cut_to_fit(entry, budget_chars));
            }
            break;
        }
        used += cost;
        kept.push(entry.clone());
    }
    kept.reverse();
    BoundedChat {
        dropped: chat.len() - kept.len(),
        kept,
    }
}

/// The characters one entry costs in the transcript (its line and the newline).
pub fn line_cost(entry: &ChatEntry) -> usize {
    chat_line(entry).chars().count() + 1
}

/// `entry` with its content cut so that its line fits in `budget_chars`.
fn cut_to_fit(entry: &ChatEntry, budget_chars: usize) -> ChatEntry {
    let overhead = line_cost(&ChatEntry {
        content: String::new(),
        ..entry.clone()
    });
    let room = budget_chars.saturating_sub(overhead).max(1);
    ChatEntry {
        content: truncate_chars(&entry.content, room),
        ..entry.clone()
    }
}

/// The newest snapshots, as compact JSON, that fit in `budget_chars`; oldest first.
pub fn bound_table(table: &[JsonValue], budget_chars: usize) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    let mut used = 0usize;
    for snapshot in table.iter().rev() {
        let Ok(text) = serde_json::to_string(snapshot) else {
            continue;
        };
        let cost = text.chars().count() + 1;
        if used + cost > budget_chars {
            break;
        }
        used += cost;
        kept.push(text);
    }
    kept.reverse();
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use gold_box_protocol::ChatKind;
    use gold_box_protocol::JsonMap;

    fn entry(i: usize, content: &str) -> ChatEntry {
        ChatEntry {
            speaker: format!("P{i}"),
            content: content.to_owned(),
            kind: ChatKind::Chat,
            timestamp: i as u64,
        }
    }

    fn chat(n: usize) -> Vec<ChatEntry> {
        (0..n).map(|i| entry(i, &"x".repeat(40))).collect()
    }

    #[test]
    fn everything_is_kept_when_it_fits() {
        let bounded = bound_chat(&chat(5), None, 10_000);
        assert_eq!(bounded.kept, chat(5));
        assert_eq!(bounded.dropped, 0);
    }

    #[test]
    fn the_newest_messages_that_fit_are_kept_in_order() {
        let all = chat(10);
        let one = line_cost(&all[0]);
        let bounded = bound_chat(&all, None, one * 3 + one / 2);
        assert_eq!(bounded.kept, all[7..].to_vec());
        assert_eq!(bounded.dropped, 7);
    }

    #[test]
    fn the_message_count_setting_also_limits() {
        let bounded = bound_chat(&chat(10), Some(4), 10_000);
        assert_eq!(bounded.kept, chat(10)[6..].to_vec());
        assert_eq!(bounded.dropped, 6);
    }

    #[test]
    fn a_newest_message_over_the_budget_is_cut_not_dropped() {
        let all = vec![entry(0, "old"), entry(1, &"y".repeat(5_000))];
        let bounded = bound_chat(&all, None, 300);
        assert_eq!(bounded.kept.len(), 1);
        assert_eq!(bounded.kept[0].speaker, "P1");
        assert!(line_cost(&bounded.kept[0]) <= 300);
        assert!(bounded.kept[0].content.ends_with('…'));
        assert_eq!(bounded.dropped, 1);
    }

    #[test]
    fn table_snapshots_take_at_most_a_quarter_and_keep_the_newest() {
        let snapshot = |round: i64| {
            let mut map = JsonMap::new();
            map.insert("round".to_owned(), JsonValue::Integer(round));
            map.insert("pad".to_owned(), JsonValue::String("z".repeat(80)));
            JsonValue::Object(map)
        };
        let table: Vec<JsonValue> = (1..=10).map(snapshot).collect();
        let bounded = bound(&chat(3), None, &table, 1_000);
        let used: usize = bounded.table.iter().map(|s| s.len() + 1).sum();
        assert!(used <= 250, "{used}");
        assert!(!bounded.table.is_empty());
        assert!(
            bounded
                .table
                .last()
                .is_some_and(|s| s.contains("\"round\":10"))
        );
        assert_eq!(bounded.chat.dropped, 0);
    }
}
