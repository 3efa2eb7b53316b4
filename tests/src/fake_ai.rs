//! A local OpenAI-compatible chat-completions endpoint for the server's `openai` provider:
//! it answers from a script, in the real wire format, and records every request body the
//! server sends it. This is how a test sees, from the server's side, what the AI was given
//! (the chat context of a `chat_request` reaches the provider in those bodies) and how it
//! makes the AI ask for a roll with a flavor of its choosing.

use crate::TestResult;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;

/// The model name the server is configured with.
pub const MODEL: &str = "gold-box-test-model";

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Value>>,
    received: Mutex<Vec<Value>>,
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

async fn chat_completions(State(shared): State<Arc<Shared>>, body: Bytes) -> axum::Json<Value> {
    let request = serde_json::from_slice(&body).unwrap_or(Value::Null);
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
    axum::Json(reply)
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
