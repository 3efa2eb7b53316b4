//! The writing half of a connection: one task drains the connection's bounded queue
//! into the socket, so that nothing else ever waits on a slow peer's socket.

use super::codec;
use crate::state::AppState;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::SinkExt;
use futures_util::stream::SplitSink;
use gold_box_protocol::ServerFrame;
use std::sync::Arc;
use tokio::sync::mpsc;

/// What can be queued for a connection.
#[derive(Debug)]
pub enum Outbound {
    Frame(ServerFrame),
    /// Send a close frame with this code and reason, then stop writing.
    Close {
        code: u16,
        reason: String,
    },
}

pub async fn run(
    mut sink: SplitSink<WebSocket, Message>,
    mut queue: mpsc::Receiver<Outbound>,
    state: Arc<AppState>,
) {
    while let Some(item) = queue.recv().await {
        match item {
            Outbound::Frame(frame) => {
                state.metrics.sent(&frame.message);
                if sink
                    .send(Message::Text(codec::encode(&frame).into()))
                    .await
                    .is_err()
                {
                    break;
                }
            }
            Outbound::Close { code, reason } => {
                let close = CloseFrame {
                    code,
                    reason: reason.into(),
                };
                let _ = sink.send(Message::Close(Some(close))).await;
                break;
            }
        }
    }
    let _ = sink.close().await;
}
