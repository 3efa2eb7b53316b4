//! (e) The server's memory: resident set size (`VmRSS`) idle, with 32 clients connected,
//! and around a flood of 100,000 roll requests of which 10,000 time out, then after the
//! server's sweep has had time to forget every tombstone; then the same flood and sweep
//! again, [`FLOODS`] times in all on the same server, which tells memory that is reused
//! from memory that leaks or that the allocator keeps. The goal is a plateau: the reading
//! after every sweep within 2 MB of the first flood's.
//!
//! The run shortens the tombstone TTL ([`TOMBSTONE_TTL_MS`], production keeps them at
//! least 10 minutes) so that the sweep (every 10 s) can empty the registry within the
//! run; everything else is the server's default. Requests are made by 32 callers, one
//! per client, through `POST /api/test/rolls`; every tenth asks for a roll the client
//! leaves unanswered, with a short deadline ([`TIMEOUT_MS`]), and must answer 504.
//!
//! The same measurement runs on each build of the server that the run is given (the
//! default one and, with `--compare NAME=PATH`, the same server with another global
//! allocator), one after the other, so that one run compares the allocators.
//!
//! Each reading gives `RssAnon` beside `VmRSS`, to tell heap from the binary's pages.
//! Whether memory that stays after the sweep is live or only kept by the allocator can be
//! checked by hand on a build with the system's malloc: while the run waits for the
//! sweep, ask glibc to give back every free page and read the RSS again:
//!
//! ```text
//! pid=$(pgrep -f roll-tombstone-ttl-ms)
//! grep -E 'VmRSS|RssAnon' /proc/$pid/status
//! gdb -p $pid -batch -ex 'call (int)malloc_trim(0)'
//! grep -E 'VmRSS|RssAnon' /proc/$pid/status
//! ```
//!
//! What such checks found on the machine of the first report (2 cores, glibc 2.36,
//! 2026-11-27): after a 10,000-request flood, `RssAnon` fell from 8240 kB to 6212 kB.
//! After 100,000-request floods repeated five times on one server, `RssAnon` after each
//! sweep read 13824, 27408, 28068, 33208, 26172 kB, and after `malloc_trim(0)` 8048, 19004,
//! 19268, 24872, 13124 kB: it goes down as well as up, so it is not a steady leak, but
//! glibc keeps tens of MB of a heap fragmented by the bursts. That is why the server's
//! default build uses another allocator (server/Cargo.toml, `[features]`).

use crate::BenchResult;
use crate::churn::ChurnFigures;
use crate::http::HttpConnection;
use crate::native::{Responder, Transport, UNANSWERED_FLAVOR};
use crate::server::{ADMIN_TOKEN, Reading, ServerProcess};
use gold_box_protocol::{RollRequest, TestRollRequest};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Tombstones are forgotten after this long in this run.
pub const TOMBSTONE_TTL_MS: u64 = 5_000;
/// The deadline of the requests that time out.
pub const TIMEOUT_MS: u64 = 25;
/// The server's sweep interval (`HOUSEKEEPING_INTERVAL` in server/src/lib.rs).
const SWEEP_INTERVAL: Duration = Duration::from_secs(10);
/// "Returns to its baseline" and "a plateau" mean within this much of it (2 MB).
pub const RETURN_MARGIN_BYTES: u64 = 2_000_000;
/// How many floods a full run sends to each server (a quick run: [`QUICK_FLOODS`]).
pub const FLOODS: usize = 5;
pub const QUICK_FLOODS: usize = 2;
/// Time for the process to settle before a reading.
const SETTLE: Duration = Duration::from_secs(1);

/// How big the flood is.
#[derive(Debug, Clone, Copy)]
pub struct Flood {
    pub clients: usize,
    pub requests: u64,
    /// Every `timeout_every`-th request times out.
    pub timeout_every: u64,
    /// How many times the flood is sent to the same server, each followed by the sweep.
    pub floods: usize,
    /// How many clients come and go in each round of [`crate::churn`].
    pub churn_clients: usize,
}

/// A build of the server whose memory is measured: its global allocator and its path.
#[derive(Debug, Clone)]
pub struct Build {
    pub allocator: String,
    pub binary: std::path::PathBuf,
}

/// The readings of one build, in bytes.
#[derive(Debug, Clone)]
pub struct MemoryFigures {
    /// The allocator of the build measured.
    pub allocator: String,
    pub flood: Flood,
    pub idle: Reading,
    pub clients_connected: Reading,
    /// Each flood and its sweep, in order, on the same server: the first is the one the
    /// baseline goal is about; memory that is reused, not leaked, comes back to about the
    /// same reading after the others.
    pub rounds: Vec<Round>,
    /// Peak RSS over every flood (`VmHWM`).
    pub peak: u64,
    pub clients_gone: Reading,
    /// Requests still pending in the server after the last sweep (must be 0).
    pub pending_after: u64,
    /// Clients that come and go, on a server of its own.
    pub churn: ChurnFigures,
}

/// One flood and the sweep after it.
#[derive(Debug, Clone)]
pub struct Round {
    /// Read when a quarter, half, three quarters and all of the requests were issued.
    pub during: Vec<u64>,
    pub after_flood: Reading,
    pub after_sweep: Reading,
    /// How long after the flood `after_sweep` was read.
    pub sweep_wait: Duration,
    pub answered: u64,
    pub timed_out: u64,
    pub flood_time: Duration,
}

impl MemoryFigures {
    /// The first flood and its sweep.
    pub fn first(&self) -> &Round {
        &self.rounds[0]
    }

    /// Whether the RSS after the first flood's sweep is within the margin of the
    /// connected baseline.
    pub fn returned(&self) -> bool {
        self.first().after_sweep.total <= self.clients_connected.total + RETURN_MARGIN_BYTES
    }

    /// The largest reading after a sweep above the first flood's, in bytes (0 when none
    /// is above it).
    pub fn growth(&self) -> u64 {
        let first = self.first().after_sweep.total;
        self.rounds
            .iter()
            .map(|round| round.after_sweep.total.saturating_sub(first))
            .max()
            .unwrap_or(0)
    }

    /// Whether every reading after a sweep is within the margin of the first flood's.
    pub fn plateau(&self) -> bool {
        self.growth() <= RETURN_MARGIN_BYTES
    }

    /// The reading after the last flood's sweep.
    pub fn last(&self) -> &Round {
        &self.rounds[self.rounds.len() - 1]
    }
}

/// Measures each build in turn, the same way.
pub async fn measure_builds(
    builds: &[Build],
    module_dir: &Path,
    flood: Flood,
) -> BenchResult<Vec<MemoryFigures>> {
    let mut figures = Vec::with_capacity(builds.len());
    for build in builds {
        crate::step(&format!(
            "    {}: {} floods of {} requests, each followed by the sweep",
            build.allocator, flood.floods, flood.requests
        ));
        figures.push(measure(build, module_dir, flood).await?);
    }
    Ok(figures)
}

/// One build: a fresh server, its clients, the floods, the clients gone.
pub async fn measure(build: &Build, module_dir: &Path, flood: Flood) -> BenchResult<MemoryFigures> {
    let args = [
        "--roll-tombstone-ttl-ms".to_owned(),
        TOMBSTONE_TTL_MS.to_string(),
    ];
    let server = ServerProcess::gold_box(&build.binary, module_dir, &args).await?;
    tokio::time::sleep(SETTLE).await;
    let idle = server.reading()?;

    let mut responders = Vec::with_capacity(flood.clients);
    for index in 0..flood.clients {
        let client_id = format!("gb-bench-{index}");
        responders.push(Responder::start(&server, &client_id, Transport::WebSocket).await?);
    }
    tokio::time::sleep(SETTLE).await;
    let clients_connected = server.reading()?;

    let mut rounds = Vec::with_capacity(flood.floods);
    for number in 1..=flood.floods.max(1) {
        let round = flood_and_sweep(&server, &responders, flood, clients_connected).await?;
        crate::step(&format!(
            "      flood {number}: VmRSS {} kB, RssAnon {} kB after the sweep ({:.0} s after the flood)",
            round.after_sweep.total / 1024,
            round.after_sweep.anon / 1024,
            round.sweep_wait.as_secs_f64()
        ));
        rounds.push(round);
    }
    let peak = server.peak_rss_bytes()?;
    let pending_after = server.metrics().await?.system.pending_ai_requests;

    for responder in responders {
        responder.stop().await?;
    }
    tokio::time::sleep(SETTLE).await;
    let clients_gone = server.reading()?;
    drop(server);

    let churn = crate::churn::measure(&build.binary, module_dir, flood.churn_clients).await?;
    Ok(MemoryFigures {
        allocator: build.allocator.clone(),
        flood,
        idle,
        clients_connected,
        rounds,
        peak,
        clients_gone,
        pending_after,
        churn,
    })
}

/// One flood from one caller per client, then the wait for the sweep.
async fn flood_and_sweep(
    server: &ServerProcess,
    responders: &[Responder],
    flood: Flood,
    baseline: Reading,
) -> BenchResult<Round> {
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let mut callers = Vec::with_capacity(responders.len());
    for responder in responders {
        let http = HttpConnection::connect(server.addr()).await?;
        callers.push(tokio::spawn(call_until_done(
            http,
            responder.client_id.clone(),
            next.clone(),
            flood,
        )));
    }
    // The RSS at each quarter of the requests issued.
    let mut during = Vec::with_capacity(4);
    let mut quarter = 1;
    loop {
        let issued = next.load(Ordering::Relaxed).min(flood.requests);
        while quarter <= 4 && issued >= flood.requests * quarter / 4 {
            during.push(server.rss_bytes()?);
            quarter += 1;
        }
        if callers.iter().all(|caller| caller.is_finished()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (mut answered, mut timed_out) = (0, 0);
    for caller in callers {
        let (a, t) = caller
            .await
            .map_err(|e| format!("a flood caller panicked: {e}"))??;
        answered += a;
        timed_out += t;
    }
    let flood_time = started.elapsed();
    let flood_ended = Instant::now();
    tokio::time::sleep(SETTLE).await;
    let after_flood = server.reading()?;

    // Tombstones age out after the TTL and the next sweep forgets them; wait for up to
    // two sweeps, and stop early once the reading is back within the margin.
    let earliest = Duration::from_millis(TOMBSTONE_TTL_MS) + SWEEP_INTERVAL + SETTLE;
    let latest = Duration::from_millis(TOMBSTONE_TTL_MS) + 2 * SWEEP_INTERVAL + 2 * SETTLE;
    let mut after_sweep: Reading;
    loop {
        tokio::time::sleep(SETTLE).await;
        after_sweep = server.reading()?;
        let waited = flood_ended.elapsed();
        let back = after_sweep.total <= baseline.total + RETURN_MARGIN_BYTES;
        if (waited >= earliest && back) || waited >= latest {
            break;
        }
    }
    Ok(Round {
        during,
        after_flood,
        after_sweep,
        sweep_wait: flood_ended.elapsed(),
        answered,
        timed_out,
        flood_time,
    })
}

/// Takes request numbers from `next` until the flood is done; returns (answered, timed out).
async fn call_until_done(
    mut http: HttpConnection,
    client_id: String,
    next: Arc<AtomicU64>,
    flood: Flood,
) -> BenchResult<(u64, u64)> {
    let body = |unanswered: bool| {
        serde_json::to_vec(&TestRollRequest {
            client_id: client_id.clone(),
            rolls: vec![RollRequest {
                formula: "1d20".into(),
                flavor: unanswered.then(|| UNANSWERED_FLAVOR.to_owned()),
            }],
            timeout_ms: unanswered.then_some(TIMEOUT_MS),
        })
    };
    let (answered_body, unanswered_body) = (body(false)?, body(true)?);
    let (mut answered, mut timed_out) = (0, 0);
    loop {
        let number = next.fetch_add(1, Ordering::Relaxed);
        if number >= flood.requests {
            return Ok((answered, timed_out));
        }
        let unanswered = number % flood.timeout_every == flood.timeout_every - 1;
        let body = if unanswered {
            &unanswered_body
        } else {
            &answered_body
        };
        let answer = http
            .post_json("/api/test/rolls", Some(ADMIN_TOKEN), body)
            .await?;
        match (unanswered, answer.status) {
            (false, 200) => answered += 1,
            (true, 504) => timed_out += 1,
            (_, status) => {
                return Err(format!(
                    "request {number} (unanswered: {unanswered}) got {status}: {}",
                    String::from_utf8_lossy(&answer.body)
                )
                .into());
            }
        }
    }
}
