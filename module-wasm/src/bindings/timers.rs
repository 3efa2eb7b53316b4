//! The core's named timers, on the browser's clock. Each is a gloo `Timeout` owned by
//! this map: removing it cancels it, and dropping the map cancels them all.
//!
//! Creating and cancelling a timer calls into JavaScript (`setTimeout`, `clearTimeout`),
//! so the map never does either itself: the caller creates the `Timeout`, swaps it in
//! under a short borrow, and drops the one it replaced after the borrow ends.

use crate::effects::TimerKind;
use gloo_timers::callback::Timeout;
use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct Timers {
    pending: HashMap<TimerKind, Timeout>,
}

impl Timers {
    /// Holds `timeout` as `kind`; returns the one it replaces, for the caller to drop
    /// (which cancels it).
    #[must_use]
    pub fn put(&mut self, kind: TimerKind, timeout: Timeout) -> Option<Timeout> {
        self.pending.insert(kind, timeout)
    }

    /// Takes `kind` out; dropping the result cancels it (or forgets one that fired).
    #[must_use]
    pub fn take(&mut self, kind: &TimerKind) -> Option<Timeout> {
        self.pending.remove(kind)
    }
}
