//! The one kind of Rust closure the core hands to JavaScript.
//!
//! Decision (issue 11, size): every distinct closure type (`FnMut()`,
//! `FnMut(MessageEvent)`, `FnOnce()`, …) brings its own invoke shims, descriptors and
//! drop glue into the .wasm. The socket's listeners and the timers all use this one
//! type, which is also the type wasm-bindgen-futures uses for its own promise callbacks
//! and microtask queue, so its glue is there once. A callback receives the event (or
//! `undefined`) as a plain `JsValue` and casts it itself.

use wasm_bindgen::prelude::*;

/// A JavaScript function that calls Rust with its first argument; dropping it
/// releases the Rust side (a call already under way finishes first).
pub type Callback = Closure<dyn FnMut(JsValue) -> Result<(), JsError>>;

/// A [`Callback`] that runs `f`.
pub fn callback(mut f: impl FnMut(JsValue) + 'static) -> Callback {
    Closure::new(move |value| {
        f(value);
        Ok(())
    })
}
