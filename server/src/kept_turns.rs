//! The conversations of finished turns, kept so that a GM reviewing a narration can ask
//! for it again (`narration_regenerate`) without any die being rolled again.
//!
//! Bounded in count (`--regenerate-keep-turns`, the oldest forgotten first) and in age
//! (`--regenerate-keep-ms`, from the turn's latest narration); a `narration_discard` forgets
//! a turn at once. Keyed by the turn's `chat_request` id: any GM's client may regenerate or
//! discard it. In memory only, like the rest of the server's state.

use crate::ai::KeptTurn;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug)]
pub struct KeptTurns {
    entries: Mutex<VecDeque<(String, KeptTurn, Instant)>>,
    max_count: usize,
    max_age: Duration,
}

impl KeptTurns {
    pub fn new(max_count: usize, max_age: Duration) -> KeptTurns {
        KeptTurns {
            entries: Mutex::new(VecDeque::new()),
            max_count,
            max_age,
        }
    }

    /// Keeps (or keeps again, as the newest) the conversation of `turn`.
    pub fn keep(&self, turn: &str, kept: KeptTurn) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        entries.retain(|(id, _, _)| id != turn);
        entries.push_back((turn.to_owned(), kept, Instant::now()));
        while entries.len() > self.max_count {
            entries.pop_front();
        }
    }

    /// The conversation of `turn`, if it is still kept.
    pub fn get(&self, turn: &str) -> Option<KeptTurn> {
        let mut entries = self.entries.lock().ok()?;
        let max_age = self.max_age;
        entries.retain(|(_, _, at)| at.elapsed() <= max_age);
        entries
            .iter()
            .find(|(id, _, _)| id == turn)
            .map(|(_, kept, _)| kept.clone())
    }

    /// Forgets `turn` (the GM discarded its narration); whether it was kept.
    pub fn discard(&self, turn: &str) -> bool {
        let Ok(mut entries) = self.entries.lock() else {
            return false;
        };
        let before = entries.len();
        entries.retain(|(id, _, _)| id != turn);
        entries.len() != before
    }

    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ai::messages::{Message, TableView};

    fn kept(text: &str) -> KeptTurn {
        KeptTurn {
            messages: vec![Message::User(text.into())],
            table: TableView::default(),
            speaker: "Game Master",
        }
    }

    #[test]
    fn the_oldest_turn_is_forgotten_beyond_the_count() {
        let store = KeptTurns::new(2, Duration::from_secs(60));
        store.keep("t1", kept("1"));
        store.keep("t2", kept("2"));
        store.keep("t3", kept("3"));
        assert_eq!(store.len(), 2);
        assert!(store.get("t1").is_none());
        assert_eq!(store.get("t3"), Some(kept("3")));
        // Kept again: the newest, so t2 goes first.
        store.keep("t2", kept("2b"));
        store.keep("t4", kept("4"));
        assert!(store.get("t3").is_none());
        assert_eq!(store.get("t2"), Some(kept("2b")));
    }

    #[tokio::test(start_paused = true)]
    async fn a_turn_older_than_the_age_bound_is_forgotten() {
        let store = KeptTurns::new(8, Duration::from_millis(1_000));
        store.keep("t1", kept("1"));
        tokio::time::advance(Duration::from_millis(600)).await;
        store.keep("t2", kept("2"));
        tokio::time::advance(Duration::from_millis(600)).await;
        assert!(store.get("t1").is_none());
        assert!(store.get("t2").is_some());
    }

    #[test]
    fn a_discarded_turn_is_forgotten_at_once() {
        let store = KeptTurns::new(8, Duration::from_secs(60));
        store.keep("t1", kept("1"));
        assert!(store.discard("t1"));
        assert!(!store.discard("t1"));
        assert!(store.get("t1").is_none());
        assert!(store.is_empty());
    }
}
