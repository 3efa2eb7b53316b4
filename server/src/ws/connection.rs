//! One connection's life: handshake, registration under its `client_id` (taking over
//! from an older connection of the same client), the read loop, and clean-up.

use super::close_code;
use super::codec;
use super::dispatch::{self, Session};
use super::handshake;
use super::writer::{self, Outbound};
use crate::clients::Connection;
use crate::state::AppState;
use axum::extract::ws::{Message, WebSocket};
use futures_util::StreamExt;
use futures_util::stream::SplitStream;
use gold_box_protocol::Connect;
use gold_box_protocol::{ErrorCode, ExecuteRoll, ServerFrame, ServerMessage};
use std::sync::Arc;
use tokio::sync::mpsc;
use tracing::Instrument;

pub async fn run(socket: WebSocket, state: Arc<AppState>) {
    let connection_id = state.next_connection_id();
    let upgraded = tokio::time::Instant::now();
    state.metrics.upgrade();
    let (sink, mut stream) = socket.split();
    let (outbound, queue) = mpsc::channel(state.config.connection_queue_frames());
    let writer = tokio::spawn(writer::run(sink, queue, state.clone()));

    let connect = match handshake::perform(&mut stream, &outbound, &state).await {
        Ok(connect) => connect,
        Err(refusal) => {
            tracing::info!(connection_id, reason = refusal.reason, "handshake refused");
            state.metrics.handshake_failed(refusal.reason);
            refusal.send(&outbound).await;
            drop(outbound);
            let _ = writer.await;
            return;
        }
    };
    let span = tracing::info_span!("connection", client_id = %connect.client_id, connection_id);
    serve(state, stream, outbound, connect, connection_id, upgraded)
        .instrument(span)
        .await;
    let _ = writer.await;
}

/// A connection after its handshake: registered under its client id until it ends.
async fn serve(
    state: Arc<AppState>,
    mut stream: SplitStream<WebSocket>,
    outbound: mpsc::Sender<Outbound>,
    connect: Connect,
    connection_id: u64,
    upgraded: tokio::time::Instant,
) {
    let client_id = connect.client_id;
    let replaced = state.clients.attach(
        &client_id,
        Connection {
            id: connection_id,
            outbound: outbound.clone(),
        },
    );
    state.metrics.connected(upgraded.elapsed());
    if let Some(old) = replaced {
        tracing::info!(
            old_connection = old.id,
            "a new connection of this client takes over"
        );
        let _ = old.outbound.try_send(Outbound::Close {
            code: close_code::REPLACED,
            reason: "replaced".into(),
        });
    }
    resend_unanswered_rolls(&state, &client_id, &outbound);
    tracing::info!(user = %connect.user.name, world = %connect.world.id, "client connected");

    let session = Session {
        client_id: client_id.clone(),
        outbound: outbound.clone(),
        state: state.clone(),
    };
    let mut shutdown = state.shutdown.clone();
    loop {
        let message = tokio::select! {
            message = stream.next() => message,
            _ = shutdown.wait_for(|stopping| *stopping) => {
                session.close(close_code::GOING_AWAY, "server shutting down");
                break;
            }
        };
        match message {
            None => break,
            Some(Err(error)) => {
                let (code, reason) = close_for_read_error(&error);
                tracing::info!(%error, code, "connection read failed");
                session.close(code, reason);
                break;
            }
            Some(Ok(Message::Text(text))) => {
                if text.len() > state.config.max_frame_bytes {
                    session.send_error(
                        ErrorCode::PayloadTooLarge,
                        format!(
                            "frame of {} bytes is over the limit of {}",
                            text.len(),
                            state.config.max_frame_bytes
                        ),
                        None,
                    );
                    session.close(close_code::TOO_BIG, "frame too large");
                    break;
                }
                dispatch::handle(&session, codec::decode(text.as_str()));
            }
            Some(Ok(Message::Binary(_))) => session.send_error(
                ErrorCode::InvalidMessage,
                "binary frames are not supported: send JSON text frames",
                None,
            ),
            Some(Ok(Message::Close(_))) => break,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
        }
    }

    state.clients.detach(&client_id, connection_id);
    state.metrics.disconnected();
    drop(session);
    drop(outbound);
    tracing::info!("client disconnected");
}

/// Sends again every roll request of this client still waiting for a result, with the
/// time it has left (after a reconnect, or to the connection that took over).
fn resend_unanswered_rolls(state: &AppState, client_id: &str, outbound: &mpsc::Sender<Outbound>) {
    for open in state.rolls.unanswered(client_id) {
        tracing::info!(request_id = %open.request_id, "sending an unanswered roll request again");
        let frame = ServerFrame::new(ServerMessage::ExecuteRoll(ExecuteRoll {
            rolls: open.rolls,
            timeout_ms: u64::try_from(open.time_left.as_millis()).unwrap_or(u64::MAX),
        }))
        .with_request_id(open.request_id)
        .with_timestamp(crate::now_ms());
        let _ = outbound.try_send(Outbound::Frame(frame));
    }
}

/// The close code for a failed read: invalid UTF-8 is 1007, an over-long frame 1009.
fn close_for_read_error(error: &axum::Error) -> (u16, &'static str) {
    let text = error.to_string().to_ascii_lowercase();
    if text.contains("utf-8") || text.contains("utf8") {
        (close_code::INVALID_PAYLOAD, "text frame is not valid UTF-8")
    } else if text.contains("too long") || text.contains("too big") || text.contains("capacity") {
        (close_code::TOO_BIG, "frame too large")
    } else {
        (close_code::PROTOCOL_ERROR, "read failed")
    }
}
