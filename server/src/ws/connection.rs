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
use gold_box_protocol::ErrorCode;
use std::sync::Arc;
use tokio::sync::mpsc;

pub async fn run(socket: WebSocket, state: Arc<AppState>) {
    let connection_id = state.next_connection_id();
    let (sink, mut stream) = socket.split();
    let (outbound, queue) = mpsc::channel(state.config.send_queue_frames.max(1));
    let writer = tokio::spawn(writer::run(sink, queue));

    let connect = match handshake::perform(&mut stream, &outbound, &state).await {
        Ok(connect) => connect,
        Err(refusal) => {
            tracing::info!(connection_id, reason = refusal.reason, "handshake refused");
            refusal.send(&outbound).await;
            drop(outbound);
            let _ = writer.await;
            return;
        }
    };
    let client_id = connect.client_id;
    let span = tracing::info_span!("connection", %client_id, connection_id);
    let _enter = span.enter();

    let replaced = state.clients.attach(
        &client_id,
        Connection {
            id: connection_id,
            outbound: outbound.clone(),
        },
    );
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
    drop(session);
    drop(outbound);
    let _ = writer.await;
    tracing::info!("client disconnected");
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
