//! When to retry a provider request, and how long to wait first.
//!
//! Retried: 429 (rate limited), 408 and 5xx (the provider's trouble), timeouts and
//! connection errors. Not retried: other 4xx (a wrong key, model or request will not fix
//! itself) and answers that are not completions. Waits grow exponentially with jitter,
//! so that several servers behind one key do not retry in lockstep; a Retry-After from
//! the provider wins, bounded so that one header cannot stall a turn for minutes (the
//! turn's own wall-time limit bounds it too).

use std::time::Duration;

/// The longest a Retry-After header is honoured for.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// The longest exponential wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Whether an HTTP status is worth another attempt.
pub fn status_is_retryable(status: u16) -> bool {
    status == 429 || status == 408 || (500..=599).contains(&status)
}

/// The wait a response asks for: `Retry-After` in seconds (fractions accepted), or the
/// `retry-after-ms` some providers send. HTTP-date forms are not read (the exponential
/// wait applies instead).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let read = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .and_then(|text| text.trim().parse::<f64>().ok())
            .filter(|n| n.is_finite() && *n >= 0.0)
    };
    read("retry-after-ms")
        .map(|ms| Duration::from_secs_f64(ms.min(MAX_RETRY_AFTER.as_secs_f64() * 1000.0) / 1000.0))
        .or_else(|| {
            read("retry-after")
                .map(|s| Duration::from_secs_f64(s.min(MAX_RETRY_AFTER.as_secs_f64())))
        })
}

/// The wait before attempt `attempt + 1`, after `attempt` (1-based) failed.
///
/// `jitter` is a number in `[0, 1)`: the wait is between half and all of the exponential
/// step (`base`, `2 × base`, `4 × base`, ... up to [`MAX_BACKOFF`]). A Retry-After replaces
/// it, capped at [`MAX_RETRY_AFTER`].
pub fn delay(attempt: u32, base: Duration, retry_after: Option<Duration>, jitter: f64) -> Duration {
    if let Some(wait) = retry_after {
        return wait.min(MAX_RETRY_AFTER);
    }
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
    let step = base.saturating_mul(factor).min(MAX_BACKOFF.max(base));
    let jitter = jitter.clamp(0.0, 1.0);
    step / 2 + step.mul_f64(jitter / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    #[test]
    fn rate_limits_and_server_errors_are_retried_client_errors_are_not() {
        for status in [429, 408, 500, 502, 503, 504] {
            assert!(status_is_retryable(status), "{status}");
        }
        for status in [400, 401, 403, 404, 422] {
            assert!(!status_is_retryable(status), "{status}");
        }
    }

    #[test]
    fn waits_double_with_jitter_within_half_and_all_of_the_step() {
        let base = Duration::from_millis(500);
        assert_eq!(delay(1, base, None, 0.0), Duration::from_millis(250));
        assert_eq!(delay(1, base, None, 1.0), Duration::from_millis(500));
        assert_eq!(delay(2, base, None, 1.0), Duration::from_millis(1000));
        assert_eq!(delay(3, base, None, 0.5), Duration::from_millis(1500));
        assert_eq!(delay(30, base, None, 1.0), MAX_BACKOFF);
    }

    #[test]
    fn retry_after_wins_and_is_bounded() {
        let base = Duration::from_millis(500);
        assert_eq!(
            delay(1, base, Some(Duration::from_secs(2)), 0.9),
            Duration::from_secs(2)
        );
        assert_eq!(
            delay(1, base, Some(Duration::from_secs(3600)), 0.9),
            MAX_RETRY_AFTER
        );
    }

    #[test]
    fn retry_after_headers_are_read_in_seconds_or_milliseconds() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), None);
        headers.insert("retry-after", HeaderValue::from_static("99999"));
        assert_eq!(retry_after(&headers), Some(MAX_RETRY_AFTER));
        headers.insert("retry-after-ms", HeaderValue::from_static("150"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(150)));
    }
}
