//! One function per message type. Fast-path messages (`ping`, `roll_result`,
//! `settings_sync`, `combat_state`) are answered here, on the reader, and never wait
//! on the AI; slow-path messages are handed off the reader.

use super::codec::{self, Decoded};
use super::writer::Outbound;
use crate::state::AppState;
use gold_box_protocol::{
    ClientMessage, Empty, ErrorCode, ServerFrame, ServerMessage, SettingsAck, SettingsSync,
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
            message,
        });
    }
}

/// Acts on one decoded frame. A bad frame is answered with an error and affects only
/// itself.
pub fn handle(session: &Session, decoded: Decoded) {
    let frame = match decoded.frame {
        Ok(frame) => frame,
        Err(error) => {
            tracing::debug!(%error, "bad frame");
            session.send_error(error.code(), error.to_string(), decoded.request_id);
            return;
        }
    };
    let request_id = frame.request_id;
    match frame.message {
        ClientMessage::Connect(_) => session.send_error(
            ErrorCode::InvalidMessage,
            "already connected: connect is only the first frame",
            request_id,
        ),
        ClientMessage::Ping(Empty {}) => session.reply(request_id, ServerMessage::Pong(Empty {})),
        ClientMessage::SettingsSync(sync) => settings_sync(session, request_id, sync),
        ClientMessage::RollResult(_) => {
            // No roll is ever issued without the AI engine; every id is unknown.
            session.reply(
                request_id,
                ServerMessage::RollAck(gold_box_protocol::RollAck {
                    status: gold_box_protocol::RollAckStatus::Unknown,
                    error: None,
                }),
            )
        }
        ClientMessage::CombatState(_)
        | ClientMessage::ChatMessage(_)
        | ClientMessage::DiceRoll(_)
        | ClientMessage::CombatContext(_) => {}
        ClientMessage::ChatRequest(_) => session.send_error(
            ErrorCode::Internal,
            "the AI engine is not available in this build",
            request_id,
        ),
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
