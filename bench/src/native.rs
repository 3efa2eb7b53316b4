//! A native Gold Box client: the handshake, and a responder that answers every
//! `execute_roll` the way the browser core does, over the socket (`roll_result`) or over
//! `POST /api/roll-result`.
//!
//! Frames are the `gold_box_protocol` types, encoded and decoded with serde_json, so the
//! client speaks exactly what `docs/PROTOCOL.md` pins. Sockets have `TCP_NODELAY` set.

use crate::BenchResult;
use crate::http::HttpConnection;
use crate::server::{ServerProcess, TOKEN};
use futures_util::{SinkExt, StreamExt};
use gold_box_protocol::{
    ClientFrame, ClientMessage, Connect, DieResult, DieTerm, Empty, RawFrame, RollOutcome,
    RollResult, RollResultSubmission, ServerFrame, ServerMessage, UserInfo, WorldInfo,
};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A roll with this flavor is never answered: the benchmarks' way to make requests time out.
pub const UNANSWERED_FLAVOR: &str = "bench: leave unanswered";
/// How long the client waits for any one frame before it gives up.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens `/ws` (no `Origin`, like any native client) and completes the handshake.
pub async fn connect(server: &ServerProcess, client_id: &str) -> BenchResult<Ws> {
    connect_to(&server.ws_url(), client_id).await
}

/// [`connect`] by the socket's URL, for tasks that do not hold the server.
pub async fn connect_to(ws_url: &str, client_id: &str) -> BenchResult<Ws> {
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(ws_url, None, true).await?;
    let connect = ClientFrame::new(ClientMessage::Connect(Connect {
        client_id: client_id.to_owned(),
        token: TOKEN.to_owned(),
        protocol: gold_box_protocol::PROTOCOL_VERSION,
        world: WorldInfo {
            id: "bench-world".into(),
            title: "Benchmark World".into(),
            system: "dnd5e".into(),
        },
        user: UserInfo {
            id: "bench-gm".into(),
            name: "Benchmark GM".into(),
            is_gm: true,
        },
        resume: None,
    }));
    send(&mut ws, &connect).await?;
    match next_frame(&mut ws).await?.message {
        ServerMessage::Connected(_) => Ok(ws),
        other => Err(format!("expected `connected`, got {other:?}").into()),
    }
}

/// Sends one frame.
pub async fn send(ws: &mut Ws, frame: &ClientFrame) -> BenchResult {
    let text = serde_json::to_string(frame)?;
    ws.send(Message::Text(text.into())).await?;
    Ok(())
}

/// The next frame from the server, decoded; an error on close or after [`FRAME_TIMEOUT`].
pub async fn next_frame(ws: &mut Ws) -> BenchResult<ServerFrame> {
    loop {
        let message = tokio::time::timeout(FRAME_TIMEOUT, ws.next())
            .await
            .map_err(|_| format!("no frame from the server within {FRAME_TIMEOUT:?}"))?;
        match message {
            Some(Ok(Message::Text(text))) => return decode(&text),
            Some(Ok(Message::Close(close))) => {
                return Err(format!("the server closed the socket: {close:?}").into());
            }
            Some(Ok(_)) => continue,
            Some(Err(error)) => return Err(error.into()),
            None => return Err("the socket ended".into()),
        }
    }
}

fn decode(text: &str) -> BenchResult<ServerFrame> {
    let raw: RawFrame<serde_json::Value> = serde_json::from_str(text)?;
    ServerFrame::decode(raw).map_err(|e| format!("undecodable frame {text}: {e:?}").into())
}

/// A `ping` frame.
pub fn ping(request_id: &str) -> ClientFrame {
    ClientFrame::new(ClientMessage::Ping(Empty {})).with_request_id(request_id)
}

/// Sends a ping and reads frames until its pong; other frames are skipped.
pub async fn ping_round_trip(ws: &mut Ws, request_id: &str) -> BenchResult {
    send(ws, &ping(request_id)).await?;
    loop {
        let frame = next_frame(ws).await?;
        if matches!(frame.message, ServerMessage::Pong(_))
            && frame.request_id.as_deref() == Some(request_id)
        {
            return Ok(());
        }
    }
}

/// How the responder returns results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A `roll_result` frame on the socket (then `roll_ack`).
    WebSocket,
    /// `POST /api/roll-result` on a keep-alive connection of its own.
    Http,
}

/// A connected client that answers every `execute_roll` until stopped.
#[derive(Debug)]
pub struct Responder {
    pub client_id: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<BenchResult<u64>>,
}

impl Responder {
    /// Connects as `client_id` and starts answering.
    pub async fn start(
        server: &ServerProcess,
        client_id: &str,
        transport: Transport,
    ) -> BenchResult<Responder> {
        let ws = connect(server, client_id).await?;
        let http = match transport {
            Transport::WebSocket => None,
            Transport::Http => Some(HttpConnection::connect(server.addr()).await?),
        };
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(answer_rolls(
            ws,
            http,
            server.addr(),
            client_id.to_owned(),
            stopped,
        ));
        Ok(Responder {
            client_id: client_id.to_owned(),
            stop: Some(stop),
            task,
        })
    }

    /// Closes the socket; returns how many requests were answered.
    pub async fn stop(mut self) -> BenchResult<u64> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task)
            .await
            .map_err(|e| format!("the responder of {} failed: {e}", self.client_id))?
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer_rolls(
    mut ws: Ws,
    mut http: Option<HttpConnection>,
    addr: SocketAddr,
    client_id: String,
    mut stopped: oneshot::Receiver<()>,
) -> BenchResult<u64> {
    let mut answered = 0;
    loop {
        let message = tokio::select! {
            _ = &mut stopped => break,
            message = ws.next() => message,
        };
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(_))) | None => {
                return Err(format!("the server closed {client_id}'s socket").into());
            }
            Some(Ok(_)) => continue,
            Some(Err(error)) => return Err(error.into()),
        };
        let frame = decode(&text)?;
        let ServerMessage::ExecuteRoll(execute) = frame.message else {
            continue;
        };
        if execute
            .rolls
            .iter()
            .any(|roll| roll.flavor.as_deref() == Some(UNANSWERED_FLAVOR))
        {
            continue;
        }
        let request_id = frame.request_id.unwrap_or_default();
        let results: Vec<RollOutcome> = execute
            .rolls
            .iter()
            .map(|roll| rolled(&roll.formula))
            .collect();
        match http.as_mut() {
            None => {
                let reply = ClientFrame::new(ClientMessage::RollResult(RollResult { results }))
                    .with_request_id(request_id);
                send(&mut ws, &reply).await?;
            }
            Some(http) => {
                let body = serde_json::to_vec(&RollResultSubmission {
                    request_id,
                    client_id: client_id.clone(),
                    results,
                })?;
                let answer = http
                    .post_json("/api/roll-result", Some(TOKEN), &body)
                    .await?;
                if answer.status != 200 {
                    return Err(format!(
                        "POST /api/roll-result to {addr} answered {}: {}",
                        answer.status,
                        String::from_utf8_lossy(&answer.body)
                    )
                    .into());
                }
            }
        }
        answered += 1;
    }
    let _ = ws.close(None).await;
    Ok(answered)
}

/// A d20 showing 11, whatever the formula: the server checks the shape, not the dice.
fn rolled(formula: &str) -> RollOutcome {
    RollOutcome {
        formula: formula.to_owned(),
        flavor: None,
        total: Some(11.0),
        dice: vec![DieTerm {
            faces: 20,
            results: vec![DieResult {
                result: 11,
                active: true,
            }],
        }],
        error: None,
    }
}
