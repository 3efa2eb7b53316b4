//! What became of each client's latest AI turn, for `connected.turn`.
//!
//! A page reloaded in the middle of a turn has lost its memory of it; a client that was
//! away may have lost the turn's frames. On every handshake the server tells the client
//! its latest turn: running (with how long it has run), or how it ended. Only the latest
//! turn per client is kept, for a bounded number of clients (the oldest forgotten first),
//! so the record cannot grow with the clients a long-running server has seen.

use gold_box_protocol::{TurnFate, TurnFateStatus, TurnStatus};
use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

/// The most clients whose latest turn is remembered.
pub const MAX_REMEMBERED_CLIENTS: usize = 1024;

#[derive(Debug, Default)]
struct Inner {
    latest: HashMap<String, (String, Option<TurnStatus>)>,
    /// Client ids, oldest record first.
    order: VecDeque<String>,
}

/// The latest turn of each client.
#[derive(Debug, Default)]
pub struct TurnFates {
    inner: Mutex<Inner>,
}

impl TurnFates {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn set(&self, client_id: &str, request_id: &str, status: Option<TurnStatus>) {
        let mut inner = self.lock();
        if inner
            .latest
            .insert(client_id.to_owned(), (request_id.to_owned(), status))
            .is_none()
        {
            inner.order.push_back(client_id.to_owned());
        }
        while inner.order.len() > MAX_REMEMBERED_CLIENTS {
            if let Some(oldest) = inner.order.pop_front() {
                inner.latest.remove(&oldest);
            }
        }
    }

    pub fn started(&self, client_id: &str, request_id: &str) {
        self.set(client_id, request_id, None);
    }

    pub fn ended(&self, client_id: &str, request_id: &str, status: TurnStatus) {
        self.set(client_id, request_id, Some(status));
    }

    /// The client's latest turn; `elapsed_ms` is how long a running one has run.
    pub fn latest(
        &self,
        client_id: &str,
        elapsed_ms: impl FnOnce(&str) -> Option<u64>,
    ) -> Option<TurnFate> {
        let (request_id, status) = self.lock().latest.get(client_id).cloned()?;
        Some(match status {
            Some(status) => TurnFate {
                request_id,
                status: status.into(),
                elapsed_ms: None,
            },
            None => TurnFate {
                elapsed_ms: elapsed_ms(&request_id),
                request_id,
                status: TurnFateStatus::Running,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_turn_is_told_running_then_ended_and_old_clients_are_forgotten() {
        let fates = TurnFates::default();
        assert_eq!(fates.latest("a", |_| None), None);
        fates.started("a", "t1");
        let running = fates.latest("a", |_| Some(40)).expect("known");
        assert_eq!(
            (running.status, running.elapsed_ms),
            (TurnFateStatus::Running, Some(40))
        );
        fates.ended("a", "t1", TurnStatus::Cancelled);
        assert_eq!(
            fates.latest("a", |_| None).map(|f| f.status),
            Some(TurnFateStatus::Cancelled)
        );
        for n in 0..MAX_REMEMBERED_CLIENTS {
            fates.started(&format!("c{n}"), "t");
        }
        assert_eq!(
            fates.latest("a", |_| None),
            None,
            "the oldest client is forgotten"
        );
        assert!(fates.latest("c5", |_| None).is_some());
    }
}
