//! The WebAssembly core of the Gold Box Foundry module.
//!
//! The JS module is a thin bridge to Foundry; the behaviour lives here: the connection
//! to the server (handshake, heartbeat, reconnect, resumable delivery), rolls delivered
//! exactly once at the table, the settings sync, and the AI turns with their context
//! budget and who sees their output ([`privacy`]). The core is a plain-Rust state machine ([`machine`]) that turns inputs into
//! commands; [`bindings`] is the only place that touches JavaScript and the browser, and
//! carries those commands out.

#[cfg(target_arch = "wasm32")]
mod allocator;
pub mod backoff;
pub mod bindings;
pub mod config;
pub mod context;
pub mod effects;
pub mod id_map;
pub mod machine;
pub mod outbox;
pub mod privacy;
pub mod settings;
pub mod settled;
pub mod wire;
