//! Roll requests: the registry of pending `execute_roll`s and the one function that
//! resolves their results, whatever transport brought them.

mod registry;
mod validate;

pub use registry::{Resolution, RollFailure, RollRegistry, RollTicket, Unanswered, Wakeup};
