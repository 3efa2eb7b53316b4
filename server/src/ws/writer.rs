//! The writing half of a connection: one task drains the link's bounded queue into the
//! socket, so that nothing else ever waits on a slow peer's socket.
//!
//! It stops as soon as a close is asked for (the signal is outside the queue), writing
//! what is still queued first only for a clean stop, and every write is bounded by the
//! write timeout, so a frozen peer cannot hold the task.

use super::codec;
use crate::link::{LinkReceiver, close_code};
use crate::state::AppState;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::SinkExt;
use futures_util::stream::SplitSink;
use gold_box_protocol::ServerFrame;
use std::sync::Arc;
use std::time::Duration;

type Sink = SplitSink<WebSocket, Message>;

pub async fn run(mut sink: Sink, mut link: LinkReceiver, state: Arc<AppState>) {
    let write_timeout = state.config.write_timeout();
    let closing = link.close_token();
    loop {
        tokio::select! {
            biased;
            () = closing.cancelled() => break,
            frame = link.queue.recv() => match frame {
                Some(frame) => {
                    if let Err(failure) = write(&mut sink, &state, frame, write_timeout).await {
                        link.close(failure.code(), failure.reason(), false);
                        break;
                    }
                }
                None => break,
            },
        }
    }
    let request = link.close_request();
    if request.as_ref().is_some_and(|r| r.flush) {
        while let Ok(frame) = link.queue.try_recv() {
            if write(&mut sink, &state, frame, write_timeout)
                .await
                .is_err()
            {
                break;
            }
        }
    }
    if let Some(request) = request {
        let close = CloseFrame {
            code: request.code,
            reason: request.reason.into(),
        };
        let _ = tokio::time::timeout(write_timeout, sink.send(Message::Close(Some(close)))).await;
    }
    let _ = tokio::time::timeout(write_timeout, sink.close()).await;
}

enum WriteFailure {
    Failed,
    TimedOut,
}

impl WriteFailure {
    fn code(&self) -> u16 {
        match self {
            WriteFailure::Failed => close_code::GOING_AWAY,
            WriteFailure::TimedOut => close_code::TIMED_OUT,
        }
    }

    fn reason(&self) -> &'static str {
        match self {
            WriteFailure::Failed => "write failed",
            WriteFailure::TimedOut => "write timed out",
        }
    }
}

async fn write(
    sink: &mut Sink,
    state: &AppState,
    frame: ServerFrame,
    timeout: Duration,
) -> Result<(), WriteFailure> {
    state.metrics.sent(&frame.message);
    match tokio::time::timeout(
        timeout,
        sink.send(Message::Text(codec::encode(&frame).into())),
    )
    .await
    {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(WriteFailure::Failed),
        Err(_) => {
            tracing::info!("a write to the socket timed out; closing the connection");
            Err(WriteFailure::TimedOut)
        }
    }
}
