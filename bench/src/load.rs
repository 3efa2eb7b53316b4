//! The one load pattern every latency figure uses: N callers, each on its own
//! connection, each with one request in flight at a time (a closed loop). Each warms up,
//! then all start together; every round trip is timed, and the wall time from the common
//! start to the last caller's end gives the throughput. Each phase ends at its count or
//! at its time limit, whichever comes first, so a slow path still ends in bounded time
//! (the report gives the number of round trips actually timed).

use crate::BenchResult;
use crate::stats::{Latencies, Summary};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Barrier;

/// One caller: a connection and the round trip it times.
pub trait Caller: Send + 'static {
    /// One request and its answer; `index` counts this caller's calls from 0.
    fn round_trip(&mut self, index: u64) -> impl Future<Output = BenchResult> + Send;
}

/// How many round trips.
#[derive(Debug, Clone, Copy)]
pub struct Counts {
    /// Per caller, not timed.
    pub warmup: u64,
    /// Per caller, timed.
    pub measured: u64,
    /// The longest the timed phase may last; the warm-up gets a quarter of it.
    pub limit: Duration,
}

/// The outcome of a run: every caller's latencies merged, with the wall time.
#[derive(Debug)]
pub struct Measured<C> {
    pub latencies: Latencies,
    pub wall: Duration,
    /// The callers, handed back so their connections can be reused or closed.
    pub callers: Vec<C>,
    /// Round trips made, warm-up included.
    pub calls: u64,
}

impl<C> Measured<C> {
    pub fn summary(&self) -> Summary {
        self.latencies.summary(Some(self.wall))
    }
}

/// Runs `callers` concurrently, each `counts.warmup` then `counts.measured` round trips.
pub async fn run<C: Caller>(callers: Vec<C>, counts: Counts) -> BenchResult<Measured<C>> {
    let barrier = Arc::new(Barrier::new(callers.len()));
    let mut tasks = Vec::with_capacity(callers.len());
    for mut caller in callers {
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            let mut warmed_up = Ok(());
            let (mut index, warmup_started) = (0, Instant::now());
            while index < counts.warmup && warmup_started.elapsed() < counts.limit / 4 {
                warmed_up = caller.round_trip(index).await;
                index += 1;
                if warmed_up.is_err() {
                    break;
                }
            }
            // Every caller reaches the barrier, even a failed one, so none waits forever.
            barrier.wait().await;
            warmed_up?;
            let started = Instant::now();
            let mut latencies = Latencies::new()?;
            let mut calls = 0;
            while calls < counts.measured && started.elapsed() < counts.limit {
                let sent = Instant::now();
                caller.round_trip(index).await?;
                latencies.record(sent.elapsed());
                index += 1;
                calls += 1;
            }
            BenchResult::Ok((caller, latencies, started, Instant::now(), index))
        }));
    }
    let mut merged = Latencies::new()?;
    let mut callers = Vec::with_capacity(tasks.len());
    let mut span: Option<(Instant, Instant)> = None;
    let mut first_error = None;
    let mut calls = 0;
    for task in tasks {
        match task.await {
            Ok(Ok((caller, latencies, started, ended, made))) => {
                merged.merge(&latencies)?;
                calls += made;
                span = Some(match span {
                    Some((first, last)) => (first.min(started), last.max(ended)),
                    None => (started, ended),
                });
                callers.push(caller);
            }
            Ok(Err(error)) => {
                first_error.get_or_insert(error);
            }
            Err(error) => {
                first_error.get_or_insert(format!("a caller panicked: {error}").into());
            }
        }
    }
    if let Some(error) = first_error {
        return Err(error);
    }
    let wall = span.map_or(Duration::ZERO, |(first, last)| last.duration_since(first));
    Ok(Measured {
        latencies: merged,
        wall,
        callers,
        calls,
    })
}
