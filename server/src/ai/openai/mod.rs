//! The OpenAI-compatible provider: `POST {base_url}/chat/completions` with function
//! calling, which OpenAI, OpenRouter, Ollama, llama.cpp, LM Studio and vLLM all speak.
//!
//! One request per `complete`, bounded by the request timeout, retried on rate limits,
//! server errors and network failures (see `retry`). The answer is streamed (`stream`):
//! text reaches the delta sink as the model writes it, and a stream that breaks off is
//! retried like a failed request, the sink told to start its text again
//! ([`Delta::Restart`](super::delta::Delta)) so half a narration is never shown twice. When it gives up, the error says
//! what a GM can act on: the URL and model, the status, the provider's own message, and
//! which option to check. The API key goes in the `Authorization` header only: it is in
//! no log line, error or Debug output.

mod retry;
mod stream;
mod wire;

pub use retry::{MAX_BACKOFF, MAX_RETRY_AFTER};

use super::config::AiConfig;
use super::delta::{Delta, DeltaSink, Tracked};
use super::messages::{Completion, CompletionRequest};
use super::provider::{ProviderError, ProviderErrorKind};
use super::rng::{entropy_seed, mix};
use std::fmt;
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The largest response body read from a provider; a bigger one is refused.
pub const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
/// The longest a connection may take to open (within the request timeout).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Makes rustls's `ring` provider the process default, once.
///
/// reqwest is built with `rustls-no-provider` (aws-lc-rs needs cmake to build), so some
/// provider must be installed before any `reqwest::Client` is built in this process:
/// building one without it panics. Idempotent, and harmless when another part of the
/// process installed a provider first.
pub fn install_tls_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// An API key that never prints.
#[derive(Clone)]
struct ApiKey(String);

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// The OpenAI-compatible provider.
#[derive(Debug)]
pub struct OpenAiProvider {
    client: reqwest::Client,
    endpoint: String,
    model: String,
    api_key: Option<ApiKey>,
    request_timeout: Duration,
    max_retries: u32,
    backoff: Duration,
    jitter_seed: u64,
    jitter_draws: AtomicU64,
}

/// Why one attempt failed.
struct Failure {
    kind: ProviderErrorKind,
    detail: String,
    retryable: bool,
    retry_after: Option<Duration>,
}

impl OpenAiProvider {
    /// Builds the provider from a validated configuration.
    pub fn from_config(config: &AiConfig) -> Result<OpenAiProvider, String> {
        config.validate()?;
        let base_url = config.base_url.as_deref().unwrap_or_default().trim();
        let model = config.model.as_deref().unwrap_or_default().trim();
        let endpoint = format!("{}/chat/completions", base_url.trim_end_matches('/'));
        let api_key = config
            .api_key
            .as_deref()
            .map(str::trim)
            .filter(|key| !key.is_empty())
            .map(|key| ApiKey(key.to_owned()));
        if api_key.is_some() && endpoint.starts_with("http://") && !is_loopback(&endpoint) {
            tracing::warn!(
                %endpoint,
                "the AI API key is sent over plain http to another machine; use https"
            );
        }
        install_tls_provider();
        let client = reqwest::Client::builder()
            .timeout(config.request_timeout())
            .connect_timeout(CONNECT_TIMEOUT.min(config.request_timeout()))
            .user_agent(concat!("gold-box/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot set up the HTTP client for --ai-base-url: {e}"))?;
        Ok(OpenAiProvider {
            client,
            endpoint,
            model: model.to_owned(),
            api_key,
            request_timeout: config.request_timeout(),
            max_retries: config.max_retries,
            backoff: Duration::from_millis(config.retry_backoff_ms),
            jitter_seed: entropy_seed(),
            jitter_draws: AtomicU64::new(0),
        })
    }

    /// The URL requests go to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    /// Asks the provider once, retrying as `retry` says; cancel-safe (dropping the future
    /// drops the request and the response being read, which closes the connection).
    pub async fn complete(
        &self,
        request: &CompletionRequest,
        sink: &dyn DeltaSink,
    ) -> Result<Completion, ProviderError> {
        let sink = Tracked::new(sink);
        let body =
            serde_json::to_vec(&wire::ChatRequest::new(&self.model, request)).map_err(|e| {
                ProviderError {
                    kind: ProviderErrorKind::InvalidResponse,
                    message: format!("cannot write the request for {}: {e}", self.endpoint),
                }
            })?;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let failure = match self.attempt(&body, &sink).await {
                Ok(completion) => return Ok(completion),
                Err(failure) => failure,
            };
            if !failure.retryable || attempt > self.max_retries {
                return Err(self.describe(failure, attempt));
            }
            let wait = retry::delay(attempt, self.backoff, failure.retry_after, self.jitter());
            tracing::warn!(
                endpoint = %self.endpoint,
                model = %self.model,
                attempt,
                wait_ms = wait.as_millis() as u64,
                error = %failure.detail,
                "AI provider request failed; retrying"
            );
            // The next attempt's text starts from nothing.
            sink.restart();
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(&self, body: &[u8], sink: &Tracked<'_>) -> Result<Completion, Failure> {
        let mut builder = self
            .client
            .post(&self.endpoint)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(
                reqwest::header::ACCEPT,
                "text/event-stream, application/json",
            )
            .body(body.to_vec());
        if let Some(ApiKey(key)) = &self.api_key {
            builder = builder.bearer_auth(key);
        }
        let mut response = builder.send().await.map_err(transport_failure)?;
        let status = response.status();
        let retry_after = retry::retry_after(response.headers());
        let streamed = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("text/event-stream"));
        if status.is_success() && streamed {
            return read_stream(&mut response, sink).await;
        }
        let mut bytes: Vec<u8> = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_failure)? {
            if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        if status.is_success() {
            // A server that ignores `stream` answers with one JSON completion: read it
            // whole, its text one delta.
            let completion = wire::parse_response(&bytes).map_err(|detail| Failure {
                kind: ProviderErrorKind::InvalidResponse,
                detail,
                retryable: false,
                retry_after: None,
            })?;
            if let Some(text) = &completion.content {
                sink.delta(Delta::Text(text));
            }
            return Ok(completion);
        }
        Err(Failure {
            kind: ProviderErrorKind::Status(status.as_u16()),
            detail: wire::error_message(&bytes),
            retryable: retry::status_is_retryable(status.as_u16()),
            retry_after,
        })
    }

    /// A number in `[0, 1)` for retry jitter, without a lock.
    fn jitter(&self) -> f64 {
        let draw = self.jitter_draws.fetch_add(1, Ordering::Relaxed);
        (mix(self.jitter_seed ^ mix(draw)) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The error a GM reads: where, which model, what happened, what to check.
    fn describe(&self, failure: Failure, attempts: u32) -> ProviderError {
        let tries = if attempts == 1 {
            "1 attempt".to_owned()
        } else {
            format!("{attempts} attempts")
        };
        let place = format!("{} (model {})", self.endpoint, self.model);
        let message = match failure.kind {
            ProviderErrorKind::Status(status) => {
                let reason = reqwest::StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .map(|r| format!(" {r}"))
                    .unwrap_or_default();
                let hint = match status {
                    401 | 403 => {
                        " Check the API key (--ai-api-key / GOLD_BOX_AI_API_KEY) on the server."
                    }
                    404 => " Check --ai-base-url and --ai-model.",
                    429 => {
                        " The provider is rate-limiting: wait a little, or raise your plan's limits."
                    }
                    400 | 422 => {
                        " The provider refused the request: check that the model supports tool calling."
                    }
                    s if s >= 500 => " The provider is having trouble: try again later.",
                    _ => "",
                };
                format!(
                    "{place} answered {status}{reason} after {tries}: {}.{hint}",
                    failure.detail.trim_end_matches('.')
                )
            }
            ProviderErrorKind::Timeout => format!(
                "{place} did not answer within {} ms, {tries} made. Raise \
                 --ai-request-timeout-ms or use a faster model.",
                self.request_timeout.as_millis()
            ),
            ProviderErrorKind::Connection => format!(
                "cannot reach {place} after {tries}: {}. Is the provider running, and is \
                 --ai-base-url right?",
                failure.detail
            ),
            ProviderErrorKind::InvalidResponse => format!(
                "{place} answered with something that is not a usable chat completion: {}. \
                 Check that --ai-base-url points at an OpenAI-compatible /v1 API.",
                failure.detail
            ),
        };
        ProviderError {
            kind: failure.kind,
            message,
        }
    }
}

/// Reads a streamed answer to its end, bounded by [`MAX_RESPONSE_BYTES`]; a stream that
/// breaks (the connection drops, or the body ends before the answer is whole) is a
/// retryable failure. Cancel-safe: dropping it drops `response`'s body, closing the
/// connection.
async fn read_stream(
    response: &mut reqwest::Response,
    sink: &Tracked<'_>,
) -> Result<Completion, Failure> {
    let mut parser = stream::SseParser::default();
    let mut assembler = stream::Assembler::default();
    let mut read = 0usize;
    let fail = |error: stream::StreamError| match error {
        stream::StreamError::Invalid(detail) => Failure {
            kind: ProviderErrorKind::InvalidResponse,
            detail,
            retryable: false,
            retry_after: None,
        },
        stream::StreamError::Provider(detail) => Failure {
            kind: ProviderErrorKind::InvalidResponse,
            detail: format!("an error in the streamed answer: {detail}"),
            retryable: true,
            retry_after: None,
        },
        stream::StreamError::Incomplete(detail) => Failure {
            kind: ProviderErrorKind::Connection,
            detail,
            retryable: true,
            retry_after: None,
        },
    };
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(error) => {
                let mut failure = transport_failure(error);
                failure.detail = format!("the streamed answer broke off: {}", failure.detail);
                return Err(failure);
            }
        };
        read += chunk.len();
        if read > MAX_RESPONSE_BYTES {
            return Err(too_large());
        }
        for data in parser.push(&chunk) {
            if assembler.event(&data, sink).map_err(fail)? == stream::Step::Done {
                return assembler.finish().map_err(fail);
            }
        }
    }
    if let Some(data) = parser.finish() {
        assembler.event(&data, sink).map_err(fail)?;
    }
    assembler.finish().map_err(fail)
}

fn too_large() -> Failure {
    Failure {
        kind: ProviderErrorKind::InvalidResponse,
        detail: format!("the answer is larger than {MAX_RESPONSE_BYTES} bytes"),
        retryable: false,
        retry_after: None,
    }
}

fn transport_failure(error: reqwest::Error) -> Failure {
    let kind = if error.is_timeout() {
        ProviderErrorKind::Timeout
    } else {
        ProviderErrorKind::Connection
    };
    // The chain of causes says what actually failed (refused, DNS, TLS); reqwest's own
    // Display stops at "error sending request".
    let error = error.without_url();
    let mut detail = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    Failure {
        kind,
        detail,
        retryable: true,
        retry_after: None,
    }
}

fn is_loopback(endpoint: &str) -> bool {
    reqwest::Url::parse(endpoint)
        .ok()
        .and_then(|url| {
            let host = url
                .host_str()?
                .trim_start_matches('[')
                .trim_end_matches(']');
            Some(
                host == "localhost"
                    || host
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback()),
            )
        })
        .unwrap_or(false)
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

    fn config(base_url: &str) -> AiConfig {
        let cli = Cli::try_parse_from([
            "test",
            "--ai-provider",
            "openai",
            "--ai-base-url",
            base_url,
            "--ai-model",
            "gpt-test",
            "--ai-api-key",
            "sk-secret",
        ]);
        match cli {
            Ok(cli) => cli.ai,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn an_https_provider_builds_with_the_ring_tls_backend() {
        let provider = OpenAiProvider::from_config(&config("https://api.openai.com/v1/"))
            .expect("the client builds");
        assert_eq!(
            provider.endpoint(),
            "https://api.openai.com/v1/chat/completions"
        );
        assert_eq!(provider.model(), "gpt-test");
    }

    #[test]
    fn the_api_key_is_not_in_debug_output() {
        let provider =
            OpenAiProvider::from_config(&config("http://127.0.0.1:9/v1")).expect("builds");
        let printed = format!("{provider:?}");
        assert!(!printed.contains("sk-secret"), "{printed}");
    }

    #[test]
    fn loopback_endpoints_are_recognised() {
        assert!(is_loopback("http://127.0.0.1:11434/v1/chat/completions"));
        assert!(is_loopback("http://localhost:1234/v1/chat/completions"));
        assert!(is_loopback("http://[::1]:1234/v1/chat/completions"));
        assert!(!is_loopback("http://192.168.1.5:1234/v1/chat/completions"));
    }

    #[test]
    fn jitter_stays_in_the_unit_interval() {
        let provider =
            OpenAiProvider::from_config(&config("http://127.0.0.1:9/v1")).expect("builds");
        for _ in 0..1000 {
            let j = provider.jitter();
            assert!((0.0..1.0).contains(&j), "{j}");
        }
    }
}
