//! An AI turn's life on the server: taking the AI slot, running the engine off the
//! connection's reader, giving the engine its tools (rolls through the browser, chat
//! messages), and reporting the end.
//!
//! A dropped socket does not end a turn: its output is kept in the client's session
//! record (see `clients`) and an unanswered roll is sent again on reconnect. What ends it
//! is the engine finishing (or panicking), a roll deadline, the client staying away
//! longer than the roll timeout, overflowing kept output, the GM's stop (`cancel`), no
//! progress for `--ai-stall-timeout-ms` (the stall watchdog), or the server stopping. In
//! every case the client is told (`ai_turn_complete`), and the AI slot is freed first,
//! so a client that asks for its next turn on hearing the end is never refused as busy.

use crate::ai::{
    KeptTurn, ToolFailure, ToolFailureKind, TurnOutcome, TurnProgress, TurnRequest, TurnTools,
};
use crate::ai_lock::{CurrentTurn, TurnGuard};
use crate::cancel::TurnStop;
use crate::clients::Delivery;
use crate::rolls::RollFailure;
use crate::state::AppState;
use futures_util::FutureExt;
use gold_box_protocol::{
    AiMessage, AiTurnComplete, ChatRequest, ChatResponse, Empty, ExecuteRoll, NarrationDelta,
    NarrationRegenerate, RollOutcome, RollRequest, ServerFrame, ServerMessage, TurnStatus,
};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tracing::Instrument;

/// What a turn does: answer a `chat_request`, or write a finished turn's narration again
/// (`narration_regenerate`, see `ai::regenerate`).
#[derive(Debug, Clone)]
pub enum Job {
    Turn(ChatRequest),
    Regenerate(NarrationRegenerate),
}

/// Starts a turn for `client_id`, or returns the turn that holds the AI.
pub fn start(
    state: &Arc<AppState>,
    client_id: &str,
    request_id: String,
    request: ChatRequest,
) -> Result<(), CurrentTurn> {
    start_job(state, client_id, request_id, Job::Turn(request))
}

/// Starts `job` as a turn for `client_id`, or returns the turn that holds the AI.
pub fn start_job(
    state: &Arc<AppState>,
    client_id: &str,
    request_id: String,
    request: Job,
) -> Result<(), CurrentTurn> {
    let guard = state.ai.try_acquire(client_id, &request_id)?;
    state.metrics.turn_started();
    state.clients.turn_started(client_id);
    state.turn_fates.started(client_id, &request_id);
    let span = tracing::info_span!("turn", %client_id, %request_id);
    state.turn_tasks.spawn(
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
    job: Job,
) {
    let started = Instant::now();
    let settings = state.clients.settings(&client_id);
    let keep_as = match &job {
        Job::Turn(request) => {
            if settings.revision.unwrap_or(0) < request.settings_revision {
                tracing::warn!(
                    held = ?settings.revision,
                    requested = request.settings_revision,
                    "the turn starts with older settings than the client synced"
                );
            }
            request_id.clone()
        }
        // A regeneration keeps the conversation under the turn it writes again.
        Job::Regenerate(regenerate) => regenerate.turn.clone(),
    };
    let stop = guard.stop();
    let progress = TurnProgress::new();
    let tools = TableTools {
        state: state.clone(),
        client_id: client_id.clone(),
        request_id: request_id.clone(),
        keep_as,
        overflowed: AtomicBool::new(false),
        overflow: Notify::new(),
        stop: stop.clone(),
        progress: progress.clone(),
    };
    tools.send(ServerMessage::AiTurnStarted(Empty {}));
    let mut stopping = state.shutdown.clone();
    let ended_early = |error: &str| TurnOutcome {
        status: TurnStatus::Failed,
        error: Some(error.to_owned()),
        iterations: 0,
        duration_ms: millis(started.elapsed()),
    };
    let work = async {
        match job {
            Job::Turn(request) => {
                tracing::info!(messages = request.messages.len(), "AI turn started");
                let turn = TurnRequest {
                    request_id: request_id.clone(),
                    client_id: client_id.clone(),
                    messages: request.messages,
                    settings: settings.values,
                    context: state.clients.context(&client_id),
                };
                state.engine.run_turn(&tools, turn).await
            }
            Job::Regenerate(regenerate) => {
                tracing::info!(turn = %regenerate.turn, "narration regeneration started");
                match state.kept_turns.get(&regenerate.turn) {
                    Some(kept) => {
                        state
                            .engine
                            .regenerate(&tools, kept, regenerate.note.as_deref())
                            .await
                    }
                    None => ended_early(&format!(
                        "the conversation of turn {} is not kept (discarded, older than \
                         --regenerate-keep-ms, or beyond --regenerate-keep-turns): its \
                         narration cannot be written again without rolling again",
                        regenerate.turn
                    )),
                }
            }
        }
    };
    let engine = AssertUnwindSafe(work).catch_unwind();
    let stall_limit = state.config.ai.stall_timeout();
    let mut outcome = tokio::select! {
        // The stop comes first: a roll it withdrew fails the engine's wait at the same
        // moment, and that failure must not be taken for the turn's own end.
        biased;
        () = stop.requested() => TurnOutcome {
            status: TurnStatus::Cancelled,
            ..ended_early("stopped by the GM")
        },
        outcome = engine => outcome.unwrap_or_else(|panic| {
            let reason = panic_message(panic.as_ref());
            tracing::error!(%reason, "the AI turn panicked");
            state.metrics.record_error(format!("AI turn panicked: {reason}"));
            ended_early(&format!("internal error in the AI turn: {reason}"))
        }),
        () = tools.overflow.notified() => ended_early("output queue full"),
        () = gone_too_long(state.clients.presence(&client_id), state.config.roll_timeout()) => TurnOutcome {
            status: TurnStatus::Timeout,
            ..ended_early("the client was away longer than the roll timeout")
        },
        _ = stopping.wait_for(|stop| *stop) => ended_early("the server is shutting down"),
        () = progress.stalled(stall_limit) => ended_early(&stalled_reason(&state, stall_limit)),
    };
    if tools.overflowed.load(Ordering::Relaxed) {
        outcome = ended_early("output queue full");
    }
    let duration = started.elapsed();
    // Counted whatever the end: a stopped or failed turn still spent what it spent.
    let spent = progress.usage();
    let (usage, session_usage) = state.usage.record_turn(spent);
    state.metrics.tokens_used(
        state.usage.provider(),
        state.usage.model(),
        spent,
        state.usage.cost(spent),
    );
    // Free before the client hears of the end: its next chat_request must find the slot free.
    drop(guard);
    // Recorded before the end is sent: a client that reconnects on hearing it must not
    // be told the turn still runs.
    state
        .turn_fates
        .ended(&client_id, &request_id, outcome.status);
    state.metrics.turn_finished(outcome.status, duration);
    tools.finish(AiTurnComplete {
        status: outcome.status,
        error: outcome.error.clone(),
        iterations: outcome.iterations,
        duration_ms: millis(duration),
        usage: Some(usage),
        session_usage: Some(session_usage),
    });
    state.clients.turn_ended(&client_id, &request_id);
    tracing::info!(status = ?outcome.status, error = ?outcome.error, iterations = outcome.iterations, "AI turn ended");
}

/// Why a stalled turn ended, in words the GM can act on.
fn stalled_reason(state: &AppState, limit: Duration) -> String {
    format!(
        "the AI made no progress for {} ms (no answer from the {} provider, no tool call; \
         --ai-stall-timeout-ms): the provider may be overloaded or unreachable; check it \
         and retry",
        limit.as_millis(),
        state.engine.provider_name()
    )
}

/// Tells the client its `chat_request` was refused, as a session frame of a turn that
/// ends as it starts (so a client that resumes hears of it even across a cut).
pub fn refuse(state: &AppState, client_id: &str, refusal: ServerFrame) {
    let Some(request_id) = refusal.request_id.clone() else {
        return;
    };
    state.clients.turn_started(client_id);
    if state
        .clients
        .deliver(client_id, &request_id, refusal, state.clients.kept_limit())
        == Delivery::Full
    {
        tracing::warn!(%request_id, "the refusal of a turn could not be kept for the client");
    }
    state.clients.turn_ended(client_id, &request_id);
}

/// The text of a panic's payload (a `&str` or a `String`, as `panic!` makes them).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
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
    send_roll_request(state, client_id, &ticket, rolls);
    ticket.wait().await
}

/// Sends `execute_roll` for an issued request.
fn send_roll_request(
    state: &AppState,
    client_id: &str,
    ticket: &crate::rolls::RollTicket,
    rolls: Vec<RollRequest>,
) {
    let timeout = ticket.timeout;
    tracing::debug!(roll_request = %ticket.request_id, rolls = rolls.len(), "asking the table to roll");
    let frame = ServerFrame::new(ServerMessage::ExecuteRoll(ExecuteRoll {
        rolls,
        timeout_ms: millis(timeout),
    }))
    .with_request_id(ticket.request_id.clone())
    .with_timestamp(crate::now_ms());
    // Without a socket (or with one too slow to take it) the request waits in the
    // registry and is sent again on reconnect, with the time it has left.
    if state.clients.send_live(client_id, frame).is_err() {
        tracing::debug!("no connection took the roll request; it is sent on reconnect");
    }
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
    /// The turn a finished narration's conversation is kept under (for regeneration).
    keep_as: String,
    overflowed: AtomicBool,
    overflow: Notify,
    stop: Arc<TurnStop>,
    progress: TurnProgress,
}

impl TableTools {
    fn frame(&self, message: ServerMessage) -> ServerFrame {
        ServerFrame::new(message)
            .with_request_id(self.request_id.clone())
            .with_timestamp(crate::now_ms())
    }

    /// Sends turn output, keeping one slot of kept frames free for `ai_turn_complete`.
    fn send(&self, message: ServerMessage) {
        let limit = self.state.clients.kept_limit().saturating_sub(1);
        if self.deliver(message, limit) == Delivery::Full
            && !self.overflowed.swap(true, Ordering::Relaxed)
        {
            tracing::warn!("the client's kept turn output is full; ending the turn");
            self.overflow.notify_one();
        }
    }

    fn finish(&self, complete: AiTurnComplete) {
        let limit = self.state.clients.kept_limit();
        if self.deliver(ServerMessage::AiTurnComplete(complete), limit) == Delivery::Full {
            tracing::warn!("ai_turn_complete could not be kept for the client");
        }
    }

    fn deliver(&self, message: ServerMessage, limit: usize) -> Delivery {
        self.state.clients.deliver(
            &self.client_id,
            &self.request_id,
            self.frame(message),
            limit,
        )
    }
}

impl TurnTools for TableTools {
    async fn roll_dice(&self, rolls: Vec<RollRequest>) -> Result<Vec<RollOutcome>, ToolFailure> {
        let ticket = self.state.rolls.issue(
            &self.client_id,
            rolls.clone(),
            self.state.config.roll_timeout(),
        );
        if !self.stop.issued(&ticket.request_id) {
            // Stopping: never ask the table; the turn's task drops this future next.
            drop(ticket);
            return std::future::pending().await;
        }
        send_roll_request(&self.state, &self.client_id, &ticket, rolls);
        let _waiting = self.progress.waiting_on_table();
        ticket.wait().await.map_err(|failure| ToolFailure {
            kind: match failure {
                RollFailure::Timeout { .. } => ToolFailureKind::Timeout,
                RollFailure::ShuttingDown => ToolFailureKind::ShuttingDown,
            },
            message: failure.to_string(),
        })
    }

    async fn post_message(&self, message: AiMessage) {
        self.send(ServerMessage::ChatResponse(ChatResponse {
            message,
            stream: None,
        }));
    }

    /// Best-effort: to the live socket only, never kept (the `chat_response` that ends the
    /// stream is the session frame that carries the whole text).
    fn narration_delta(&self, delta: NarrationDelta) {
        let frame = self.frame(ServerMessage::NarrationDelta(delta));
        if self
            .state
            .clients
            .send_live(&self.client_id, frame)
            .is_err()
        {
            tracing::trace!("a narration preview found no socket; the chat_response follows");
        }
    }

    fn keep_turn(&self, kept: KeptTurn) {
        self.state.kept_turns.keep(&self.keep_as, kept);
    }

    async fn post_streamed(&self, message: AiMessage, stream: u32) {
        self.send(ServerMessage::ChatResponse(ChatResponse {
            message,
            stream: Some(stream),
        }));
    }

    fn progress(&self) -> TurnProgress {
        self.progress.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ai::AiEngine;
    use crate::ai::provider::scripted::Scripted;
    use crate::config::Config;
    use crate::link::Link;
    use crate::secrets::Secrets;
    use gold_box_protocol::{ChatEntry, ChatKind};

    /// The state, and the stop signal's sender (dropping it reads as a stop).
    fn state(engine: AiEngine) -> (Arc<AppState>, watch::Sender<bool>) {
        let dir = std::env::temp_dir().join(format!("gold-box-turns-{}", std::process::id()));
        let config = Config::from_args(["--token", "t", "--admin-token", "a"]).expect("valid");
        let secrets = Secrets::load(&dir, Some("t"), Some("a")).expect("secrets");
        let (stop, stopped) = watch::channel(false);
        let state = Arc::new(AppState::new(
            config,
            engine,
            secrets,
            Vec::new(),
            "http://127.0.0.1:1".into(),
            None,
            stopped,
        ));
        (state, stop)
    }

    fn request() -> ChatRequest {
        ChatRequest {
            messages: vec![ChatEntry {
                speaker: "Aria".into(),
                content: "Hello".into(),
                kind: ChatKind::Chat,
                timestamp: 0,
            }],
            settings_revision: 0,
        }
    }

    #[tokio::test]
    async fn a_panicking_provider_ends_the_turn_as_failed_for_the_client_and_frees_the_slot() {
        let (state, _stop) = state(AiEngine::scripted(vec![Scripted::Panic("provider bug")]));
        let (link, mut receiver) = Link::new(1, 16);
        state.clients.attach("a", link, None, &state.instance, |_| {
            ServerFrame::new(ServerMessage::Pong(Empty {}))
        });
        start(&state, "a", "t1".into(), request()).expect("the slot is free");
        let mut complete = None;
        while let Some(frame) = tokio::time::timeout(Duration::from_secs(5), receiver.queue.recv())
            .await
            .expect("the client hears of the turn")
        {
            if let ServerMessage::AiTurnComplete(done) = frame.message {
                complete = Some(done);
                break;
            }
        }
        let complete = complete.expect("ai_turn_complete");
        assert_eq!(complete.status, TurnStatus::Failed);
        let error = complete.error.unwrap_or_default();
        assert!(error.contains("provider bug"), "{error}");
        assert!(!state.ai.is_busy(), "the AI slot is freed");
        assert_eq!(state.metrics.ai_processing().failed_requests, 1);
    }
}
