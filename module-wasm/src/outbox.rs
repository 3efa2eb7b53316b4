//! Effectively-once delivery of roll results (seed items 1.2 and 1.4, done right).
//!
//! An outcome is written to the outbox before it is first sent, and leaves it only when
//! the server answers (any `roll_ack` status or any HTTP status answer) or when its
//! deadline passes. In between it is sent over the WebSocket, waiting 500 ms for the ack
//! and retrying after 100, 200 and 400 ms, then over `POST /api/roll-result`, then again
//! after every reconnect. A socket known to be closed goes straight to HTTP.
//!
//! This module only decides; the machine turns its decisions into commands.

use gold_box_protocol::{RollOutcome, RollRequest, json_struct};

use crate::id_map::IdMap;

/// How long to wait for `roll_ack` after each WebSocket send.
pub const ACK_WAIT_MS: u64 = 500;
/// The pauses before the WebSocket retries; after the last one comes HTTP.
pub const RETRY_DELAYS_MS: [u64; 3] = [100, 200, 400];

/// An entry as browser storage keeps it: written when a roll starts (without results),
/// and again with its results before they are first sent.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRoll {
    pub request_id: String,
    /// Epoch milliseconds after which the server no longer takes the result.
    pub deadline_ms: u64,
    /// What was asked.
    pub rolls: Vec<RollRequest>,
    /// `None` while the roll is being made.
    pub results: Option<Vec<RollOutcome>>,
}

// Its JSON, as the serde derive wrote it before (entries stored by an older version of
// the module still read).
json_struct!(StoredRoll {
    request_id: req,
    deadline_ms: req,
    rolls: req,
    results: null,
});

/// One outcome waiting for the server's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    pub request_id: String,
    /// The outcomes, one per requested roll.
    pub results: Vec<RollOutcome>,
    /// Epoch milliseconds after which the server no longer takes the result.
    pub deadline_ms: u64,
}

/// Where an entry's delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Sent over the WebSocket (attempt `n`, 0-based); waiting for the ack.
    AwaitingAck(usize),
    /// Waiting to send WebSocket attempt `n`.
    Backoff(usize),
    /// A `POST /api/roll-result` is in flight.
    Posting,
    /// No way to deliver now; waiting for the next connection.
    Parked,
}

/// What to do for one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send the `roll_result` frame, then wait `ACK_WAIT_MS` for its ack.
    SendFrame,
    /// Wait this long, then ask again (`on_timer`).
    Wait(u64),
    /// POST the result over HTTP.
    Post,
    /// Nothing until something changes.
    Idle,
}

#[derive(Debug, Clone, PartialEq)]
struct Slot {
    entry: OutboxEntry,
    phase: Phase,
}

/// The entries not yet answered by the server.
#[derive(Debug, Default)]
pub struct Outbox {
    slots: IdMap<Slot>,
}

impl Outbox {
    pub fn contains(&self, request_id: &str) -> bool {
        self.slots.contains_key(request_id)
    }

    pub fn entry(&self, request_id: &str) -> Option<&OutboxEntry> {
        self.slots.get(request_id).map(|s| &s.entry)
    }

    pub fn phase(&self, request_id: &str) -> Option<Phase> {
        self.slots.get(request_id).map(|s| s.phase)
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Adds an entry and starts its delivery.
    pub fn add(&mut self, entry: OutboxEntry, socket_open: bool) -> Step {
        let id = entry.request_id.clone();
        self.slots.insert(
            id.clone(),
            Slot {
                entry,
                phase: Phase::Parked,
            },
        );
        self.start(&id, socket_open)
    }

    /// (Re)starts delivery: over the socket when it is open, else over HTTP.
    pub fn start(&mut self, request_id: &str, socket_open: bool) -> Step {
        let Some(slot) = self.slots.get_mut(request_id) else {
            return Step::Idle;
        };
        if socket_open {
            slot.phase = Phase::AwaitingAck(0);
            Step::SendFrame
        } else {
            slot.phase = Phase::Posting;
            Step::Post
        }
    }

    /// The entry's timer fired: the ack wait or the pause before a retry ended.
    pub fn on_timer(&mut self, request_id: &str, socket_open: bool) -> Step {
        let Some(slot) = self.slots.get_mut(request_id) else {
            return Step::Idle;
        };
        match slot.phase {
            Phase::AwaitingAck(attempt) if attempt < RETRY_DELAYS_MS.len() => {
                slot.phase = Phase::Backoff(attempt + 1);
                Step::Wait(RETRY_DELAYS_MS[attempt])
            }
            Phase::Backoff(attempt) if socket_open => {
                slot.phase = Phase::AwaitingAck(attempt);
                Step::SendFrame
            }
            Phase::AwaitingAck(_) | Phase::Backoff(_) => {
                slot.phase = Phase::Posting;
                Step::Post
            }
            Phase::Posting | Phase::Parked => Step::Idle,
        }
    }

    /// The socket closed: whatever waited on it goes to HTTP now.
    pub fn on_socket_closed(&mut self) -> Vec<(String, Step)> {
        // Plain loops, here and below: a `filter`/`map`/`collect` chain is compiled on
        // its own.
        let mut posts = Vec::new();
        for (id, slot) in self.slots.iter_mut() {
            if matches!(slot.phase, Phase::AwaitingAck(_) | Phase::Backoff(_)) {
                slot.phase = Phase::Posting;
                posts.push((id.clone(), Step::Post));
            }
        }
        posts
    }

    /// A new connection: parked entries are sent again.
    pub fn on_connected(&mut self) -> Vec<String> {
        let mut parked: Vec<String> = Vec::new();
        for (id, slot) in self.slots.iter() {
            if slot.phase == Phase::Parked {
                parked.push(id.clone());
            }
        }
        for id in &parked {
            self.start(id, true);
        }
        parked
    }

    /// The HTTP post failed without an answer from the server (network, 5xx, 401):
    /// the entry waits for the next connection.
    pub fn on_post_failed(&mut self, request_id: &str) {
        if let Some(slot) = self.slots.get_mut(request_id) {
            slot.phase = Phase::Parked;
        }
    }

    /// The server answered (an ack or an HTTP status), or the deadline passed.
    pub fn remove(&mut self, request_id: &str) -> Option<OutboxEntry> {
        self.slots.remove(request_id).map(|s| s.entry)
    }
}

/// Whether an HTTP status from `POST /api/roll-result` is the server's answer about the
/// result (the entry is done) rather than a failure to be tried again later.
pub fn http_status_answers(status: u16) -> bool {
    matches!(status, 200 | 400 | 403 | 404 | 410 | 413 | 415)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> OutboxEntry {
        OutboxEntry {
            request_id: id.into(),
            results: vec![],
            deadline_ms: 30_000,
        }
    }

    #[test]
    fn over_an_open_socket_the_result_is_sent_retried_three_times_then_posted() {
        let mut outbox = Outbox::default();
        assert_eq!(outbox.add(entry("r1"), true), Step::SendFrame);
        let mut steps = Vec::new();
        for _ in 0..8 {
            let step = outbox.on_timer("r1", true);
            steps.push(step.clone());
            if step == Step::Post {
                break;
            }
        }
        assert_eq!(
            steps,
            vec![
                Step::Wait(100),
                Step::SendFrame,
                Step::Wait(200),
                Step::SendFrame,
                Step::Wait(400),
                Step::SendFrame,
                Step::Post
            ]
        );
    }

    #[test]
    fn a_socket_known_closed_goes_straight_to_http() {
        let mut outbox = Outbox::default();
        assert_eq!(outbox.add(entry("r1"), false), Step::Post);
        assert_eq!(outbox.phase("r1"), Some(Phase::Posting));
    }

    #[test]
    fn a_socket_closing_during_the_retries_sends_the_waiting_results_to_http() {
        let mut outbox = Outbox::default();
        outbox.add(entry("r1"), true);
        outbox.add(entry("r2"), true);
        outbox.on_timer("r2", true);
        let moved = outbox.on_socket_closed();
        assert_eq!(
            moved,
            vec![("r1".into(), Step::Post), ("r2".into(), Step::Post)]
        );
    }

    #[test]
    fn a_failed_post_waits_for_the_next_connection_then_uses_the_socket() {
        let mut outbox = Outbox::default();
        outbox.add(entry("r1"), false);
        outbox.on_post_failed("r1");
        assert_eq!(outbox.phase("r1"), Some(Phase::Parked));
        assert_eq!(outbox.on_connected(), vec!["r1".to_owned()]);
        assert_eq!(outbox.phase("r1"), Some(Phase::AwaitingAck(0)));
    }

    #[test]
    fn a_retry_due_while_the_socket_is_down_is_posted() {
        let mut outbox = Outbox::default();
        outbox.add(entry("r1"), true);
        assert_eq!(outbox.on_timer("r1", true), Step::Wait(100));
        assert_eq!(outbox.on_timer("r1", false), Step::Post);
    }

    #[test]
    fn an_answered_entry_leaves_and_its_late_timer_does_nothing() {
        let mut outbox = Outbox::default();
        outbox.add(entry("r1"), true);
        assert!(outbox.remove("r1").is_some());
        assert!(outbox.is_empty());
        assert_eq!(
            outbox.on_timer("r1", true),
            Step::Idle,
            "a late timer does nothing"
        );
    }

    #[test]
    fn only_server_answers_end_an_http_delivery() {
        for status in [200, 400, 403, 404, 410, 413, 415] {
            assert!(http_status_answers(status), "{status}");
        }
        for status in [401, 429, 500, 502, 503] {
            assert!(!http_status_answers(status), "{status}");
        }
    }
}
