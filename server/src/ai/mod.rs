//! The AI turn engine: what happens between a GM clicking **Take AI Turn** and the
//! narration appearing in chat.
//!
//! A turn reads the recent chat (bounded by a size budget), asks a provider what to do,
//! runs the tools the provider calls (dice through the GM's browser, chat messages), and
//! posts the provider's final narration, within a number of iterations and a wall time.
//!
//! Code map, one job per module:
//! - `config`: the options (`--ai-*`, `GOLD_BOX_AI_*`) and their validation;
//! - `turn`: the bounded loop, and the [`TurnTools`] seam the server implements;
//! - `provider`: the provider enum and its error; `offline` (embedded, no network) and
//!   `openai` (any OpenAI-compatible chat-completions endpoint, streamed) implement it;
//! - `delta`: the pieces of an answer a provider hands out while writing it (the one
//!   place they leave a provider); `coalesce`: those pieces joined into at most one
//!   `narration_delta` frame per interval;
//! - `regenerate`: a finished turn's narration asked for again (GM review), with its
//!   tool results and without tools, so no dice are rolled twice;
//! - `messages`: provider-neutral conversation types;
//! - `tools`: the tools' schemas and the reading of a model's arguments;
//! - `formula`: dice formula validation before the browser is asked;
//! - `context`: the context budget; `prompts`: every word the AI is told;
//! - `progress`: the per-turn record of progress (for the stall watchdog) and usage;
//! - `rng`: the small seeded generator behind reproducible offline turns and jitter.

pub mod coalesce;
pub mod config;
pub mod context;
pub mod delta;
pub mod formula;
pub mod messages;
pub mod offline;
pub mod openai;
pub mod progress;
pub mod prompts;
pub mod provider;
pub mod regenerate;
mod rng;
pub mod tools;
pub mod turn;

pub use config::{AiConfig, ProviderKind};
pub use messages::{AiRole, Completion, CompletionRequest, Message, ToolCall, ToolSpec};
pub use openai::install_tls_provider;
pub use progress::TurnProgress;
pub use provider::{Provider, ProviderError, ProviderErrorKind};
pub use regenerate::KeptTurn;
pub use turn::{AiEngine, ToolFailure, ToolFailureKind, TurnOutcome, TurnRequest, TurnTools};
