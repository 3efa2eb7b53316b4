//! (e, continued) The server's memory around clients that come and go: a long session at a
//! table sees many page loads, each a new client id whose record (settings, context
//! frames) the server keeps until `--client-ttl-ms` after it left. [`CHURN_CLIENTS`]
//! clients each connect, send ten 2 KB `chat_message` frames and a `settings_sync`, and
//! go, [`AT_ONCE`] at a time; the RSS is read at rest, with every record held, and after
//! the TTL and the sweep; then the same again with new ids, which tells memory that is
//! reused from memory that grows. The goal: back within [`CHURN_MARGIN_BYTES`] of the
//! reading at rest once the records are gone.
//!
//! The records themselves do go (the server's integration test
//! `records_of_clients_that_have_gone_are_evicted_after_their_ttl` counts them back to
//! zero; heaptrack on a glibc debug build, killed after the sweep, found 233 KB still
//! allocated): what this measures is whether the allocator hands the freed memory back to
//! the system while the server sits idle, so it runs on every build compared. By hand, on
//! debug builds: mimalloc kept 6 to 10 MB above rest even with `MIMALLOC_PURGE_DELAY=0`,
//! 28 MB with its defaults; jemalloc with its default 10 s decay between 6 and 28 MB,
//! depending on where the reading fell in the decay; with a 1 s decay and the background
//! thread, 3.6 to 4.2 MB in this benchmark. jemalloc's own statistics (a build with the
//! `tikv-jemallocator/stats` feature, `malloc_stats_print` called from gdb) told where
//! that rise was: 1.4 MB of its metadata (a record per slab, and 7,000 one-page slabs of
//! two 2 KB frames each when read, the records kept for good), 0.4 MB more in the idle threads' caches and
//! 1.1 MB of slabs kept part-empty around cached and long-lived objects; what the server
//! itself still held grew by 50 KB. The options the server now builds it with
//! (.cargo/config.toml: no thread caches, 16 KB slabs for the 1 to 8 KB classes) leave
//! about 1.2 MB.

use crate::BenchResult;
use crate::native::{connect_to, next_frame, send};
use crate::server::{Reading, ServerProcess};
use gold_box_protocol::{
    ClientFrame, ClientMessage, JsonMap, JsonValue, ServerMessage, SettingsSync,
};
use std::path::Path;
use std::time::Duration;

/// How many clients come and go in each round (a quick run: [`QUICK_CHURN_CLIENTS`]).
pub const CHURN_CLIENTS: usize = 2_000;
pub const QUICK_CHURN_CLIENTS: usize = 400;
/// How many are connected at once.
const AT_ONCE: usize = 50;
/// Context frames each client sends, and the size of each.
const FRAMES_PER_CLIENT: usize = 10;
const FRAME_BYTES: usize = 2_000;
/// The records' TTL in this run (production keeps them 30 minutes by default).
const CLIENT_TTL_MS: u64 = 2_000;
/// The server's sweep interval (`HOUSEKEEPING_INTERVAL` in server/src/lib.rs).
const SWEEP_INTERVAL: Duration = Duration::from_secs(10);
/// Time for the process (and the allocator's own purging, which may lag a second or so)
/// to settle before a reading.
const SETTLE: Duration = Duration::from_secs(2);
/// "Within a few MB of the reading at rest": 4 MB of `VmRSS`.
pub const CHURN_MARGIN_BYTES: u64 = 4_000_000;

/// The readings of one build, in bytes.
#[derive(Debug, Clone)]
pub struct ChurnFigures {
    pub clients: usize,
    pub at_rest: Reading,
    /// Each round: (every record held, after the TTL and a sweep).
    pub rounds: Vec<(Reading, Reading)>,
}

impl ChurnFigures {
    /// How far above the reading at rest the highest reading after a sweep is.
    pub fn rise(&self) -> u64 {
        self.rounds
            .iter()
            .map(|(_, after)| after.total.saturating_sub(self.at_rest.total))
            .max()
            .unwrap_or(0)
    }

    /// Whether every reading after a sweep is within the margin of the one at rest.
    pub fn returned(&self) -> bool {
        self.rise() <= CHURN_MARGIN_BYTES
    }
}

/// One build: a fresh server with a short client TTL, two rounds of clients.
pub async fn measure(
    binary: &Path,
    module_dir: &Path,
    clients: usize,
) -> BenchResult<ChurnFigures> {
    let args = ["--client-ttl-ms".to_owned(), CLIENT_TTL_MS.to_string()];
    let server = ServerProcess::gold_box(binary, module_dir, &args).await?;
    tokio::time::sleep(SETTLE).await;
    let at_rest = server.reading()?;
    let mut rounds = Vec::with_capacity(2);
    for round in 0..2 {
        let first_id = round * clients;
        for batch in (0..clients).step_by(AT_ONCE) {
            let mut passers = tokio::task::JoinSet::new();
            for index in batch..(batch + AT_ONCE).min(clients) {
                let (url, id) = (server.ws_url(), format!("gb-passer-{}", first_id + index));
                passers.spawn(async move { pass_by(&url, &id).await });
            }
            while let Some(passed) = passers.join_next().await {
                passed.map_err(|e| format!("a client task failed: {e}"))??;
            }
        }
        tokio::time::sleep(SETTLE).await;
        let held = server.reading()?;
        // The records are evicted by the first sweep after the TTL; wait for the latest.
        tokio::time::sleep(Duration::from_millis(CLIENT_TTL_MS) + SWEEP_INTERVAL + SETTLE).await;
        let after = server.reading()?;
        crate::step(&format!(
            "      round {}: VmRSS {} kB with every record, {} kB after the TTL and a sweep",
            round + 1,
            held.total / 1024,
            after.total / 1024
        ));
        rounds.push((held, after));
    }
    Ok(ChurnFigures {
        clients,
        at_rest,
        rounds,
    })
}

/// One client: connects, sends its context and settings, waits for the settings' ack
/// (so everything it sent was handled), and goes.
async fn pass_by(ws_url: &str, client_id: &str) -> BenchResult {
    let mut ws = connect_to(ws_url, client_id).await?;
    let line = "x".repeat(FRAME_BYTES);
    for _ in 0..FRAMES_PER_CLIENT {
        let entry = JsonValue::Object(JsonMap::from([
            ("speaker".to_owned(), JsonValue::String("A".into())),
            ("content".to_owned(), JsonValue::String(line.clone())),
        ]));
        send(
            &mut ws,
            &ClientFrame::new(ClientMessage::ChatMessage(entry)),
        )
        .await?;
    }
    let settings = SettingsSync {
        revision: 1,
        settings: JsonMap::from([("aiRole".to_owned(), JsonValue::String("dm".into()))]),
    };
    let sync = ClientFrame::new(ClientMessage::SettingsSync(settings)).with_request_id("s");
    send(&mut ws, &sync).await?;
    loop {
        if let ServerMessage::SettingsAck(_) = next_frame(&mut ws).await?.message {
            break;
        }
    }
    ws.close(None).await?;
    Ok(())
}
