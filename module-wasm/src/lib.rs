//! The WebAssembly core of the Gold Box Foundry module.
//!
//! The JS module is a thin bridge to Foundry; the behaviour lives here: the connection
//! to the server (handshake, heartbeat, reconnect). The core is a plain-Rust state
//! machine ([`machine`]) that turns inputs into commands; [`bindings`] is the only place
//! that touches JavaScript and the browser, and carries those commands out.

pub mod backoff;
pub mod bindings;
pub mod config;
pub mod effects;
pub mod machine;
pub mod outbox;
pub mod settings;
pub mod settled;

use wasm_bindgen::prelude::*;

/// Runs once when the module is instantiated: panics are reported to the console with
/// their message instead of as an opaque `unreachable`.
#[wasm_bindgen(start)]
pub fn on_load() {
    console_error_panic_hook::set_once();
}
