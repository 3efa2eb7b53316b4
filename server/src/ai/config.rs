//! The AI's configuration: which provider takes the turn and the limits every turn obeys.
//!
//! It is part of the server's one clap definition (flattened into `Config`), so every
//! option is also an environment variable and appears in `--help`. The provider's
//! credentials live here and only here: never in Foundry's world settings, which every
//! player's browser can read.

use std::fmt;
use std::time::Duration;

/// Which AI takes the turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ProviderKind {
    /// The embedded game master: no key, no network, works out of the box.
    #[default]
    Offline,
    /// Any OpenAI-compatible chat-completions endpoint (OpenAI, OpenRouter, Ollama,
    /// llama.cpp, LM Studio, vLLM).
    #[value(name = "openai")]
    OpenAi,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Offline => "offline",
            ProviderKind::OpenAi => "openai",
        }
    }
}

/// The AI's configuration: the provider and the turn's limits.
#[derive(Clone, clap::Args)]
pub struct AiConfig {
    /// Which AI takes the turn: `offline` (embedded, no key, no network) or `openai`
    /// (any OpenAI-compatible chat-completions endpoint).
    #[arg(
        long = "ai-provider",
        env = "GOLD_BOX_AI_PROVIDER",
        value_enum,
        default_value_t = ProviderKind::Offline
    )]
    pub provider: ProviderKind,

    /// The provider's API base URL, up to and including `/v1`: e.g.
    /// https://api.openai.com/v1, or http://127.0.0.1:11434/v1 for Ollama. Required
    /// with `--ai-provider openai`.
    #[arg(long = "ai-base-url", env = "GOLD_BOX_AI_BASE_URL")]
    pub base_url: Option<String>,

    /// The model name the provider knows, e.g. `gpt-4o-mini` or `llama3.1`. Required with
    /// `--ai-provider openai`.
    #[arg(long = "ai-model", env = "GOLD_BOX_AI_MODEL")]
    pub model: Option<String>,

    /// The provider's API key, sent as a bearer token. Prefer the environment variable
    /// to the command line (which other local users can see). Never logged.
    #[arg(
        long = "ai-api-key",
        env = "GOLD_BOX_AI_API_KEY",
        hide_env_values = true
    )]
    pub api_key: Option<String>,

    /// How long one request to the provider may take, in milliseconds.
    #[arg(
        long = "ai-request-timeout-ms",
        env = "GOLD_BOX_AI_REQUEST_TIMEOUT_MS",
        default_value_t = 60_000,
        value_parser = clap::value_parser!(u64).range(1..=crate::config::MAX_TIME_MS)
    )]
    pub request_timeout_ms: u64,

    /// How often a failed provider request (429, 5xx, timeout, connection error) is
    /// retried before the turn fails with PROVIDER_ERROR.
    #[arg(
        long = "ai-max-retries",
        env = "GOLD_BOX_AI_MAX_RETRIES",
        default_value_t = 3
    )]
    pub max_retries: u32,

    /// The first retry's delay in milliseconds; each further retry doubles it (with
    /// jitter). A 429's Retry-After takes precedence, up to 30 s.
    #[arg(
        long = "ai-retry-backoff-ms",
        env = "GOLD_BOX_AI_RETRY_BACKOFF_MS",
        default_value_t = 500,
        value_parser = clap::value_parser!(u64).range(0..=crate::config::MAX_TIME_MS)
    )]
    pub retry_backoff_ms: u64,

    /// How many times one turn may ask the provider (each answer that calls tools
    /// costs one).
    #[arg(
        long = "ai-max-iterations",
        env = "GOLD_BOX_AI_MAX_ITERATIONS",
        default_value_t = 8
    )]
    pub max_iterations: u32,

    /// The longest one turn may take in all, rolls included, in milliseconds.
    #[arg(
        long = "ai-max-turn-ms",
        env = "GOLD_BOX_AI_MAX_TURN_MS",
        default_value_t = 120_000,
        value_parser = clap::value_parser!(u64).range(1..=crate::config::MAX_TIME_MS)
    )]
    pub max_turn_ms: u64,

    /// How long a turn may go without progress (no answer or streamed text from the
    /// provider, no tool call) before it ends `failed`, in milliseconds: the stall
    /// watchdog, so a silent provider never leaves the GM waiting for the whole turn's
    /// time. A roll pending at the table does not count (--roll-timeout-ms bounds it).
    #[arg(
        long = "ai-stall-timeout-ms",
        env = "GOLD_BOX_AI_STALL_TIMEOUT_MS",
        default_value_t = 90_000,
        value_parser = clap::value_parser!(u64).range(1..=crate::config::MAX_TIME_MS)
    )]
    pub stall_timeout_ms: u64,

    /// How much recent chat (and table context) the AI is given, in characters; the
    /// newest messages that fit are kept.
    #[arg(
        long = "ai-context-budget-chars",
        env = "GOLD_BOX_AI_CONTEXT_BUDGET_CHARS",
        default_value_t = 12_000
    )]
    pub context_budget_chars: usize,

    /// A seed that makes the offline provider's turns reproducible (the same chat and
    /// dice give the same words). Without it, each start is seeded afresh.
    #[arg(long = "ai-seed", env = "GOLD_BOX_AI_SEED")]
    pub seed: Option<u64>,

    /// The pause between two pieces (a few words each) of the offline provider's streamed
    /// narration, in milliseconds; 0 hands the whole text out at once.
    #[arg(
        long = "ai-offline-stream-interval-ms",
        env = "GOLD_BOX_AI_OFFLINE_STREAM_INTERVAL_MS",
        default_value_t = 40,
        value_parser = clap::value_parser!(u64).range(0..=10_000)
    )]
    pub offline_stream_interval_ms: u64,

    /// The shortest time between two `narration_delta` frames of one narration, in
    /// milliseconds: the deltas of a faster model are joined, so it cannot flood the
    /// socket (the final `chat_response` always carries the whole text).
    #[arg(
        long = "narration-delta-interval-ms",
        env = "GOLD_BOX_NARRATION_DELTA_INTERVAL_MS",
        default_value_t = 50,
        value_parser = clap::value_parser!(u64).range(1..=60_000)
    )]
    pub narration_delta_interval_ms: u64,
}

/// The smallest context budget that still leaves room for a message or two.
pub const MIN_CONTEXT_BUDGET_CHARS: usize = 200;

impl Default for AiConfig {
    /// The documented defaults (those of an empty command line).
    fn default() -> Self {
        AiConfig {
            provider: ProviderKind::Offline,
            base_url: None,
            model: None,
            api_key: None,
            request_timeout_ms: 60_000,
            max_retries: 3,
            retry_backoff_ms: 500,
            max_iterations: 8,
            max_turn_ms: 120_000,
            stall_timeout_ms: 90_000,
            offline_stream_interval_ms: 40,
            narration_delta_interval_ms: 50,
            context_budget_chars: 12_000,
            seed: None,
        }
    }
}

impl fmt::Debug for AiConfig {
    /// Like a derived Debug, but the API key is never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AiConfig")
            .field("provider", &self.provider)
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("max_retries", &self.max_retries)
            .field("retry_backoff_ms", &self.retry_backoff_ms)
            .field("max_iterations", &self.max_iterations)
            .field("max_turn_ms", &self.max_turn_ms)
            .field("stall_timeout_ms", &self.stall_timeout_ms)
            .field(
                "offline_stream_interval_ms",
                &self.offline_stream_interval_ms,
            )
            .field(
                "narration_delta_interval_ms",
                &self.narration_delta_interval_ms,
            )
            .field("context_budget_chars", &self.context_budget_chars)
            .field("seed", &self.seed)
            .finish()
    }
}

impl AiConfig {
    /// Checks the combination of options; the error names the option to fix.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_iterations == 0 {
            return Err("--ai-max-iterations must be at least 1".to_owned());
        }
        if self.max_turn_ms == 0 {
            return Err("--ai-max-turn-ms must be at least 1".to_owned());
        }
        if self.request_timeout_ms == 0 {
            return Err("--ai-request-timeout-ms must be at least 1".to_owned());
        }
        if self.context_budget_chars < MIN_CONTEXT_BUDGET_CHARS {
            return Err(format!(
                "--ai-context-budget-chars must be at least {MIN_CONTEXT_BUDGET_CHARS}"
            ));
        }
        if self.provider == ProviderKind::OpenAi {
            let base_url = non_empty(&self.base_url).ok_or(
                "--ai-provider openai needs --ai-base-url (GOLD_BOX_AI_BASE_URL), e.g. \
                 https://api.openai.com/v1, or http://127.0.0.1:11434/v1 for Ollama",
            )?;
            let url = reqwest::Url::parse(base_url)
                .map_err(|e| format!("--ai-base-url {base_url:?} is not a URL: {e}"))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(format!(
                    "--ai-base-url {base_url:?} must start with http:// or https://"
                ));
            }
            non_empty(&self.model).ok_or(
                "--ai-provider openai needs --ai-model (GOLD_BOX_AI_MODEL), the model name \
                 your provider knows, e.g. gpt-4o-mini or llama3.1",
            )?;
        }
        Ok(())
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    pub fn max_turn(&self) -> Duration {
        Duration::from_millis(self.max_turn_ms)
    }

    /// The stall watchdog's limit.
    pub fn stall_timeout(&self) -> Duration {
        Duration::from_millis(self.stall_timeout_ms)
    }
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        ai: AiConfig,
    }

    fn parse(args: &[&str]) -> AiConfig {
        let argv = std::iter::once("test").chain(args.iter().copied());
        match Cli::try_parse_from(argv) {
            Ok(cli) => cli.ai,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn an_empty_command_line_gives_the_documented_defaults() {
        let parsed = parse(&[]);
        let defaults = AiConfig::default();
        assert_eq!(format!("{parsed:?}"), format!("{defaults:?}"));
        assert_eq!(parsed.provider, ProviderKind::Offline);
        assert!(parsed.validate().is_ok());
    }

    #[test]
    fn openai_without_a_base_url_names_the_option() {
        let error = parse(&["--ai-provider", "openai", "--ai-model", "m"])
            .validate()
            .expect_err("refused");
        assert!(error.contains("--ai-base-url"), "{error}");
        assert!(error.contains("GOLD_BOX_AI_BASE_URL"), "{error}");
    }

    #[test]
    fn openai_without_a_model_names_the_option() {
        let error = parse(&[
            "--ai-provider",
            "openai",
            "--ai-base-url",
            "http://127.0.0.1:11434/v1",
        ])
        .validate()
        .expect_err("refused");
        assert!(error.contains("--ai-model"), "{error}");
    }

    #[test]
    fn a_base_url_that_is_not_http_is_refused() {
        for url in ["not a url", "ftp://example.com/v1"] {
            let error = parse(&[
                "--ai-provider",
                "openai",
                "--ai-base-url",
                url,
                "--ai-model",
                "m",
            ])
            .validate()
            .expect_err("refused");
            assert!(error.contains("--ai-base-url"), "{error}");
        }
    }

    #[test]
    fn zero_limits_are_refused() {
        assert!(parse(&["--ai-max-iterations", "0"]).validate().is_err());
        assert!(
            parse(&["--ai-context-budget-chars", "10"])
                .validate()
                .is_err()
        );
    }

    fn refusal(args: &[&str]) -> String {
        let argv = std::iter::once("test").chain(args.iter().copied());
        match Cli::try_parse_from(argv) {
            Ok(_) => panic!("{args:?} was accepted"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn time_options_are_refused_at_zero_and_above_one_day_naming_the_option() {
        for option in ["--ai-max-turn-ms", "--ai-request-timeout-ms"] {
            assert!(refusal(&[option, "0"]).contains(option));
        }
        for option in [
            "--ai-max-turn-ms",
            "--ai-request-timeout-ms",
            "--ai-retry-backoff-ms",
        ] {
            let text = refusal(&[option, "18446744073709551615"]);
            assert!(text.contains(option) && text.contains("86400000"), "{text}");
        }
        assert_eq!(parse(&["--ai-retry-backoff-ms", "0"]).retry_backoff_ms, 0);
    }

    #[test]
    fn the_api_key_is_never_printed_by_debug() {
        let config = parse(&["--ai-api-key", "sk-very-secret"]);
        let printed = format!("{config:?}");
        assert!(!printed.contains("sk-very-secret"), "{printed}");
        assert!(printed.contains("***"), "{printed}");
    }
}
