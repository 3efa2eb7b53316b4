//! A local OpenAI-compatible chat-completions endpoint for the server's `openai` provider:
//! it answers from a script, in the real wire format, and records every request body the
//! server sends it. This is how a test sees, from the server's side, what the AI was given
//! (the chat context of a `chat_request` reaches the provider in those bodies) and how it
//! makes the AI ask for a roll with a flavor of its choosing.
//!
//! A request that asks for `"stream": true` (as the server always does) is answered the way
//! OpenAI streams: `text/event-stream`, the scripted completion cut into chunks (the text a
//! few words per chunk, each tool call's arguments in fragments under its `index`), a
//! `finish_reason` chunk, the `usage` chunk that `stream_options.include_usage` asks for, then
//! `data: [DONE]`. [`cut_stream`] scripts an answer whose connection breaks mid-way.

use crate::TestResult;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;

/// The model name the server is configured with.
pub const MODEL: &str = "gold-box-test-model";

/// The key that marks a scripted answer as a stream that breaks off (see [`cut_stream`]).
const CUT_MARK: &str = "gold_box_fake_cut_after";

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Value>>,
    received: Mutex<Vec<Value>>,
    /// The pause before each streamed chunk, in milliseconds.
    chunk_pause_ms: std::sync::atomic::AtomicU64,
    /// Streams whose client went away before the end (the connection was dropped).
    abandoned: std::sync::atomic::AtomicU64,
}

/// The running endpoint; stops when dropped.
pub struct FakeAi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for FakeAi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeAi").field("addr", &self.addr).finish()
    }
}

impl FakeAi {
    /// Starts on 127.0.0.1 and a free port, answering with `script` in order (then with a
    /// plain "The story goes on." once the script is used up).
    pub async fn start(script: Vec<Value>) -> TestResult<FakeAi> {
        let shared = Arc::new(Shared::default());
        shared.script.lock().expect("lock").extend(script);
        let app = Router::new()
            .route("/v1/chat/completions", post(chat_completions))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(FakeAi { addr, shared, task })
    }

    /// The base URL the server's `--ai-base-url` takes.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The server options that make it use this endpoint.
    pub fn server_args(&self) -> Vec<String> {
        [
            "--ai-provider",
            "openai",
            "--ai-base-url",
            &self.base_url(),
            "--ai-model",
            MODEL,
            "--ai-max-retries",
            "0",
        ]
        .iter()
        .map(|arg| (*arg).to_owned())
        .collect()
    }

    /// Waits this long before each streamed chunk (0 by default), so that a stream takes
    /// time the way a model writing does.
    pub fn set_chunk_pause_ms(&self, pause_ms: u64) {
        self.shared
            .chunk_pause_ms
            .store(pause_ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// How many streams lost their reader before their end.
    pub fn abandoned_streams(&self) -> u64 {
        self.shared
            .abandoned
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Every request body received, oldest first.
    pub fn received(&self) -> Vec<Value> {
        self.shared.received.lock().expect("lock").clone()
    }
}

impl Drop for FakeAi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A script step that never answers: the request is held open until the server drops it
/// (a stop, the stall watchdog).
pub fn hold() -> Value {
    json!({"__gold_box_test_hold": true})
}

async fn chat_completions(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let streamed = request["stream"] == true;
    shared.received.lock().expect("lock").push(request);
    let reply = shared
        .script
        .lock()
        .expect("lock")
        .pop_front()
        .unwrap_or_else(|| answer("The story goes on."));
    if reply == hold() {
        std::future::pending::<()>().await;
    }
    if !streamed {
        return axum::Json(reply).into_response();
    }
    let (events, cut) = match reply.get(CUT_MARK) {
        Some(text) => (text_chunks(text.as_str().unwrap_or_default()), true),
        None => (chunks(&reply), false),
    };
    let pause = std::time::Duration::from_millis(
        shared
            .chunk_pause_ms
            .load(std::sync::atomic::Ordering::Relaxed),
    );
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    tokio::spawn(async move {
        for event in events {
            tokio::time::sleep(pause).await;
            let frame = Bytes::from(format!("data: {event}\n\n"));
            if sender.send(Ok(frame)).await.is_err() {
                shared
                    .abandoned
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return;
            }
        }
        tokio::time::sleep(pause).await;
        let end = if cut {
            // An error in the body makes the server drop the connection mid-answer.
            Err(std::io::Error::other("the stream is cut"))
        } else {
            Ok(Bytes::from_static(b"data: [DONE]\n\n"))
        };
        if sender.send(end).await.is_err() {
            shared
                .abandoned
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    });
    let body = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    (
        [(axum::http::header::CONTENT_TYPE, "text/event-stream")],
        Body::from_stream(body),
    )
        .into_response()
}

/// A chunk of a streamed completion, as OpenAI writes them.
fn chunk(delta: Value, finish_reason: Option<&str>) -> String {
    json!({
        "id": "chatcmpl-test-stream", "object": "chat.completion.chunk", "created": 1764216000,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}],
        "usage": null
    })
    .to_string()
}

/// The text a few words per chunk (the spaces kept, so the chunks join to the text).
fn text_pieces(text: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    for (n, word) in text.split_inclusive(' ').enumerate() {
        current.push_str(word);
        if n % 2 == 1 {
            pieces.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        pieces.push(current);
    }
    pieces
}

fn text_chunks(text: &str) -> Vec<String> {
    let mut events = vec![chunk(json!({"role": "assistant", "content": ""}), None)];
    for piece in text_pieces(text) {
        events.push(chunk(json!({"content": piece}), None));
    }
    events
}

/// A scripted chat.completion as the chunks of a stream.
fn chunks(completion: &Value) -> Vec<String> {
    let message = &completion["choices"][0]["message"];
    let mut events = text_chunks(message["content"].as_str().unwrap_or_default());
    for (index, call) in message["tool_calls"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        events.push(chunk(
            json!({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                   "function": {"name": call["function"]["name"], "arguments": ""}}]}),
            None,
        ));
        let arguments = call["function"]["arguments"].as_str().unwrap_or_default();
        let characters: Vec<char> = arguments.chars().collect();
        for fragment in characters.chunks(7) {
            let fragment: String = fragment.iter().collect();
            events.push(chunk(
                json!({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}),
                None,
            ));
        }
    }
    let finish = completion["choices"][0]["finish_reason"]
        .as_str()
        .unwrap_or("stop");
    events.push(chunk(json!({}), Some(finish)));
    events.push(
        json!({
            "id": "chatcmpl-test-stream", "object": "chat.completion.chunk", "created": 1764216000,
            "model": MODEL, "choices": [], "usage": completion["usage"]
        })
        .to_string(),
    );
    events
}

/// A streamed answer that sends `text_before_cut` and then breaks the connection, before
/// any `finish_reason` or `[DONE]` (the provider must retry it).
pub fn cut_stream(text_before_cut: &str) -> Value {
    json!({ CUT_MARK: text_before_cut })
}

/// A chat.completion that calls one tool, as OpenAI sends it.
pub fn tool_call(name: &str, arguments: &Value) -> Value {
    json!({
        "id": "chatcmpl-test-1", "object": "chat.completion", "created": 1764216000, "model": MODEL,
        "choices": [{
            "index": 0,
            "message": {
                "role": "assistant", "content": null, "refusal": null,
                "tool_calls": [{"id": "call_test_1", "type": "function",
                                "function": {"name": name, "arguments": arguments.to_string()}}]
            },
            "logprobs": null, "finish_reason": "tool_calls"
        }],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
    })
}

/// A chat.completion with a final text answer.
pub fn answer(text: &str) -> Value {
    json!({
        "id": "chatcmpl-test-2", "object": "chat.completion", "created": 1764216001, "model": MODEL,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": text, "refusal": null},
            "logprobs": null, "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 120, "completion_tokens": 10, "total_tokens": 130}
    })
}
