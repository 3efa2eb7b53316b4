//! Stopping a running AI turn at the GM's word (`cancel_turn`).
//!
//! A turn is stopped by dropping its future, not by asking it to stop: the turn's task
//! selects on its [`TurnStop`] token, and when that fires it drops the engine's future
//! wherever it waits. Dropping is what makes the stop prompt and complete whatever the
//! engine was doing: an in-flight provider request (plain or streamed) is dropped with
//! its connection, a roll wait drops its ticket, and nothing the engine had not yet
//! posted can be posted after. The turn then ends like any other (the AI slot freed
//! first, then `ai_turn_complete` with status `cancelled`).
//!
//! The rolls the turn asked for and has not had answered are withdrawn here, on the
//! reader, before the token fires: each is laid as an expired tombstone (so a result
//! sent later is answered `expired` and never applied) and the client is told with
//! `roll_cancelled` (so a roll not yet made is not made).
//!
//! A cancel is idempotent and safe in any state: a turn that has ended, or never ran,
//! changes nothing and gets no answer (its `ai_turn_complete` is, or was, delivered as
//! a session frame); a cancel naming the running turn of another client is refused
//! with `FORBIDDEN`.

use crate::state::AppState;
use gold_box_protocol::{RollCancelled, ServerFrame, ServerMessage};
use std::sync::{Mutex, MutexGuard};
use tokio_util::sync::CancellationToken;

/// The stop handle of one running turn.
#[derive(Debug, Default)]
pub struct TurnStop {
    token: CancellationToken,
    /// Roll request ids the turn issued, in order.
    rolls: Mutex<Vec<String>>,
}

impl TurnStop {
    fn rolls(&self) -> MutexGuard<'_, Vec<String>> {
        self.rolls
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records a roll request of this turn before it is sent, so a stop can withdraw
    /// it; `false` when the turn is already stopping (the request must then not be
    /// sent). Checked under the same lock the stop drains, so no request slips between.
    pub fn issued(&self, roll_request_id: &str) -> bool {
        let mut rolls = self.rolls();
        if self.token.is_cancelled() {
            return false;
        }
        rolls.push(roll_request_id.to_owned());
        true
    }

    /// Resolves once the turn is asked to stop.
    pub async fn requested(&self) {
        self.token.cancelled().await;
    }

    pub fn is_requested(&self) -> bool {
        self.token.is_cancelled()
    }
}

/// What a `cancel_turn` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The turn was running and is stopping; this many rolls were withdrawn.
    Stopping { withdrawn: usize },
    /// No such turn is running (it ended, or never started): nothing to do.
    NotRunning,
    /// The running turn with that id belongs to another client.
    Forbidden,
}

/// Stops `client_id`'s running turn `request_id`, if it is running.
pub fn cancel(state: &AppState, client_id: &str, request_id: &str) -> CancelOutcome {
    let Some(current) = state.ai.current() else {
        return CancelOutcome::NotRunning;
    };
    if current.request_id != request_id {
        return CancelOutcome::NotRunning;
    }
    if current.client_id != client_id {
        return CancelOutcome::Forbidden;
    }
    let stop = &current.stop;
    // Fire first: the turn's task, biased to the stop, then never takes a withdrawn
    // roll's failure for the turn's own end.
    let first = !stop.token.is_cancelled();
    stop.token.cancel();
    let ids: Vec<String> = stop.rolls().drain(..).collect();
    let mut withdrawn = 0;
    for id in ids {
        if !state.rolls.withdraw(&id) {
            continue;
        }
        withdrawn += 1;
        let frame = ServerFrame::new(ServerMessage::RollCancelled(RollCancelled {
            reason: format!("the AI turn {request_id} was stopped"),
        }))
        .with_request_id(id)
        .with_timestamp(crate::now_ms());
        // Without a socket the client learns at reconnect: the request is no longer
        // sent again, and a result it had made is answered `expired`.
        let _ = state.clients.send_live(client_id, frame);
    }
    if first {
        tracing::info!(%request_id, withdrawn, "the GM stopped the AI turn");
    }
    CancelOutcome::Stopping { withdrawn }
}
