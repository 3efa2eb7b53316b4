//! (c) Fast-path isolation: the `ping` round trip while an AI turn is held busy.
//!
//! Client A sends a `chat_request` ("I attack the goblin with my longsword!"); the
//! offline AI asks A for the attack roll (`execute_roll`), which A never answers, so the
//! turn holds the AI for the whole measurement (the server's roll timeout is raised so it
//! cannot end early; `/api/health` must report `ai_busy` before and after). Pings are
//! timed on A's own socket and on a second client B's, and, for comparison, on B before
//! the turn starts, together with the server's plain HTTP round trip (`GET /api/health`).

use crate::BenchResult;
use crate::http::HttpConnection;
use crate::load::{self, Caller, Counts};
use crate::native::{self, Ws};
use crate::rolls::HealthCaller;
use crate::server::ServerProcess;
use crate::stats::Summary;
use gold_box_protocol::{
    ChatEntry, ChatKind, ChatRequest, ClientFrame, ClientMessage, HealthResponse, ServerMessage,
};
use std::path::Path;

/// What the player says: the offline AI answers an attack with a roll request.
const ATTACK: &str = "I attack the goblin with my longsword!";
/// The roll timeout for this run: far longer than the measurement, so the turn stays busy.
const ROLL_TIMEOUT_MS: &str = "120000";

/// The figures of (c), with the idle references.
#[derive(Debug, Clone)]
pub struct BusyFigures {
    pub ping_idle: Summary,
    pub health_idle: Summary,
    pub ping_busy_other: Summary,
    pub ping_busy_same: Summary,
}

pub async fn measure(binary: &Path, module_dir: &Path, counts: Counts) -> BenchResult<BusyFigures> {
    let args = ["--roll-timeout-ms".to_owned(), ROLL_TIMEOUT_MS.to_owned()];
    let server = ServerProcess::gold_box(binary, module_dir, &args).await?;
    let player = native::connect(&server, "gb-bench-turn").await?;
    let other = native::connect(&server, "gb-bench-other").await?;

    let idle = load::run(vec![PingCaller::new(other)], counts).await?;
    let ping_idle = idle.summary();
    let other = single(idle.callers)?;
    let health = HealthCaller {
        http: HttpConnection::connect(server.addr()).await?,
    };
    let health_idle = load::run(vec![health], counts).await?.summary();

    let player = hold_a_turn(&server, player).await?;
    let busy_other = load::run(vec![other], counts).await?;
    let busy_same = load::run(vec![player], counts).await?;
    if !ai_busy(&server).await? {
        return Err(
            "the AI turn ended during the measurement; its figures would be idle ones".into(),
        );
    }
    Ok(BusyFigures {
        ping_idle,
        health_idle,
        ping_busy_other: busy_other.summary(),
        ping_busy_same: busy_same.summary(),
    })
}

/// Starts a turn on `ws` and waits until it asks for the roll that will never come.
async fn hold_a_turn(server: &ServerProcess, mut ws: Ws) -> BenchResult<PingCaller> {
    let request = ClientFrame::new(ClientMessage::ChatRequest(ChatRequest {
        messages: vec![ChatEntry {
            speaker: "Aria".into(),
            content: ATTACK.into(),
            kind: ChatKind::Chat,
            timestamp: 1_764_216_000_000,
        }],
        settings_revision: 0,
    }))
    .with_request_id("bench-turn-1");
    native::send(&mut ws, &request).await?;
    loop {
        let frame = native::next_frame(&mut ws).await?;
        match frame.message {
            ServerMessage::ExecuteRoll(_) => break,
            ServerMessage::AiTurnComplete(complete) => {
                return Err(
                    format!("the AI turn ended without asking for a roll: {complete:?}").into(),
                );
            }
            ServerMessage::Error(error) => {
                return Err(format!("the chat_request was refused: {error:?}").into());
            }
            _ => {}
        }
    }
    if !ai_busy(server).await? {
        return Err("/api/health does not report the AI busy during the turn".into());
    }
    Ok(PingCaller::new(ws))
}

async fn ai_busy(server: &ServerProcess) -> BenchResult<bool> {
    let mut http = HttpConnection::connect(server.addr()).await?;
    let health: HealthResponse = http.get("/api/health", None).await?.json()?;
    Ok(health.ai_busy)
}

fn single<T>(mut items: Vec<T>) -> BenchResult<T> {
    items.pop().ok_or_else(|| "a caller went missing".into())
}

/// Pings on one socket.
#[derive(Debug)]
pub struct PingCaller {
    ws: Ws,
    request_id: String,
}

impl PingCaller {
    pub fn new(ws: Ws) -> PingCaller {
        PingCaller {
            ws,
            request_id: String::new(),
        }
    }
}

impl Caller for PingCaller {
    async fn round_trip(&mut self, index: u64) -> BenchResult {
        self.request_id.clear();
        self.request_id.push_str(&format!("bench-ping-{index}"));
        native::ping_round_trip(&mut self.ws, &self.request_id).await
    }
}
