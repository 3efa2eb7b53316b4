//! One connection's life: handshake, registration under its `client_id` (taking over
//! from an older connection of the same client), the read loop, and clean-up.
//!
//! The read loop ends on the link's close signal, on the server's stop, or when nothing
//! arrives within the idle timeout: a peer that vanished without closing (a laptop
//! asleep, Wi-Fi gone) sends no pings, so it is let go within a bound derived from the
//! heartbeat rather than counted as active forever.

use super::codec;
use super::dispatch::{self, Session};
use super::handshake::{self, Refusal};
use super::writer;
use crate::link::{Link, close_code};
use crate::state::AppState;
use axum::extract::ws::{Message, WebSocket};
use futures_util::StreamExt;
use futures_util::stream::SplitStream;
use gold_box_protocol::Connect;
use gold_box_protocol::{ErrorCode, ExecuteRoll, ServerFrame, ServerMessage};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub async fn run(socket: WebSocket, state: Arc<AppState>) {
    let connection_id = state.next_connection_id();
    let upgraded = tokio::time::Instant::now();
    state.metrics.upgrade();
    let (sink, mut stream) = socket.split();
    let (link, receiver) = Link::new(connection_id, state.config.connection_queue_frames());
    let closing = receiver.close_token();
    let writer = tokio::spawn(writer::run(sink, receiver, state.clone()));

    let handshake = tokio::select! {
        result = handshake::perform(&mut stream, &state) => result,
        () = state.closing_connections.cancelled() => Err(Refusal::going_away()),
    };
    match handshake {
        Ok(connect) => {
            let span =
                tracing::info_span!("connection", client_id = %connect.client_id, connection_id);
            serve(&state, stream, &link, closing, connect, upgraded)
                .instrument(span)
                .await;
        }
        Err(refusal) => {
            tracing::info!(connection_id, reason = refusal.reason, "handshake refused");
            state.metrics.handshake_failed(refusal.reason);
            refusal.send(&link);
        }
    }
    drop(link);
    let _ = writer.await;
}

/// A connection after its handshake: registered under its client id until it ends.
async fn serve(
    state: &Arc<AppState>,
    mut stream: SplitStream<WebSocket>,
    link: &Link,
    closing: CancellationToken,
    connect: Connect,
    upgraded: tokio::time::Instant,
) {
    let client_id = connect.client_id;
    let attached = state.clients.attach(
        &client_id,
        link.clone(),
        connect.resume.as_ref(),
        &state.instance,
        |resumed| handshake::connected_frame(state, &client_id, resumed),
    );
    state.metrics.connected(upgraded.elapsed());
    if let Some(old) = attached.replaced {
        tracing::info!(
            old_connection = old.id,
            "a new connection of this client takes over"
        );
        old.close(close_code::REPLACED, "replaced");
    }
    resend_unanswered_rolls(state, &client_id, link);
    tracing::info!(
        user = %connect.user.name,
        world = %connect.world.id,
        resumed = ?attached.resumed,
        "client connected"
    );

    let session = Session {
        client_id: client_id.clone(),
        link: link.clone(),
        state: state.clone(),
    };
    let idle = state.config.idle_timeout();
    loop {
        let message = tokio::select! {
            () = closing.cancelled() => break,
            () = state.closing_connections.cancelled() => {
                link.close_after_queue(close_code::GOING_AWAY, "server shutting down");
                break;
            }
            message = tokio::time::timeout(idle, stream.next()) => message,
        };
        let Ok(message) = message else {
            tracing::info!(
                idle_ms = idle.as_millis() as u64,
                "nothing received within the idle timeout; closing"
            );
            link.close(close_code::TIMED_OUT, "no frame within the idle timeout");
            break;
        };
        match message {
            None => {
                link.close(close_code::GOING_AWAY, "connection ended");
                break;
            }
            Some(Err(error)) => {
                let (code, reason) = close_for_read_error(&error);
                tracing::info!(%error, code, "connection read failed");
                link.close_after_queue(code, reason);
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
                    link.close_after_queue(close_code::TOO_BIG, "frame too large");
                    break;
                }
                dispatch::handle(&session, codec::decode(text.as_str()));
            }
            Some(Ok(Message::Binary(_))) => session.send_error(
                ErrorCode::InvalidMessage,
                "binary frames are not supported: send JSON text frames",
                None,
            ),
            Some(Ok(Message::Close(_))) => {
                link.close_after_queue(1000, "");
                break;
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
        }
    }

    state.clients.detach(&client_id, link.id);
    state.metrics.disconnected();
    tracing::info!("client disconnected");
}

/// Sends again every roll request of this client still waiting for a result, with the
/// time it has left (after a reconnect, or to the connection that took over). One that
/// does not fit the queue closes the link as too slow and is sent after the next
/// reconnect; it is never lost.
fn resend_unanswered_rolls(state: &AppState, client_id: &str, link: &Link) {
    for open in state.rolls.unanswered(client_id) {
        tracing::info!(request_id = %open.request_id, "sending an unanswered roll request again");
        let frame = ServerFrame::new(ServerMessage::ExecuteRoll(ExecuteRoll {
            rolls: open.rolls,
            timeout_ms: u64::try_from(open.time_left.as_millis()).unwrap_or(u64::MAX),
        }))
        .with_request_id(open.request_id)
        .with_timestamp(crate::now_ms());
        if link.send(frame).is_err() {
            break;
        }
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
