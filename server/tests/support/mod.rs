//! Shared helpers for the server's integration tests: the real server on a real port
//! (127.0.0.1:0) and a native WebSocket client.

#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use gold_box_server::{Config, ServerHandle, spawn};
use serde_json::{Value, json};
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub const TOKEN: &str = "test-token";
pub const ADMIN_TOKEN: &str = "test-admin-token";
/// How long a test waits for a frame before failing.
pub const FRAME_WAIT: Duration = Duration::from_secs(5);

/// A fresh directory under the system temp dir, unique to this test process and call.
pub fn temp_dir(name: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "gold-box-test-{name}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// Starts the real server on a free port with test tokens and `extra` options.
pub async fn start(extra: &[&str]) -> ServerHandle {
    start_on_port(0, extra).await
}

/// Starts the real server on `port` (0 picks a free one) with test tokens and `extra`
/// options: a restart passes the port the stopped server had, so clients find it again.
pub async fn start_on_port(port: u16, extra: &[&str]) -> ServerHandle {
    // reqwest is built without a default TLS provider (the server picks ring); HTTP test
    // clients need one installed even though they only talk to loopback.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let data = temp_dir("data");
    let port = port.to_string();
    let mut args: Vec<String> = [
        "--port",
        &port,
        "--token",
        TOKEN,
        "--admin-token",
        ADMIN_TOKEN,
        "--data-dir",
        data.to_str().expect("utf-8 path"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if !extra.contains(&"--module-dir") {
        args.extend([
            "--module-dir".to_owned(),
            "/nonexistent-gold-box-dist".to_owned(),
        ]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let config = Config::from_args(args).expect("valid options");
    spawn(config).await.expect("server starts")
}

/// Opens `/ws`, optionally with an `Origin` header.
pub async fn open(
    server: &ServerHandle,
    origin: Option<&str>,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let mut request = format!("ws://127.0.0.1:{}/ws", server.addr().port())
        .into_client_request()
        .expect("request");
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().expect("header"));
    }
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(ws, _)| ws)
}

pub fn connect_frame(client_id: &str, token: &str) -> Value {
    json!({"type": "connect", "data": {
        "client_id": client_id, "token": token, "protocol": 1,
        "world": {"id": "w1", "title": "World", "system": "dnd5e"},
        "user": {"id": "u1", "name": "GM", "is_gm": true}}})
}

pub async fn send(ws: &mut Ws, frame: &Value) {
    ws.send(Message::Text(frame.to_string().into()))
        .await
        .expect("send");
}

/// What the server did next: a JSON frame, or a close with its code.
#[derive(Debug)]
pub enum Next {
    Frame(Value),
    Closed(Option<u16>),
}

pub async fn next(ws: &mut Ws) -> Next {
    loop {
        let message = tokio::time::timeout(FRAME_WAIT, ws.next())
            .await
            .expect("the server answers in time");
        match message {
            Some(Ok(Message::Text(text))) => {
                return Next::Frame(serde_json::from_str(&text).expect("server sends JSON"));
            }
            Some(Ok(Message::Close(frame))) => {
                return Next::Closed(frame.map(|f| u16::from(f.code)));
            }
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Next::Closed(None),
        }
    }
}

pub async fn next_frame(ws: &mut Ws) -> Value {
    match next(ws).await {
        Next::Frame(frame) => frame,
        Next::Closed(code) => panic!("expected a frame, the server closed with {code:?}"),
    }
}

pub async fn next_close(ws: &mut Ws) -> Option<u16> {
    loop {
        match next(ws).await {
            Next::Closed(code) => return code,
            Next::Frame(_) => continue,
        }
    }
}

/// Opens a socket and completes the handshake as `client_id`.
pub async fn connected(server: &ServerHandle, client_id: &str) -> Ws {
    let mut ws = open(server, None).await.expect("upgrade");
    send(&mut ws, &connect_frame(client_id, TOKEN)).await;
    let reply = next_frame(&mut ws).await;
    assert_eq!(reply["type"], "connected", "{reply}");
    ws
}

pub fn close_code(code: CloseCode) -> u16 {
    u16::from(code)
}

/// A `chat_request` whose last message is `text` from a player.
pub fn chat_request(request_id: &str, text: &str) -> Value {
    json!({"type": "chat_request", "request_id": request_id, "data": {
        "messages": [{"speaker": "Aria", "content": text, "kind": "chat", "timestamp": 1_764_216_000_000u64}],
        "settings_revision": 0}})
}

/// What a player says to make the offline AI ask for an attack roll.
pub const ATTACK: &str = "I attack the goblin with my longsword!";

/// Reads frames until one of type `kind` comes; returns it with the frames before it.
pub async fn until(ws: &mut Ws, kind: &str) -> (Value, Vec<Value>) {
    let mut before = Vec::new();
    loop {
        let frame = next_frame(ws).await;
        if frame["type"] == kind {
            return (frame, before);
        }
        before.push(frame);
    }
}

/// A valid `roll_result` for an `execute_roll` frame, every total `total`.
pub fn answer(execute_roll: &Value, total: f64) -> Value {
    let results: Vec<Value> = execute_roll["data"]["rolls"]
        .as_array()
        .expect("rolls")
        .iter()
        .map(|roll| {
            json!({"formula": roll["formula"], "total": total,
                           "dice": [{"faces": 20, "results": [{"result": 10, "active": true}]}]})
        })
        .collect();
    json!({"type": "roll_result", "request_id": execute_roll["request_id"], "data": {"results": results}})
}

/// `GET /api/metrics` with the admin token.
pub async fn metrics(server: &ServerHandle) -> Value {
    reqwest::Client::new()
        .get(format!("{}/api/metrics", server.url()))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON")
}

/// `GET /api/health`'s `ai_busy`.
pub async fn ai_busy(server: &ServerHandle) -> bool {
    let health: Value = reqwest::get(format!("{}/api/health", server.url()))
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    health["ai_busy"].as_bool().expect("ai_busy")
}

/// Polls until `condition` holds or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if condition().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// `POST /api/roll-result` with a bearer token and a JSON body.
pub async fn post_roll_result(server: &ServerHandle, token: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/api/roll-result", server.url()))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Answers every `execute_roll` with `total` until the turn completes (an attack that
/// hits asks for damage too); returns `ai_turn_complete` and the frames before it.
pub async fn finish_turn(ws: &mut Ws, total: f64) -> (Value, Vec<Value>) {
    let mut before = Vec::new();
    loop {
        let frame = next_frame(ws).await;
        if frame["type"] == "ai_turn_complete" {
            return (frame, before);
        }
        if frame["type"] == "execute_roll" {
            send(ws, &answer(&frame, total)).await;
        }
        before.push(frame);
    }
}

pub mod held_ai;
pub mod proxy;

/// Opens a WebSocket at `url` (no `Origin`, like a native client) through a proxy in
/// front of `server`: the `Host` header names the server, as a reverse proxy sends it.
pub async fn open_via(
    url: &str,
    server: &ServerHandle,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let mut request = url.into_client_request().expect("request");
    request.headers_mut().insert(
        "host",
        format!("127.0.0.1:{}", server.addr().port())
            .parse()
            .expect("header"),
    );
    tokio_tungstenite::connect_async_with_config(request, None, true)
        .await
        .map(|(ws, _)| ws)
}

/// A `connect` that asks to resume after `last_seq` of server start `instance`.
pub fn resume_connect_frame(client_id: &str, instance: Option<&str>, last_seq: u64) -> Value {
    let mut frame = connect_frame(client_id, TOKEN);
    frame["data"]["resume"] = json!({"instance": instance, "last_seq": last_seq});
    frame
}

/// `connections.active` from `/api/metrics`.
pub async fn active_connections(server: &ServerHandle) -> u64 {
    metrics(server).await["websocket"]["connections"]["active"]
        .as_u64()
        .expect("active")
}

/// What a player says that the offline AI narrates without asking for dice.
pub const CALM: &str = "We sit by the fire and talk about the road ahead.";
