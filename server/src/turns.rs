//! An AI turn's life on the server: taking the AI slot, running the engine off the
//! connection's reader, giving the engine its tools (rolls through the browser, chat
//! messages), and reporting the end.
//!
//! A dropped socket does not end a turn: its output waits in the client's backlog and
//! an unanswered roll is sent again on reconnect. What ends it is the engine finishing,
//! a roll deadline, the client staying away longer than the roll timeout, an overflowing
//! backlog, or the server stopping; in every case the AI slot is freed when the task's
//! guard drops.

use crate::ai::{ToolFailure, ToolFailureKind, TurnOutcome, TurnRequest, TurnTools};
use crate::ai_lock::{CurrentTurn, TurnGuard};
use crate::rolls::RollFailure;
use crate::state::AppState;
use crate::ws::Outbound;
use gold_box_protocol::{
    AiMessage, AiTurnComplete, ChatRequest, ChatResponse, Empty, ExecuteRoll, RollOutcome,
    RollRequest, ServerFrame, ServerMessage, TurnStatus,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tracing::Instrument;

/// Starts a turn for `client_id`, or returns the turn that holds the AI.
pub fn start(
    state: &Arc<AppState>,
    client_id: &str,
    request_id: String,
    request: ChatRequest,
) -> Result<(), CurrentTurn> {
    let guard = state.ai.try_acquire(client_id, &request_id)?;
    state.metrics.turn_started();
    let span = tracing::info_span!("turn", %client_id, %request_id);
    tokio::spawn(
        run(
            state.clone(),
            guard,
            client_id.to_owned(),
            request_id,
            request,
        )
        .instrument(span),
    );
    Ok(())
}

async fn run(
    state: Arc<AppState>,
    guard: TurnGuard,
    client_id: String,
    request_id: String,
    request: ChatRequest,
) {
    let started = Instant::now();
    let settings = state.clients.settings(&client_id);
    if settings.revision.unwrap_or(0) < request.settings_revision {
        tracing::warn!(
            held = ?settings.revision,
            requested = request.settings_revision,
            "the turn starts with older settings than the client synced"
        );
    }
    let tools = TableTools {
        state: state.clone(),
        client_id: client_id.clone(),
        request_id: request_id.clone(),
        overflowed: AtomicBool::new(false),
        overflow: Notify::new(),
    };
    tools.send(ServerMessage::AiTurnStarted(Empty {}));
    tracing::info!(messages = request.messages.len(), "AI turn started");
    let turn = TurnRequest {
        request_id: request_id.clone(),
        client_id: client_id.clone(),
        messages: request.messages,
        settings: settings.values,
        context: state.clients.context(&client_id),
    };
    let mut stopping = state.shutdown.clone();
    let ended_early = |error: &str| TurnOutcome {
        status: TurnStatus::Failed,
        error: Some(error.to_owned()),
        iterations: 0,
        duration_ms: millis(started.elapsed()),
    };
    let mut outcome = tokio::select! {
        outcome = state.engine.run_turn(&tools, turn) => outcome,
        () = tools.overflow.notified() => ended_early("output queue full"),
        () = gone_too_long(state.clients.presence(&client_id), state.config.roll_timeout()) => TurnOutcome {
            status: TurnStatus::Timeout,
            ..ended_early("the client was away longer than the roll timeout")
        },
        _ = stopping.wait_for(|stop| *stop) => ended_early("the server is shutting down"),
    };
    if tools.overflowed.load(Ordering::Relaxed) {
        outcome = ended_early("output queue full");
    }
    let duration = started.elapsed();
    tools.finish(AiTurnComplete {
        status: outcome.status,
        error: outcome.error.clone(),
        iterations: outcome.iterations,
        duration_ms: millis(duration),
    });
    state.metrics.turn_finished(outcome.status, duration);
    state.clients.turn_ended(&client_id);
    tracing::info!(status = ?outcome.status, error = ?outcome.error, iterations = outcome.iterations, "AI turn ended");
    drop(guard);
}

/// Asks `client_id`'s browser to roll and waits for the first valid result or the
/// deadline. This is the one path every roll request takes (the AI's tool, the load
/// tests), so what is measured is what the AI gets.
pub async fn request_rolls(
    state: &AppState,
    client_id: &str,
    rolls: Vec<RollRequest>,
    timeout: Duration,
) -> Result<Vec<RollOutcome>, RollFailure> {
    let ticket = state.rolls.issue(client_id, rolls.clone(), timeout);
    tracing::debug!(roll_request = %ticket.request_id, rolls = rolls.len(), "asking the table to roll");
    let frame = ServerFrame::new(ServerMessage::ExecuteRoll(ExecuteRoll {
        rolls,
        timeout_ms: millis(timeout),
    }))
    .with_request_id(ticket.request_id.clone())
    .with_timestamp(crate::now_ms());
    // Without a socket the request waits in the registry and is sent on reconnect.
    if let Some(connection) = state.clients.connection(client_id) {
        let _ = connection.outbound.try_send(Outbound::Frame(frame));
    }
    ticket.wait().await
}

/// Resolves once the client has been without a connection for `limit` in one stretch.
async fn gone_too_long(mut presence: watch::Receiver<bool>, limit: Duration) {
    loop {
        // The borrow guards `wait_for` returns are dropped at once, never held across
        // an await.
        let gone = presence.wait_for(|connected| !*connected).await.is_ok();
        if !gone {
            return std::future::pending().await;
        }
        let back = tokio::time::timeout(limit, presence.wait_for(|connected| *connected))
            .await
            .map(|waited| waited.is_ok());
        match back {
            Err(_) => return,
            Ok(true) => continue,
            Ok(false) => return std::future::pending().await,
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The engine's tools, bound to one turn of one client.
struct TableTools {
    state: Arc<AppState>,
    client_id: String,
    request_id: String,
    overflowed: AtomicBool,
    overflow: Notify,
}

impl TableTools {
    fn frame(&self, message: ServerMessage) -> ServerFrame {
        ServerFrame::new(message)
            .with_request_id(self.request_id.clone())
            .with_timestamp(crate::now_ms())
    }

    /// Sends turn output, keeping one backlog slot free for `ai_turn_complete`.
    fn send(&self, message: ServerMessage) {
        let limit = self.state.config.turn_output_queue_frames.saturating_sub(1);
        if self
            .state
            .clients
            .deliver(&self.client_id, self.frame(message), limit)
            .is_err()
            && !self.overflowed.swap(true, Ordering::Relaxed)
        {
            tracing::warn!("the client's turn output backlog is full; ending the turn");
            self.overflow.notify_one();
        }
    }

    fn finish(&self, complete: AiTurnComplete) {
        let limit = self.state.config.turn_output_queue_frames;
        let frame = self.frame(ServerMessage::AiTurnComplete(complete));
        if self
            .state
            .clients
            .deliver(&self.client_id, frame, limit)
            .is_err()
        {
            tracing::warn!("ai_turn_complete could not be kept for the client");
        }
    }
}

impl TurnTools for TableTools {
    async fn roll_dice(&self, rolls: Vec<RollRequest>) -> Result<Vec<RollOutcome>, ToolFailure> {
        request_rolls(
            &self.state,
            &self.client_id,
            rolls,
            self.state.config.roll_timeout(),
        )
        .await
        .map_err(|failure| ToolFailure {
            kind: match failure {
                RollFailure::Timeout { .. } => ToolFailureKind::Timeout,
                RollFailure::ShuttingDown => ToolFailureKind::ShuttingDown,
            },
            message: failure.to_string(),
        })
    }

    async fn post_message(&self, message: AiMessage) {
        self.send(ServerMessage::ChatResponse(ChatResponse { message }));
    }
}
