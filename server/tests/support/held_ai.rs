//! A local OpenAI-compatible endpoint that can hold its answer open, written on a bare
//! TCP listener so that it sees, on its own side, the moment the server drops a request:
//! the connection closes (a read returns end of file). That is how a stop is proved to
//! abort the provider request rather than wait for it.
//!
//! Each request takes the next step of the script: answer with a JSON body (HTTP/1.1,
//! keep-alive, so the next request may come on the same connection), or hold (never
//! answer, and report when the peer closes).

use serde_json::{Value, json};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The model name the server is configured with.
pub const MODEL: &str = "held-test-model";

/// One step of the script.
#[derive(Debug, Clone)]
pub enum Step {
    Answer(Value),
    /// Never answer; report the close.
    Hold,
}

/// What the endpoint saw.
#[derive(Debug, Clone)]
pub enum Seen {
    /// A request arrived (its body), answered or held by the given step.
    Request { body: Value, held: bool },
    /// The peer closed a connection on which an answer was being held.
    HeldClosed { at: Instant },
}

/// The running endpoint; stops when dropped.
pub struct HeldAi {
    addr: SocketAddr,
    pub events: mpsc::UnboundedReceiver<Seen>,
    task: JoinHandle<()>,
}

impl HeldAi {
    /// Starts on 127.0.0.1 and a free port; requests beyond the script are held.
    pub async fn start(script: Vec<Step>) -> HeldAi {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let (events, receiver) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, script.clone(), events.clone()));
            }
        });
        HeldAi {
            addr,
            events: receiver,
            task,
        }
    }

    /// The server options that make it use this endpoint (no retries).
    pub fn server_args(&self) -> Vec<String> {
        let base = format!("http://{}/v1", self.addr);
        [
            "--ai-provider",
            "openai",
            "--ai-base-url",
            &base,
            "--ai-model",
            MODEL,
            "--ai-max-retries",
            "0",
        ]
        .iter()
        .map(|arg| (*arg).to_owned())
        .collect()
    }

    /// The next thing seen, within `limit`.
    pub async fn next(&mut self, limit: std::time::Duration) -> Option<Seen> {
        tokio::time::timeout(limit, self.events.recv())
            .await
            .ok()
            .flatten()
    }
}

impl Drop for HeldAi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one request (headers and a `content-length` body); `None` at end of file.
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Value> {
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = find(buffer, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|value| value.trim().parse().ok())
                .unwrap_or(0);
            let total = end + 4 + length;
            while buffer.len() < total {
                let n = stream.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buffer.extend_from_slice(&chunk[..n]);
            }
            let body = serde_json::from_slice(&buffer[end + 4..total]).unwrap_or(Value::Null);
            buffer.drain(..total);
            return Some(body);
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

async fn serve(
    mut stream: TcpStream,
    script: Arc<Mutex<VecDeque<Step>>>,
    events: mpsc::UnboundedSender<Seen>,
) {
    let mut buffer = Vec::new();
    while let Some(body) = read_request(&mut stream, &mut buffer).await {
        let step = script
            .lock()
            .expect("lock")
            .pop_front()
            .unwrap_or(Step::Hold);
        match step {
            Step::Answer(reply) => {
                let _ = events.send(Seen::Request { body, held: false });
                let text = reply.to_string();
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{}",
                    text.len(),
                    text
                );
                if stream.write_all(response.as_bytes()).await.is_err() {
                    return;
                }
            }
            Step::Hold => {
                let _ = events.send(Seen::Request { body, held: true });
                // Nothing more comes on a held request: the next read ends when the
                // peer closes (end of file or a reset).
                let mut byte = [0u8; 1];
                loop {
                    match stream.read(&mut byte).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => continue,
                    }
                }
                let _ = events.send(Seen::HeldClosed { at: Instant::now() });
                return;
            }
        }
    }
}

/// A chat.completion that calls `roll_dice` once, with the usage given.
pub fn roll_call(prompt_tokens: u64, completion_tokens: u64) -> Value {
    json!({
        "id": "chatcmpl-held-1", "object": "chat.completion", "created": 1764216000, "model": MODEL,
        "choices": [{
            "index": 0,
            "message": {
                "role": "assistant", "content": null,
                "tool_calls": [{"id": "call_1", "type": "function",
                                "function": {"name": "roll_dice",
                                             "arguments": "{\"rolls\":[{\"formula\":\"1d20+5\",\"flavor\":\"Attack\"}]}"}}]
            },
            "finish_reason": "tool_calls"
        }],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens}
    })
}

/// A chat.completion with a final text answer and the usage given.
pub fn narration(text: &str, prompt_tokens: u64, completion_tokens: u64) -> Value {
    json!({
        "id": "chatcmpl-held-2", "object": "chat.completion", "created": 1764216001, "model": MODEL,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens}
    })
}
