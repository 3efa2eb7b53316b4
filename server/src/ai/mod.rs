//! The AI turn engine (being written): providers, tools and the bounded turn loop.

/// The AI's configuration: the provider and the turn's limits.
#[derive(Debug, Clone, clap::Args)]
pub struct AiConfig {}
