//! Joins a provider's text deltas into `narration_delta` frames, at most one per interval
//! per stream, so that a model writing a token a millisecond cannot flood the socket.
//!
//! The provider hands deltas to [`Coalescer`] (a [`DeltaSink`]: it only records and wakes
//! the forwarder, never blocks); [`Coalescer::run`] forwards what gathered, at once for the
//! first piece and then no sooner than the interval after the last frame. It runs beside the
//! provider's call and is dropped with it: what is still pending then is not sent, because
//! the `chat_response` that follows carries the whole text.

use super::delta::{Delta, DeltaSink};
use gold_box_protocol::NarrationDelta;
use std::convert::Infallible;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

#[derive(Debug, Default)]
struct Pending {
    text: String,
    /// Characters already sent in this stream (the next frame's `offset`).
    sent_chars: u64,
    /// The text starts again: the next frame has offset 0.
    restart: bool,
}

/// Something told of every delta as it arrives (a stall watchdog's "still alive").
type DeltaHook = Box<dyn Fn() + Send + Sync>;

/// The deltas of one stream (one provider call) of a turn.
pub struct Coalescer {
    stream: u32,
    interval: Duration,
    pending: Mutex<Pending>,
    wake: Notify,
    saw_text: AtomicBool,
    on_delta: Option<DeltaHook>,
}

impl std::fmt::Debug for Coalescer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coalescer")
            .field("stream", &self.stream)
            .field("interval", &self.interval)
            .field("saw_text", &self.saw_text)
            .finish_non_exhaustive()
    }
}

impl Coalescer {
    pub fn new(stream: u32, interval: Duration) -> Coalescer {
        Coalescer {
            stream,
            interval,
            pending: Mutex::new(Pending::default()),
            wake: Notify::new(),
            saw_text: AtomicBool::new(false),
            on_delta: None,
        }
    }

    /// The same coalescer, calling `hook` on every delta the provider hands out (text,
    /// tool-call fragment or restart), before anything else: where a watchdog learns that
    /// the provider is still writing.
    pub fn on_delta(mut self, hook: impl Fn() + Send + Sync + 'static) -> Coalescer {
        self.on_delta = Some(Box::new(hook));
        self
    }

    /// Whether any text reached this stream (so the narration ending it names it).
    pub fn saw_text(&self) -> bool {
        self.saw_text.load(Ordering::Relaxed)
    }

    /// Forwards gathered deltas to `emit`, never sooner than the interval after the last
    /// frame. Never returns: drop it when the provider's call ends.
    pub async fn run(&self, emit: impl Fn(NarrationDelta)) -> Infallible {
        let mut last: Option<Instant> = None;
        loop {
            self.wake.notified().await;
            if let Some(last) = last {
                tokio::time::sleep_until(last + self.interval).await;
            }
            if let Some(delta) = self.take() {
                emit(delta);
                last = Some(Instant::now());
            }
        }
    }

    /// The frame for what has gathered, if anything has.
    fn take(&self) -> Option<NarrationDelta> {
        let mut pending = self.pending.lock().ok()?;
        let restart = std::mem::take(&mut pending.restart);
        if restart {
            pending.sent_chars = 0;
        } else if pending.text.is_empty() {
            return None;
        }
        let text = std::mem::take(&mut pending.text);
        let offset = pending.sent_chars;
        pending.sent_chars += text.chars().count() as u64;
        Some(NarrationDelta {
            stream: self.stream,
            offset,
            text,
        })
    }
}

impl DeltaSink for Coalescer {
    fn delta(&self, delta: Delta<'_>) {
        if let Some(hook) = &self.on_delta {
            hook();
        }
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        match delta {
            Delta::Text(text) if !text.is_empty() => {
                pending.text.push_str(text);
                self.saw_text.store(true, Ordering::Relaxed);
            }
            Delta::Restart => {
                pending.text.clear();
                pending.restart = true;
            }
            Delta::Text(_) | Delta::ToolCall => return,
        }
        drop(pending);
        self.wake.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Runs the coalescer while `feed` hands it deltas; returns the frames with the time
    /// (from the start) each was sent.
    async fn frames(
        interval_ms: u64,
        feed: Vec<(u64, Delta<'static>)>,
    ) -> Vec<(u64, NarrationDelta)> {
        let coalescer = Arc::new(Coalescer::new(1, Duration::from_millis(interval_ms)));
        let sent = Arc::new(Mutex::new(Vec::new()));
        let started = Instant::now();
        let feeding = {
            let coalescer = coalescer.clone();
            async move {
                for (at, delta) in feed {
                    tokio::time::sleep_until(started + Duration::from_millis(at)).await;
                    coalescer.delta(delta);
                }
                // Room for the last frame to go out.
                tokio::time::sleep(Duration::from_millis(interval_ms * 2)).await;
            }
        };
        let record = sent.clone();
        tokio::select! {
            () = feeding => {}
            _ = coalescer.run(move |delta| {
                let at = started.elapsed().as_millis() as u64;
                record.lock().expect("lock").push((at, delta));
            }) => {}
        }
        sent.lock().expect("lock").clone()
    }

    fn delta(offset: u64, text: &str) -> NarrationDelta {
        NarrationDelta {
            stream: 1,
            offset,
            text: text.into(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_fast_model_gets_at_most_one_frame_per_interval_and_no_text_is_lost() {
        // A piece every millisecond for 200 ms.
        let pieces: Vec<(u64, Delta<'static>)> =
            (0..200).map(|ms| (ms, Delta::Text("ab"))).collect();
        let sent = frames(50, pieces).await;
        assert!(sent.len() <= 6, "{} frames for 200 ms at 50 ms", sent.len());
        for pair in sent.windows(2) {
            assert!(
                pair[1].0 - pair[0].0 >= 50,
                "{:?} then {:?}",
                pair[0],
                pair[1]
            );
        }
        let mut offset = 0;
        for (_, frame) in &sent {
            assert_eq!(frame.offset, offset);
            offset += frame.text.chars().count() as u64;
        }
        assert_eq!(offset, 400, "every character was sent once");
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_piece_goes_at_once_and_a_slow_model_gets_a_frame_per_piece() {
        let sent = frames(
            50,
            vec![
                (0, Delta::Text("The ")),
                (200, Delta::Text("door")),
                (400, Delta::ToolCall),
            ],
        )
        .await;
        assert_eq!(sent, vec![(0, delta(0, "The ")), (200, delta(4, "door"))]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_restart_sends_offset_zero_and_the_retried_text_replaces_the_first() {
        let sent = frames(
            50,
            vec![
                (0, Delta::Text("Half a narr")),
                (100, Delta::Restart),
                (300, Delta::Text("Whole narration.")),
            ],
        )
        .await;
        assert_eq!(
            sent,
            vec![
                (0, delta(0, "Half a narr")),
                (100, delta(0, "")),
                (300, delta(0, "Whole narration.")),
            ]
        );
    }

    #[test]
    fn the_delta_hook_hears_every_delta_tool_call_fragments_included() {
        let heard = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = heard.clone();
        let coalescer = Coalescer::new(1, Duration::from_millis(50)).on_delta(move || {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        coalescer.delta(Delta::Text("a"));
        coalescer.delta(Delta::ToolCall);
        coalescer.delta(Delta::Restart);
        coalescer.delta(Delta::Text(""));
        assert_eq!(heard.load(Ordering::Relaxed), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn offsets_count_characters_not_bytes() {
        let sent = frames(
            50,
            vec![(0, Delta::Text("Élan ")), (100, Delta::Text("vital"))],
        )
        .await;
        assert_eq!(sent[1].1.offset, 5);
    }
}
