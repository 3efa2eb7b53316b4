//! The core's named timers, on the browser's clock. Each is a [`Timeout`] owned by
//! this map: removing it cancels it, and dropping the map cancels them all.
//!
//! Creating and cancelling a timer calls into JavaScript (`setTimeout`, `clearTimeout`),
//! so the map never does either itself: the caller creates the `Timeout`, swaps it in
//! under a short borrow, and drops the one it replaced after the borrow ends.

use super::callback::{Callback, callback};
use crate::effects::TimerKind;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Callback, millis: i32) -> JsValue;

    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(handle: &JsValue);
}

/// A `setTimeout` owned by Rust: dropping it clears the timer (a no-op once it fired).
///
/// Decision (issue 11, size): this replaces gloo-timers' `Timeout`, whose
/// `Closure::once(FnOnce())` brought closure glue of its own; the callback here is a
/// [`Callback`], the one closure type the core uses (see `callback.rs`). Like gloo's,
/// the delay goes to the browser as a signed 32-bit number.
pub struct Timeout {
    handle: JsValue,
    _callback: Callback,
}

impl std::fmt::Debug for Timeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timeout").finish_non_exhaustive()
    }
}

impl Timeout {
    /// Calls `fired` once, `millis` milliseconds from now, unless dropped before.
    pub fn new(millis: u32, fired: impl FnOnce() + 'static) -> Timeout {
        let mut fired = Some(fired);
        let callback = callback(move |_| {
            if let Some(fired) = fired.take() {
                fired();
            }
        });
        Timeout {
            handle: set_timeout(&callback, millis as i32),
            _callback: callback,
        }
    }
}

impl Drop for Timeout {
    fn drop(&mut self) {
        clear_timeout(&self.handle);
    }
}

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
