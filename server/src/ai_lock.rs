//! One AI turn at a time, server-wide (seed item 2.1).
//!
//! The lock is a slot, not a mutex held across the turn: taking it either succeeds at
//! once or tells the caller who holds it, so a second `chat_request` is refused with
//! AI_BUSY immediately instead of queueing. The slot is freed when the guard drops,
//! which covers completion, failure, timeout, panic and disconnect alike.

use crate::cancel::TurnStop;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// The turn in progress.
#[derive(Debug, Clone)]
pub struct CurrentTurn {
    pub client_id: String,
    /// The `chat_request`'s request_id.
    pub request_id: String,
    /// Epoch milliseconds.
    pub started_at_ms: u64,
    pub started: Instant,
    /// Stops this turn (`cancel_turn`).
    pub stop: Arc<TurnStop>,
}

/// The server-wide AI slot.
#[derive(Debug, Default)]
pub struct AiLock {
    current: Mutex<Option<CurrentTurn>>,
}

/// Holds the AI slot; dropping it frees the slot.
#[derive(Debug)]
pub struct TurnGuard {
    lock: Arc<AiLock>,
}

impl AiLock {
    fn slot(&self) -> MutexGuard<'_, Option<CurrentTurn>> {
        self.current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes the slot for this turn, or returns the turn that holds it.
    pub fn try_acquire(
        self: &Arc<Self>,
        client_id: &str,
        request_id: &str,
    ) -> Result<TurnGuard, CurrentTurn> {
        let mut slot = self.slot();
        if let Some(current) = slot.as_ref() {
            return Err(current.clone());
        }
        *slot = Some(CurrentTurn {
            client_id: client_id.to_owned(),
            request_id: request_id.to_owned(),
            started_at_ms: crate::now_ms(),
            started: Instant::now(),
            stop: Arc::default(),
        });
        Ok(TurnGuard { lock: self.clone() })
    }

    pub fn is_busy(&self) -> bool {
        self.slot().is_some()
    }

    pub fn current(&self) -> Option<CurrentTurn> {
        self.slot().clone()
    }
}

impl TurnGuard {
    /// The stop handle of the turn this guard holds the slot for.
    pub fn stop(&self) -> Arc<TurnStop> {
        self.lock
            .slot()
            .as_ref()
            .map(|current| current.stop.clone())
            .unwrap_or_default()
    }
}

impl Drop for TurnGuard {
    fn drop(&mut self) {
        *self.lock.slot() = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_turn_is_refused_with_the_holder_named() {
        let lock = Arc::new(AiLock::default());
        let guard = lock.try_acquire("a", "r1").expect("first turn");
        let holder = lock.try_acquire("b", "r2").expect_err("second turn");
        assert_eq!(
            (holder.client_id.as_str(), holder.request_id.as_str()),
            ("a", "r1")
        );
        assert!(lock.is_busy());
        drop(guard);
        assert!(!lock.is_busy());
        assert!(lock.try_acquire("b", "r2").is_ok());
    }
}
