//! A client's live connection as the rest of the server sees it: a bounded queue of
//! frames, and a close signal that lives outside that queue.
//!
//! Turns, roll requests and replies all send through [`Link::send`], which never waits:
//! a frame is queued, or the caller learns at once that it was not and keeps it (the
//! client's session record replays it after a reconnect). A peer that lets its queue
//! fill is closed as too slow. Closing never needs a free slot in the queue: the signal
//! is a cancellation token that the connection's reader and writer both select on, so a
//! frozen peer (half-open TCP, a full socket buffer) is let go at once.
//!
//! This module knows nothing of WebSockets; `ws::writer` drains a [`LinkReceiver`] into
//! a socket. That keeps the dependencies one way: ws → turns → clients → link.

use gold_box_protocol::ServerFrame;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Close codes the server uses (RFC 6455, and the protocol's own 4000 and 4002).
pub mod close_code {
    pub const GOING_AWAY: u16 = 1001;
    pub const PROTOCOL_ERROR: u16 = 1002;
    pub const INVALID_PAYLOAD: u16 = 1007;
    pub const POLICY: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
    pub const REPLACED: u16 = 4000;
    /// Nothing arrived within the idle timeout, or a write did not complete in time.
    pub const TIMED_OUT: u16 = 4002;
}

/// Why and how a link is to be closed; the first request wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseRequest {
    pub code: u16,
    pub reason: String,
    /// Write what is already queued first (a clean stop), or drop it (a dead or
    /// replaced peer).
    pub flush: bool,
}

#[derive(Debug, Default)]
struct CloseSignal {
    token: CancellationToken,
    request: Mutex<Option<CloseRequest>>,
}

impl CloseSignal {
    fn request(&self, request: CloseRequest) {
        let mut held = self.request.lock().unwrap_or_else(PoisonError::into_inner);
        if held.is_none() {
            *held = Some(request);
        }
        drop(held);
        self.token.cancel();
    }
}

/// The sending side of one connection. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Link {
    /// Unique for the server's lifetime.
    pub id: u64,
    queue: mpsc::Sender<ServerFrame>,
    close: Arc<CloseSignal>,
}

/// The connection's side: the queued frames and the close signal.
#[derive(Debug)]
pub struct LinkReceiver {
    pub queue: mpsc::Receiver<ServerFrame>,
    close: Arc<CloseSignal>,
}

/// Why a frame was not queued; the frame comes back to the caller (boxed: the error
/// path is rare, the `Ok` path should stay small).
#[derive(Debug)]
pub enum NotSent {
    /// The queue was full: the link is now closing as too slow.
    TooSlow(Box<ServerFrame>),
    /// The link is closed or closing.
    Closed(Box<ServerFrame>),
}

impl NotSent {
    pub fn into_frame(self) -> ServerFrame {
        match self {
            NotSent::TooSlow(frame) | NotSent::Closed(frame) => *frame,
        }
    }
}

impl Link {
    /// A link whose queue holds `capacity` frames.
    pub fn new(id: u64, capacity: usize) -> (Link, LinkReceiver) {
        let (queue, receiver) = mpsc::channel(capacity.max(1));
        let close = Arc::new(CloseSignal::default());
        (
            Link {
                id,
                queue,
                close: close.clone(),
            },
            LinkReceiver {
                queue: receiver,
                close,
            },
        )
    }

    /// Queues a frame without waiting. A full queue means the peer reads too slowly to
    /// keep up: the link is closed (1008) rather than let the queue grow.
    pub fn send(&self, frame: ServerFrame) -> Result<(), NotSent> {
        if self.is_closing() {
            return Err(NotSent::Closed(Box::new(frame)));
        }
        match self.queue.try_send(frame) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(frame)) => {
                tracing::warn!(
                    connection_id = self.id,
                    "send queue full; closing the connection"
                );
                self.close(close_code::POLICY, "send queue full");
                Err(NotSent::TooSlow(Box::new(frame)))
            }
            Err(mpsc::error::TrySendError::Closed(frame)) => Err(NotSent::Closed(Box::new(frame))),
        }
    }

    /// Closes at once, dropping whatever is still queued.
    pub fn close(&self, code: u16, reason: &str) {
        self.close.request(CloseRequest {
            code,
            reason: reason.to_owned(),
            flush: false,
        });
    }

    /// Closes after writing what is already queued (bounded by the write timeout).
    pub fn close_after_queue(&self, code: u16, reason: &str) {
        self.close.request(CloseRequest {
            code,
            reason: reason.to_owned(),
            flush: true,
        });
    }

    /// Whether a close was asked for.
    pub fn is_closing(&self) -> bool {
        self.close.token.is_cancelled()
    }
}

impl LinkReceiver {
    /// A token that is cancelled when a close is asked for (for the reader's select).
    pub fn close_token(&self) -> CancellationToken {
        self.close.token.clone()
    }

    /// The close asked for, if any.
    pub fn close_request(&self) -> Option<CloseRequest> {
        self.close
            .request
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Asks for a close from the connection's own side (a read error, a bad frame).
    pub fn close(&self, code: u16, reason: &str, flush: bool) {
        self.close.request(CloseRequest {
            code,
            reason: reason.to_owned(),
            flush,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gold_box_protocol::{Empty, ServerMessage};

    fn pong() -> ServerFrame {
        ServerFrame::new(ServerMessage::Pong(Empty {}))
    }

    #[test]
    fn a_full_queue_closes_the_link_as_too_slow_and_returns_the_frame() {
        let (link, receiver) = Link::new(1, 1);
        link.send(pong()).expect("room for one");
        assert!(matches!(link.send(pong()), Err(NotSent::TooSlow(_))));
        assert!(link.is_closing());
        assert_eq!(
            receiver.close_request().map(|r| (r.code, r.flush)),
            Some((close_code::POLICY, false))
        );
        assert!(matches!(link.send(pong()), Err(NotSent::Closed(_))));
    }

    #[test]
    fn closing_needs_no_room_in_the_queue_and_the_first_reason_wins() {
        let (link, receiver) = Link::new(1, 1);
        link.send(pong()).expect("fills the queue");
        link.close(close_code::REPLACED, "replaced");
        link.close_after_queue(close_code::GOING_AWAY, "shutting down");
        assert_eq!(
            receiver.close_request().map(|r| r.code),
            Some(close_code::REPLACED)
        );
    }
}
