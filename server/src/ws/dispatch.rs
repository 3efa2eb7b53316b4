//! One function per message type. Fast-path messages (`ping`, `roll_result`,
//! `settings_sync`, `combat_state`, `ack`, `cancel_turn`) are answered here, on the reader, and never
//! wait on the AI; slow-path messages are handed off the reader.

use super::codec::{self, Decoded};
use crate::link::Link;
use crate::metrics::{INVALID_FRAME, Transport};
use crate::rolls::Resolution;
use crate::state::AppState;
use gold_box_protocol::{
    Ack, ClientMessage, Empty, ErrorCode, FrameError, RollAck, RollAckStatus, RollResult,
    ServerFrame, ServerMessage, SettingsAck, SettingsSync,
};
use std::sync::Arc;

/// What the handlers of one connection need.
#[derive(Debug)]
pub struct Session {
    pub client_id: String,
    pub link: Link,
    pub state: Arc<AppState>,
}

impl Session {
    /// Queues a reply on this connection. A full queue closes the connection as too
    /// slow (see `Link::send`); the client asks again after it reconnects.
    pub fn send(&self, frame: ServerFrame) {
        let _ = self.link.send(frame);
    }

    pub fn send_error(
        &self,
        code: ErrorCode,
        message: impl Into<String>,
        request_id: Option<String>,
    ) {
        self.send(codec::error_frame(code, message, request_id));
    }

    fn reply(&self, request_id: Option<String>, message: ServerMessage) {
        let mut frame = ServerFrame::new(message).with_timestamp(crate::now_ms());
        frame.request_id = request_id;
        self.send(frame);
    }
}

/// Acts on one decoded frame. A bad frame is answered with an error and affects only
/// itself.
pub fn handle(session: &Session, decoded: Decoded) {
    let metrics = &session.state.metrics;
    let frame = match decoded.frame {
        Ok(frame) => frame,
        Err(FrameError::InvalidData {
            type_name: "roll_result",
            reason,
        }) if decoded.request_id.is_some() => {
            // A result whose outcome has the wrong shape is still a result: it gets the
            // roll_ack the client's outbox waits for, not an error frame.
            metrics.received("roll_result");
            let request_id = decoded.request_id.unwrap_or_default();
            let resolution = Resolution::invalid(reason);
            acknowledge_roll(session, request_id, resolution, None);
            return;
        }
        Err(error) => {
            metrics.received(INVALID_FRAME);
            tracing::debug!(%error, "bad frame");
            session.send_error(error.code(), error.to_string(), decoded.request_id);
            return;
        }
    };
    metrics.received(frame.message.type_name());
    let request_id = frame.request_id;
    let state = &session.state;
    match frame.message {
        ClientMessage::Connect(_) => session.send_error(
            ErrorCode::InvalidMessage,
            "already connected: connect is only the first frame",
            request_id,
        ),
        ClientMessage::Ping(Empty {}) => session.reply(request_id, ServerMessage::Pong(Empty {})),
        ClientMessage::Ack(Ack { seq }) => state.clients.acknowledge(&session.client_id, seq),
        ClientMessage::SettingsSync(sync) => settings_sync(session, request_id, sync),
        ClientMessage::RollResult(result) => roll_result(session, request_id, result),
        ClientMessage::CombatState(data) => {
            if !state.clients.set_combat_state(&session.client_id, data) {
                tracing::warn!("a combat_state over --max-context-bytes was not kept");
            }
        }
        ClientMessage::ChatMessage(data)
        | ClientMessage::DiceRoll(data)
        | ClientMessage::CombatContext(data) => {
            if !state.clients.push_context(&session.client_id, data) {
                tracing::warn!("a context frame over --max-context-bytes was not kept");
            }
        }
        ClientMessage::ChatRequest(request) => {
            chat_request(session, request_id, crate::turns::Job::Turn(request))
        }
        ClientMessage::NarrationRegenerate(regenerate) => chat_request(
            session,
            request_id,
            crate::turns::Job::Regenerate(regenerate),
        ),
        ClientMessage::NarrationDiscard(discard) => {
            let kept = state.kept_turns.discard(&discard.turn);
            tracing::info!(turn = %discard.turn, kept, "the GM discarded a narration");
        }
        ClientMessage::CancelTurn(Empty {}) => cancel_turn(session, request_id),
    }
}

/// Stops the client's running turn. Idempotent: a turn that is not running (ended,
/// never started) gets no answer; only another client's turn is refused.
fn cancel_turn(session: &Session, request_id: Option<String>) {
    // The protocol crate refuses a cancel_turn without request_id before it gets here.
    let Some(request_id) = request_id else { return };
    match crate::cancel::cancel(&session.state, &session.client_id, &request_id) {
        crate::cancel::CancelOutcome::Forbidden => session.send_error(
            ErrorCode::Forbidden,
            format!("{request_id} is another client's turn"),
            Some(request_id),
        ),
        crate::cancel::CancelOutcome::Stopping { .. } => {}
        crate::cancel::CancelOutcome::NotRunning => {
            tracing::debug!(%request_id, "cancel_turn for a turn that is not running");
        }
    }
}

fn settings_sync(session: &Session, request_id: Option<String>, sync: SettingsSync) {
    let revision = session
        .state
        .clients
        .apply_settings(&session.client_id, sync);
    tracing::info!(revision, "settings synced");
    session.reply(
        request_id,
        ServerMessage::SettingsAck(SettingsAck { revision }),
    );
}

fn roll_result(session: &Session, request_id: Option<String>, result: RollResult) {
    // The protocol crate refuses a roll_result without request_id before it gets here.
    let Some(request_id) = request_id else { return };
    let (resolution, wakeup) =
        session
            .state
            .rolls
            .resolve(&session.client_id, &request_id, result.results);
    acknowledge_roll(session, request_id, resolution, wakeup);
}

fn acknowledge_roll(
    session: &Session,
    request_id: String,
    resolution: Resolution,
    wakeup: Option<crate::rolls::Wakeup>,
) {
    session
        .state
        .metrics
        .roll_result(Transport::Ws, &resolution);
    tracing::info!(%request_id, status = resolution.status.as_str(), "roll result over WebSocket");
    if resolution.status == RollAckStatus::Invalid {
        tracing::info!(error = ?resolution.error, "the roll result does not fit");
    }
    session.reply(
        Some(request_id),
        ServerMessage::RollAck(RollAck {
            status: resolution.status,
            error: resolution.error,
        }),
    );
    // Acknowledged first: the ack reaches the client before what the resumed turn sends.
    if let Some(wakeup) = wakeup {
        wakeup.wake();
    }
}

/// The slow-path messages that start work (`chat_request`, `narration_regenerate`): the
/// turn runs on its own task, so the reader goes straight back to reading. A busy AI is
/// refused at once, with a session frame, so that a client that resumes learns of the
/// refusal even across a cut.
fn chat_request(session: &Session, request_id: Option<String>, request: crate::turns::Job) {
    let Some(request_id) = request_id else { return };
    if !session
        .state
        .clients
        .take_turn_request(&session.client_id, &request_id)
    {
        // Sent again after a cut: the turn runs (or was refused) already, and its
        // session frames continue or are replayed.
        tracing::info!(%request_id, "a chat_request already taken; not started again");
        return;
    }
    // Checked only here, when a turn is asked for: a running turn always finishes.
    if let Some(reason) = session.state.usage.budget_refusal() {
        session.state.metrics.turn_over_budget();
        tracing::warn!(%request_id, %reason, "a turn refused: the AI budget is spent");
        let refusal = codec::error_frame(ErrorCode::BudgetExceeded, reason, Some(request_id));
        crate::turns::refuse(&session.state, &session.client_id, refusal);
        return;
    }
    if let Err(current) = crate::turns::start_job(
        &session.state,
        &session.client_id,
        request_id.clone(),
        request,
    ) {
        session.state.metrics.turn_busy();
        let refusal = codec::error_frame(
            ErrorCode::AiBusy,
            format!(
                "the AI is taking another turn ({} for {}); try again when it ends",
                current.request_id, current.client_id
            ),
            Some(request_id),
        );
        crate::turns::refuse(&session.state, &session.client_id, refusal);
    }
}
