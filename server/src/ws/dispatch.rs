//! One function per message type. Fast-path messages (`ping`, `roll_result`,
//! `settings_sync`, `combat_state`) are answered here, on the reader, and never wait
//! on the AI; slow-path messages are handed off the reader.

use super::codec::{self, Decoded};
use super::writer::Outbound;
use crate::metrics::{INVALID_FRAME, Transport};
use crate::state::AppState;
use gold_box_protocol::{
    ChatRequest, ClientMessage, Empty, ErrorCode, RollAck, RollResult, ServerFrame, ServerMessage,
    SettingsAck, SettingsSync,
};
use std::sync::Arc;
use tokio::sync::mpsc;

/// What the handlers of one connection need.
#[derive(Debug)]
pub struct Session {
    pub client_id: String,
    pub outbound: mpsc::Sender<Outbound>,
    pub state: Arc<AppState>,
}

impl Session {
    /// Queues a frame without waiting. A full queue means the peer reads too slowly to
    /// keep up; its connection is closed rather than let the queue grow.
    pub fn send(&self, frame: ServerFrame) {
        if let Err(mpsc::error::TrySendError::Full(_)) =
            self.outbound.try_send(Outbound::Frame(frame))
        {
            tracing::warn!(client_id = %self.client_id, "send queue full; closing the connection");
            self.close(super::close_code::POLICY, "send queue full");
        }
    }

    pub fn send_error(
        &self,
        code: ErrorCode,
        message: impl Into<String>,
        request_id: Option<String>,
    ) {
        self.send(codec::error_frame(code, message, request_id));
    }

    /// Asks the writer to close the socket. A close that does not fit in the queue is
    /// dropped: the reader ending closes the socket anyway.
    pub fn close(&self, code: u16, reason: &str) {
        let _ = self.outbound.try_send(Outbound::Close {
            code,
            reason: reason.to_owned(),
        });
    }

    fn reply(&self, request_id: Option<String>, message: ServerMessage) {
        self.send(ServerFrame {
            request_id,
            timestamp: Some(crate::now_ms()),
            seq: None,
            message,
        });
    }
}

/// Acts on one decoded frame. A bad frame is answered with an error and affects only
/// itself.
pub fn handle(session: &Session, decoded: Decoded) {
    let metrics = &session.state.metrics;
    let frame = match decoded.frame {
        Ok(frame) => frame,
        Err(error) => {
            metrics.received(INVALID_FRAME);
            tracing::debug!(%error, "bad frame");
            session.send_error(error.code(), error.to_string(), decoded.request_id);
            return;
        }
    };
    metrics.received(frame.message.type_name());
    let request_id = frame.request_id;
    match frame.message {
        ClientMessage::Connect(_) => session.send_error(
            ErrorCode::InvalidMessage,
            "already connected: connect is only the first frame",
            request_id,
        ),
        ClientMessage::Ping(Empty {}) => session.reply(request_id, ServerMessage::Pong(Empty {})),
        // Session frames are not kept for acknowledgement yet: an ack changes nothing.
        ClientMessage::Ack(_) => {}
        ClientMessage::SettingsSync(sync) => settings_sync(session, request_id, sync),
        ClientMessage::RollResult(result) => roll_result(session, request_id, result),
        ClientMessage::CombatState(state) => session
            .state
            .clients
            .set_combat_state(&session.client_id, state),
        ClientMessage::ChatMessage(data)
        | ClientMessage::DiceRoll(data)
        | ClientMessage::CombatContext(data) => {
            let max = session.state.config.max_context_frames;
            session
                .state
                .clients
                .push_context(&session.client_id, data, max);
        }
        ClientMessage::ChatRequest(request) => chat_request(session, request_id, request),
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
    session
        .state
        .metrics
        .roll_result(Transport::Ws, &resolution);
    tracing::info!(%request_id, status = resolution.status.as_str(), "roll result over WebSocket");
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

/// The one slow-path message that starts work: the turn runs on its own task, so the
/// reader goes straight back to reading. A busy AI is refused at once.
fn chat_request(session: &Session, request_id: Option<String>, request: ChatRequest) {
    let Some(request_id) = request_id else { return };
    if let Err(current) = crate::turns::start(
        &session.state,
        &session.client_id,
        request_id.clone(),
        request,
    ) {
        session.state.metrics.turn_busy();
        session.send_error(
            ErrorCode::AiBusy,
            format!(
                "the AI is taking another turn ({} for {}); try again when it ends",
                current.request_id, current.client_id
            ),
            Some(request_id),
        );
    }
}
