//! The core's named timers, on the browser's clock. Each is a gloo `Timeout` owned by
//! this map: replacing or removing it cancels it, and dropping the map cancels them all.

use crate::effects::TimerKind;
use gloo_timers::callback::Timeout;
use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct Timers {
    pending: HashMap<TimerKind, Timeout>,
}

impl Timers {
    /// Sets `kind` to fire `callback` after `delay_ms`, cancelling any earlier one.
    pub fn set(&mut self, kind: TimerKind, delay_ms: u64, callback: impl FnOnce() + 'static) {
        let delay = u32::try_from(delay_ms).unwrap_or(u32::MAX);
        self.pending.insert(kind, Timeout::new(delay, callback));
    }

    pub fn cancel(&mut self, kind: &TimerKind) {
        self.pending.remove(kind);
    }

    /// Forgets a timer that has just fired (its callback is running).
    pub fn fired(&mut self, kind: &TimerKind) -> Option<Timeout> {
        self.pending.remove(kind)
    }
}
