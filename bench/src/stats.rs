//! Latency recording and summaries: an HDR histogram in nanoseconds (three significant
//! digits), summarised as count, p50, p99, max and, when a wall time is known, throughput.

use crate::BenchResult;
use hdrhistogram::Histogram;
use std::time::Duration;

/// The longest latency recorded exactly (a minute); longer ones are recorded as a minute.
const HIGHEST_NS: u64 = 60_000_000_000;

/// Round-trip times of one measurement.
#[derive(Debug, Clone)]
pub struct Latencies {
    histogram: Histogram<u64>,
}

impl Latencies {
    pub fn new() -> BenchResult<Latencies> {
        let histogram = Histogram::new_with_bounds(1, HIGHEST_NS, 3)
            .map_err(|e| format!("cannot create a latency histogram: {e}"))?;
        Ok(Latencies { histogram })
    }

    pub fn record(&mut self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.histogram.saturating_record(nanos.max(1));
    }

    /// Adds another caller's samples to these.
    pub fn merge(&mut self, other: &Latencies) -> BenchResult {
        self.histogram
            .add(&other.histogram)
            .map_err(|e| format!("cannot merge latency histograms: {e:?}").into())
    }

    /// The summary; `wall` is the time the whole measurement took, for throughput.
    pub fn summary(&self, wall: Option<Duration>) -> Summary {
        let ms = |nanos: u64| nanos as f64 / 1_000_000.0;
        let count = self.histogram.len();
        Summary {
            count,
            p50_ms: ms(self.histogram.value_at_quantile(0.50)),
            p99_ms: ms(self.histogram.value_at_quantile(0.99)),
            max_ms: ms(self.histogram.max()),
            per_second: wall
                .filter(|wall| !wall.is_zero())
                .map(|wall| count as f64 / wall.as_secs_f64()),
        }
    }
}

/// What a latency measurement is reported as.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Completed round trips per second over the whole measurement, when meaningful.
    pub per_second: Option<f64>,
}

impl Summary {
    /// A summary from figures measured elsewhere (the server's own histogram).
    pub fn from_figures(count: u64, p50_ms: f64, p99_ms: f64, max_ms: f64) -> Summary {
        Summary {
            count,
            p50_ms,
            p99_ms,
            max_ms,
            per_second: None,
        }
    }
}
