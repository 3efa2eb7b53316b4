//! (a) and (b): the roll round trip. A caller asks the server for a roll with
//! `POST /api/test/rolls` (the `load-testing` feature), which goes through the very path
//! the AI's roll tool takes: the server issues `execute_roll`, a native client answers
//! (over the socket for (a), over `POST /api/roll-result` for (b)), the waiting request
//! resumes and the HTTP call returns. Each figure is measured twice: by the caller, from
//! the HTTP request to its answer (so it includes that HTTP exchange), and by the
//! server itself (`roll_results.latency_ms` of `GET /api/metrics`: from issuing
//! `execute_roll` to accepting its result), on a fresh server per run.

use crate::BenchResult;
use crate::http::HttpConnection;
use crate::load::{self, Caller, Counts};
use crate::native::{Responder, Transport};
use crate::server::{ADMIN_TOKEN, ServerProcess};
use crate::stats::Summary;
use gold_box_protocol::{RollRequest, TestRollRequest, TestRollResponse};
use std::path::Path;

/// One run's figures.
#[derive(Debug, Clone)]
pub struct RollFigures {
    /// Timed by the caller, HTTP request to answer.
    pub end_to_end: Summary,
    /// Timed by the server, `execute_roll` issued to result accepted (warm-up included).
    pub server: Summary,
}

/// Runs `clients` clients answering over `transport`, one caller each.
pub async fn measure(
    binary: &Path,
    module_dir: &Path,
    clients: usize,
    transport: Transport,
    counts: Counts,
    server_args: &[String],
) -> BenchResult<RollFigures> {
    let server = ServerProcess::gold_box(binary, module_dir, server_args).await?;
    let mut responders = Vec::with_capacity(clients);
    let mut callers = Vec::with_capacity(clients);
    for index in 0..clients {
        let client_id = format!("gb-bench-{index}");
        responders.push(Responder::start(&server, &client_id, transport).await?);
        callers.push(RollCaller::connect(&server, &client_id).await?);
    }
    let measured = load::run(callers, counts).await?;
    let mut answered = 0;
    for responder in responders {
        answered += responder.stop().await?;
    }
    let expected = measured.calls;
    if answered != expected {
        return Err(format!("{answered} rolls answered, {expected} requested").into());
    }
    let metrics = server.metrics().await?;
    let rolls = &metrics.websocket.roll_results;
    if rolls.accepted != expected {
        return Err(format!(
            "the server accepted {} results, {expected} were sent",
            rolls.accepted
        )
        .into());
    }
    let latency = &rolls.latency_ms;
    Ok(RollFigures {
        end_to_end: measured.summary(),
        server: Summary::from_figures(rolls.accepted, latency.p50, latency.p99, latency.max),
    })
}

/// A caller of `POST /api/test/rolls` for one client.
#[derive(Debug)]
pub struct RollCaller {
    http: HttpConnection,
    body: Vec<u8>,
}

impl RollCaller {
    pub async fn connect(server: &ServerProcess, client_id: &str) -> BenchResult<RollCaller> {
        let request = TestRollRequest {
            client_id: client_id.to_owned(),
            rolls: vec![RollRequest {
                formula: "1d20+5".into(),
                flavor: Some("Attack".into()),
            }],
            timeout_ms: None,
        };
        Ok(RollCaller {
            http: HttpConnection::connect(server.addr()).await?,
            body: serde_json::to_vec(&request)?,
        })
    }
}

impl Caller for RollCaller {
    async fn round_trip(&mut self, _index: u64) -> BenchResult {
        let answer = self
            .http
            .post_json("/api/test/rolls", Some(ADMIN_TOKEN), &self.body)
            .await?;
        if answer.status == 404 {
            return Err("the server has no POST /api/test/rolls: build it with \
                        `cargo build --release -p gold-box-server-bin --features load-testing`"
                .into());
        }
        if answer.status != 200 {
            return Err(format!(
                "POST /api/test/rolls answered {}: {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            )
            .into());
        }
        let response: TestRollResponse = answer.json()?;
        if response.results.len() != 1 {
            return Err(format!("expected one roll outcome, got {response:?}").into());
        }
        Ok(())
    }
}

/// A caller of `GET /api/health`: the HTTP round trip on the same server, for reference.
#[derive(Debug)]
pub struct HealthCaller {
    pub http: HttpConnection,
}

impl Caller for HealthCaller {
    async fn round_trip(&mut self, _index: u64) -> BenchResult {
        let answer = self.http.get("/api/health", None).await?;
        if answer.status == 200 {
            Ok(())
        } else {
            Err(format!("GET /api/health answered {}", answer.status).into())
        }
    }
}
