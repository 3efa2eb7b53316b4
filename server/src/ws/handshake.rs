//! The handshake: the first frame must be a good `connect` within the deadline, or the
//! connection is closed with the code the protocol gives for what went wrong.

use super::codec;
use crate::link::{Link, close_code};
use crate::state::AppState;
use axum::extract::ws::{Message, WebSocket};
use futures_util::StreamExt;
use futures_util::stream::SplitStream;
use gold_box_protocol::{
    ClientMessage, Connect, Connected, ErrorCode, PROTOCOL_VERSION, Resumed, ServerFrame,
    ServerMessage,
};

/// The longest `client_id` accepted.
pub const MAX_CLIENT_ID_LEN: usize = 128;

/// How a handshake failed: an optional error frame, then a close.
#[derive(Debug)]
pub struct Refusal {
    pub error: Option<(ErrorCode, String)>,
    pub close_code: u16,
    pub reason: &'static str,
}

impl Refusal {
    fn policy(reason: &'static str) -> Self {
        Refusal {
            error: None,
            close_code: close_code::POLICY,
            reason,
        }
    }

    /// The server is stopping while this connection has not finished its handshake.
    pub fn going_away() -> Self {
        Refusal {
            error: None,
            close_code: close_code::GOING_AWAY,
            reason: "server shutting down",
        }
    }

    /// Queues the error frame, then the close.
    pub fn send(self, link: &Link) {
        if let Some((code, message)) = self.error {
            let _ = link.send(codec::error_frame(code, message, None));
        }
        link.close_after_queue(self.close_code, self.reason);
    }
}

/// Waits for `connect` and checks it. The `connected` answer is queued when the client
/// is attached (see [`connected_frame`]), together with what is replayed to it.
pub async fn perform(
    stream: &mut SplitStream<WebSocket>,
    state: &AppState,
) -> Result<Connect, Refusal> {
    let first = tokio::time::timeout(state.config.handshake_timeout(), next_text(stream))
        .await
        .map_err(|_| Refusal::policy("no connect frame in time"))?
        .ok_or_else(|| Refusal::policy("the first frame must be connect"))?;

    if first.len() > state.config.max_frame_bytes {
        return Err(Refusal {
            error: Some((
                ErrorCode::PayloadTooLarge,
                format!(
                    "frame of {} bytes is over the limit of {}",
                    first.len(),
                    state.config.max_frame_bytes
                ),
            )),
            close_code: close_code::TOO_BIG,
            reason: "frame too large",
        });
    }
    let connect = match codec::decode(&first).frame {
        Ok(frame) => match frame.message {
            ClientMessage::Connect(connect) => connect,
            _ => return Err(Refusal::policy("the first frame must be connect")),
        },
        Err(error) => {
            return Err(Refusal {
                error: Some((error.code(), error.to_string())),
                close_code: close_code::POLICY,
                reason: "the first frame must be connect",
            });
        }
    };

    if !state.secrets.client.matches(&connect.token) {
        return Err(Refusal {
            error: Some((
                ErrorCode::AuthFailed,
                "wrong or missing token: enter the token the server printed in the module settings"
                    .into(),
            )),
            close_code: close_code::POLICY,
            reason: "authentication failed",
        });
    }
    if connect.protocol != PROTOCOL_VERSION {
        return Err(Refusal {
            error: Some((
                ErrorCode::ProtocolUnsupported,
                format!(
                    "protocol {} is not supported; this server speaks protocol {PROTOCOL_VERSION}",
                    connect.protocol
                ),
            )),
            close_code: close_code::PROTOCOL_ERROR,
            reason: "protocol unsupported",
        });
    }
    if connect.client_id.is_empty() || connect.client_id.len() > MAX_CLIENT_ID_LEN {
        return Err(Refusal {
            error: Some((
                ErrorCode::InvalidMessage,
                format!("client_id must be 1 to {MAX_CLIENT_ID_LEN} characters"),
            )),
            close_code: close_code::POLICY,
            reason: "bad client_id",
        });
    }

    Ok(connect)
}

/// The handshake's answer, with what a resuming client's record holds.
pub fn connected_frame(state: &AppState, client_id: &str, resume: Option<Resumed>) -> ServerFrame {
    ServerFrame::new(ServerMessage::Connected(Connected {
        client_id: client_id.to_owned(),
        server_version: crate::SERVER_VERSION.into(),
        protocol: PROTOCOL_VERSION,
        heartbeat_ms: state.config.heartbeat_ms,
        roll_timeout_ms: state.config.roll_timeout_ms,
        instance: Some(state.instance.clone()),
        resume,
        max_turn_ms: Some(state.config.ai.max_turn_ms),
        turn: state.turn_fates.latest(client_id, |request_id| {
            state
                .ai
                .current()
                .filter(|turn| turn.request_id == request_id && turn.client_id == client_id)
                .map(|turn| u64::try_from(turn.started.elapsed().as_millis()).unwrap_or(u64::MAX))
        }),
    }))
    .with_timestamp(crate::now_ms())
}

/// The next text frame; `None` when the socket ends or the frame is not text (any frame
/// but `connect` before the handshake closes the connection).
async fn next_text(stream: &mut SplitStream<WebSocket>) -> Option<String> {
    loop {
        match stream.next().await? {
            Ok(Message::Text(text)) => return Some(text.to_string()),
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            Ok(_) | Err(_) => return None,
        }
    }
}
