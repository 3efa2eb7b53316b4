//! Deltas: the pieces of an answer a provider hands out while it is still writing, so the
//! table sees the narration grow instead of waiting in silence.
//!
//! Every delta leaves a provider through one place, [`DeltaSink::delta`], given to
//! `Provider::complete`. Whatever watches a provider's progress (the narration frames of
//! `coalesce`, a stall watchdog) hooks there. The completion the provider returns stays
//! the truth: deltas are only a preview of it.

/// One piece of progress from a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delta<'a> {
    /// Text the model has written, following the text of earlier `Text` deltas.
    Text(&'a str),
    /// A fragment of a tool call's arguments (progress without text for the table).
    ToolCall,
    /// The attempt broke after some text and is retried: the text starts again from
    /// nothing, so the part already handed out must not be shown twice.
    Restart,
}

/// Where a provider hands its deltas. Called from the provider's own task, so it must
/// not block: implementations record and return.
pub trait DeltaSink: Send + Sync {
    fn delta(&self, delta: Delta<'_>);
}

/// A sink that drops every delta (a completion nobody watches as it grows).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDeltas;

impl DeltaSink for NoDeltas {
    fn delta(&self, _delta: Delta<'_>) {}
}

/// Tracks whether an attempt has handed out anything yet, so a retry can tell the sink to
/// start again.
#[allow(missing_debug_implementations)] // holds a `dyn DeltaSink`, which need not be Debug
pub struct Tracked<'a> {
    sink: &'a dyn DeltaSink,
    sent: std::sync::atomic::AtomicBool,
}

impl<'a> Tracked<'a> {
    pub fn new(sink: &'a dyn DeltaSink) -> Tracked<'a> {
        Tracked {
            sink,
            sent: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn delta(&self, delta: Delta<'_>) {
        if let Delta::Text(text) = delta
            && !text.is_empty()
        {
            self.sent.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        self.sink.delta(delta);
    }

    /// Before a retry: a `Restart` if text went out in the failed attempt.
    pub fn restart(&self) {
        if self.sent.swap(false, std::sync::atomic::Ordering::Relaxed) {
            self.sink.delta(Delta::Restart);
        }
    }
}

#[cfg(test)]
pub mod recorded {
    //! A sink that keeps what it was given, for tests.
    use super::*;
    use std::sync::Mutex;

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Seen {
        Text(String),
        ToolCall,
        Restart,
    }

    #[derive(Debug, Default)]
    pub struct Recorded(pub Mutex<Vec<Seen>>);

    impl Recorded {
        pub fn seen(&self) -> Vec<Seen> {
            self.0.lock().map(|s| s.clone()).unwrap_or_default()
        }

        /// The text as a viewer would show it now (restarts honoured).
        pub fn text(&self) -> String {
            let mut text = String::new();
            for seen in self.seen() {
                match seen {
                    Seen::Text(t) => text.push_str(&t),
                    Seen::Restart => text.clear(),
                    Seen::ToolCall => {}
                }
            }
            text
        }
    }

    impl DeltaSink for Recorded {
        fn delta(&self, delta: Delta<'_>) {
            if let Ok(mut seen) = self.0.lock() {
                seen.push(match delta {
                    Delta::Text(t) => Seen::Text(t.to_owned()),
                    Delta::ToolCall => Seen::ToolCall,
                    Delta::Restart => Seen::Restart,
                });
            }
        }
    }
}
