//! Every crossing between Rust and JavaScript lives under this module: the exported
//! `GoldBoxCore` class, the host bridge the JS module provides, and the browser objects
//! (WebSocket, timers, storage) that carry out the core's commands. Everything outside
//! it is plain Rust, tested on the host.

mod callback;
mod core;
mod host;
mod http;
pub(crate) mod js_json;
mod panic_report;
mod socket;
mod storage;
mod tasks;
mod timers;

pub use self::core::GoldBoxCore;
pub use self::host::Host;

use wasm_bindgen::prelude::*;

/// Runs once when the module is instantiated: panics are reported to the console with
/// their message instead of as an opaque `unreachable`.
#[wasm_bindgen(start)]
pub fn on_load() {
    panic_report::install();
}
