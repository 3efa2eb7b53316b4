//! The core's named timers, on the browser's clock. Each is a gloo `Timeout` owned by
//! this map: removing it cancels it, and dropping the map cancels them all.
//!
//! Creating and cancelling a timer calls into JavaScript (`setTimeout`, `clearTimeout`),
//! so the map never does either itself: the caller creates the `Timeout`, swaps it in
//! under a short borrow, and drops the one it replaced after the borrow ends.

use crate::effects::TimerKind;
use gloo_timers::callback::Timeout;

/// A list, not a `HashMap`: a handful of timers are set at a time, and a list keeps the
/// hash table's code out of the .wasm.
#[derive(Debug, Default)]
pub struct Timers {
    pending: Vec<(TimerKind, Timeout)>,
}

impl Timers {
    /// Holds `timeout` as `kind`; returns the one it replaces, for the caller to drop
    /// (which cancels it).
    #[must_use]
    pub fn put(&mut self, kind: TimerKind, timeout: Timeout) -> Option<Timeout> {
        match self.pending.iter_mut().find(|(held, _)| *held == kind) {
            Some((_, held)) => Some(std::mem::replace(held, timeout)),
            None => {
                self.pending.push((kind, timeout));
                None
            }
        }
    }

    /// Takes `kind` out; dropping the result cancels it (or forgets one that fired).
    #[must_use]
    pub fn take(&mut self, kind: &TimerKind) -> Option<Timeout> {
        let index = self.pending.iter().position(|(held, _)| held == kind)?;
        Some(self.pending.swap_remove(index).1)
    }
}
