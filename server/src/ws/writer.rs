//! The writing half of a connection: one task drains the link's bounded queue into the
//! socket, so that nothing else ever waits on a slow peer's socket.
//!
//! It stops as soon as a close is asked for (the signal is outside the queue), writing
//! what is still queued first only for a clean stop, and every write is bounded by the
//! write timeout, so a frozen peer cannot hold the task.
//!
//! Every heartbeat it also sends a WebSocket ping. A browser answers it in its network
//! stack, not in the page's script, so a live client keeps its connection through the
//! reader's idle timeout even when its own `ping`s come late (a hidden tab's timers are
//! throttled to about one a minute), while a dead peer sends nothing and is let go.

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
    let heartbeat = Duration::from_millis(state.config.heartbeat_ms);
    let mut pings = tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
    pings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = closing.cancelled() => break,
            _ = pings.tick() => {
                let ping = sink.send(Message::Ping(Default::default()));
                if !matches!(tokio::time::timeout(write_timeout, ping).await, Ok(Ok(()))) {
                    link.close(close_code::TIMED_OUT, "write timed out", false);
                    break;
                }
            }
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
