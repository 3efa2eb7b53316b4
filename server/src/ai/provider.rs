//! The provider interface: something that, given the conversation so far, answers with
//! text or tool calls.
//!
//! An enum rather than a `dyn` trait: the set of providers is closed and known here,
//! async methods stay plain `async fn` (no boxing, `Send` checked by the compiler), and
//! the turn loop matches nothing provider-specific. Tests add a scripted variant.

use super::config::{AiConfig, ProviderKind};
use super::delta::DeltaSink;
use super::messages::{Completion, CompletionRequest};
use super::offline::OfflineProvider;
use super::openai::OpenAiProvider;
use std::fmt;
use std::time::Duration;

/// Why a provider could not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderErrorKind {
    /// The provider answered with an HTTP error status (after any retries).
    Status(u16),
    /// No answer within the request timeout.
    Timeout,
    /// The provider could not be reached.
    Connection,
    /// The provider answered with something that is not a chat completion.
    InvalidResponse,
}

/// A provider's failure, with a message a GM can act on (never containing the API key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    pub kind: ProviderErrorKind,
    pub message: String,
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ProviderError {}

/// The AI that takes the turns.
#[derive(Debug)]
pub enum Provider {
    /// The embedded provider, and the pause between the pieces of its streamed text.
    Offline(OfflineProvider, Duration),
    OpenAi(OpenAiProvider),
    #[cfg(test)]
    Scripted(scripted::ScriptedProvider),
}

impl Provider {
    /// The configured provider; `seed` seeds the offline one.
    pub fn from_config(config: &AiConfig, seed: u64) -> Result<Provider, String> {
        config.validate()?;
        Ok(match config.provider {
            ProviderKind::Offline => Provider::Offline(
                OfflineProvider::new(seed),
                Duration::from_millis(config.offline_stream_interval_ms),
            ),
            ProviderKind::OpenAi => Provider::OpenAi(OpenAiProvider::from_config(config)?),
        })
    }

    /// `offline` or `openai`, for logs and health output.
    pub fn name(&self) -> &'static str {
        match self {
            Provider::Offline(..) => ProviderKind::Offline.as_str(),
            Provider::OpenAi(_) => ProviderKind::OpenAi.as_str(),
            #[cfg(test)]
            Provider::Scripted(_) => "scripted",
        }
    }

    /// The model asked, for metrics labels: `--ai-model`, or the provider's name.
    pub fn model(&self) -> &str {
        match self {
            Provider::OpenAi(openai) => openai.model(),
            other => other.name(),
        }
    }

    /// The provider's next answer in this conversation. Cancel-safe.
    ///
    /// While the answer is written, its pieces go to `sink` (see `delta`): the one place
    /// every provider's progress leaves through. The returned completion is the whole
    /// answer whatever the sink was given.
    pub async fn complete(
        &self,
        request: &CompletionRequest,
        sink: &dyn DeltaSink,
    ) -> Result<Completion, ProviderError> {
        match self {
            Provider::Offline(offline, interval) => {
                let completion = offline.complete(request);
                if let Some(text) = &completion.content {
                    super::offline::stream::stream(text, sink, *interval).await;
                }
                Ok(completion)
            }
            Provider::OpenAi(openai) => openai.complete(request, sink).await,
            #[cfg(test)]
            Provider::Scripted(scripted) => scripted.complete(request, sink).await,
        }
    }
}

#[cfg(test)]
pub mod scripted {
    //! A provider that plays back answers written by a test, and keeps every request.

    use super::*;
    use std::collections::VecDeque;
    use std::sync::Mutex;
    use std::time::Duration;

    /// One scripted answer.
    #[derive(Debug, Clone)]
    pub enum Scripted {
        Answer(Completion),
        /// Hands out these text deltas, each after the pause given, then answers with
        /// their text joined.
        Streamed(Vec<(Duration, &'static str)>),
        Fail(ProviderError),
        /// Waits this long, then gives the next answer (for wall-time tests).
        Stall(Duration),
        /// Panics with this message (a provider bug, for the turn's panic handling).
        Panic(&'static str),
    }

    #[derive(Debug, Default)]
    pub struct ScriptedProvider {
        script: Mutex<VecDeque<Scripted>>,
        seen: Mutex<Vec<CompletionRequest>>,
    }

    impl ScriptedProvider {
        pub fn new(script: impl IntoIterator<Item = Scripted>) -> ScriptedProvider {
            ScriptedProvider {
                script: Mutex::new(script.into_iter().collect()),
                seen: Mutex::new(Vec::new()),
            }
        }

        pub fn requests(&self) -> Vec<CompletionRequest> {
            self.seen
                .lock()
                .map(|seen| seen.clone())
                .unwrap_or_default()
        }

        fn next(&self) -> Option<Scripted> {
            self.script
                .lock()
                .ok()
                .and_then(|mut script| script.pop_front())
        }

        pub async fn complete(
            &self,
            request: &CompletionRequest,
            sink: &dyn DeltaSink,
        ) -> Result<Completion, ProviderError> {
            if let Ok(mut seen) = self.seen.lock() {
                seen.push(request.clone());
            }
            loop {
                match self.next() {
                    Some(Scripted::Answer(completion)) => return Ok(completion),
                    Some(Scripted::Streamed(pieces)) => {
                        let mut text = String::new();
                        for (wait, piece) in pieces {
                            tokio::time::sleep(wait).await;
                            sink.delta(crate::ai::delta::Delta::Text(piece));
                            text.push_str(piece);
                        }
                        return Ok(Completion {
                            content: Some(text),
                            ..Completion::default()
                        });
                    }
                    Some(Scripted::Fail(error)) => return Err(error),
                    Some(Scripted::Stall(wait)) => tokio::time::sleep(wait).await,
                    Some(Scripted::Panic(message)) => panic!("{message}"),
                    None => {
                        return Ok(Completion {
                            content: Some("(script ended)".into()),
                            ..Completion::default()
                        });
                    }
                }
            }
        }
    }
}
