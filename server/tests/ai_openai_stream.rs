//! The OpenAI-compatible provider's streamed answers, against a local endpoint that speaks
//! the real streaming wire format (`text/event-stream`, `chat.completion.chunk` objects,
//! `[DONE]`), driven through the real turn loop with an in-test table that records the
//! narration previews (`narration_delta`) and the posted messages.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use gold_box_protocol::{AiMessage, DieResult, DieTerm, NarrationDelta, RollOutcome, RollRequest};
use gold_box_server::Config;
use gold_box_server::ai::{AiEngine, ToolFailure, TurnRequest, TurnTools};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const MODEL: &str = "gpt-test-mini";

/// One scripted streamed answer: the SSE events' data, then either `[DONE]` or a cut.
#[derive(Clone)]
struct Stream {
    events: Vec<String>,
    cut: bool,
}

#[derive(Default)]
struct Fake {
    script: Mutex<VecDeque<Stream>>,
    received: Mutex<Vec<Value>>,
    /// The pause before each event.
    pause: Mutex<Duration>,
    /// Streams whose reader went away before their end.
    abandoned: AtomicU64,
}

async fn chat_completions(State(fake): State<Arc<Fake>>, body: Bytes) -> Response {
    fake.received
        .lock()
        .expect("lock")
        .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
    let stream = fake
        .script
        .lock()
        .expect("lock")
        .pop_front()
        .unwrap_or(Stream {
            events: vec![chunk(json!({"content": "(script ended)"}), Some("stop"))],
            cut: false,
        });
    let pause = *fake.pause.lock().expect("lock");
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    tokio::spawn(async move {
        for event in stream.events {
            tokio::time::sleep(pause).await;
            // Each event is written in two reads' worth, split inside the JSON.
            let text = format!("data: {event}\n\n");
            let (first, second) = text.split_at(text.len() / 2);
            for part in [first.to_owned(), second.to_owned()] {
                if sender.send(Ok(Bytes::from(part))).await.is_err() {
                    fake.abandoned.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
        }
        let end = if stream.cut {
            Err(std::io::Error::other("cut"))
        } else {
            Ok(Bytes::from_static(b"data: [DONE]\n\n"))
        };
        let _ = sender.send(end).await;
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

async fn fake_provider(script: Vec<Stream>) -> (String, Arc<Fake>) {
    let fake = Arc::new(Fake::default());
    fake.script.lock().expect("lock").extend(script);
    let app = Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/v1"), fake)
}

fn chunk(delta: Value, finish_reason: Option<&str>) -> String {
    json!({
        "id": "chatcmpl-s1", "object": "chat.completion.chunk", "created": 1764216000,
        "model": MODEL, "system_fingerprint": "fp_1",
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}],
        "usage": null
    })
    .to_string()
}

fn usage_chunk() -> String {
    json!({"id": "chatcmpl-s1", "object": "chat.completion.chunk", "created": 1764216000,
           "model": MODEL, "choices": [],
           "usage": {"prompt_tokens": 100, "completion_tokens": 9, "total_tokens": 109}})
    .to_string()
}

/// A narration streamed in `pieces`, then `stop`, the usage chunk and `[DONE]`.
fn narration(pieces: &[&str]) -> Stream {
    let mut events = vec![chunk(json!({"role": "assistant", "content": ""}), None)];
    events.extend(pieces.iter().map(|p| chunk(json!({"content": p}), None)));
    events.push(chunk(json!({}), Some("stop")));
    events.push(usage_chunk());
    Stream { events, cut: false }
}

/// A roll_dice call whose arguments arrive in fragments.
fn roll_call(fragments: &[&str]) -> Stream {
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": null, "tool_calls": [{"index": 0, "id": "call_s1",
               "type": "function", "function": {"name": "roll_dice", "arguments": ""}}]}),
        None,
    )];
    events.extend(fragments.iter().map(|f| {
        chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": f}}]}),
            None,
        )
    }));
    events.push(chunk(json!({}), Some("tool_calls")));
    events.push(usage_chunk());
    Stream { events, cut: false }
}

fn engine(base_url: &str) -> AiEngine {
    let config = Config::from_args([
        "--ai-provider",
        "openai",
        "--ai-base-url",
        base_url,
        "--ai-model",
        MODEL,
        "--ai-retry-backoff-ms",
        "10",
        "--narration-delta-interval-ms",
        "1",
    ])
    .expect("the options parse");
    AiEngine::from_config(&config.ai).expect("the engine builds")
}

/// Answers every roll with a 17; records rolls, posts (with their stream) and previews.
#[derive(Default)]
struct Table {
    rolls: Mutex<Vec<Vec<RollRequest>>>,
    posted: Mutex<Vec<(AiMessage, Option<u32>)>>,
    deltas: Mutex<Vec<NarrationDelta>>,
}

impl Table {
    /// The preview as a client following the offsets would show it.
    fn preview(&self) -> String {
        let mut shown: Vec<char> = Vec::new();
        for delta in self.deltas.lock().expect("lock").iter() {
            if delta.offset == 0 {
                shown.clear();
            }
            if delta.offset as usize == shown.len() {
                shown.extend(delta.text.chars());
            }
        }
        shown.into_iter().collect()
    }
}

impl TurnTools for Table {
    fn roll_dice(
        &self,
        rolls: Vec<RollRequest>,
    ) -> impl Future<Output = Result<Vec<RollOutcome>, ToolFailure>> + Send {
        self.rolls.lock().expect("lock").push(rolls.clone());
        async move {
            Ok(rolls
                .into_iter()
                .map(|roll| RollOutcome {
                    formula: roll.formula,
                    flavor: roll.flavor,
                    total: Some(17.0),
                    dice: vec![DieTerm {
                        faces: 20,
                        results: vec![DieResult {
                            result: 12,
                            active: true,
                        }],
                    }],
                    error: None,
                })
                .collect())
        }
    }

    fn post_message(&self, message: AiMessage) -> impl Future<Output = ()> + Send {
        self.posted.lock().expect("lock").push((message, None));
        async {}
    }

    fn narration_delta(&self, delta: NarrationDelta) {
        self.deltas.lock().expect("lock").push(delta);
    }

    fn post_streamed(&self, message: AiMessage, stream: u32) -> impl Future<Output = ()> + Send {
        self.posted
            .lock()
            .expect("lock")
            .push((message, Some(stream)));
        async {}
    }
}

fn attack_turn() -> TurnRequest {
    let mut settings = gold_box_protocol::JsonMap::new();
    settings.insert(
        "aiRole".to_owned(),
        gold_box_protocol::JsonValue::String("dm".into()),
    );
    TurnRequest {
        request_id: "turn-1".into(),
        client_id: "gb-u1-k3x9".into(),
        messages: vec![gold_box_protocol::ChatEntry {
            speaker: "Aria".into(),
            content: "I attack the goblin!".into(),
            kind: gold_box_protocol::ChatKind::Chat,
            timestamp: 1764216000000,
        }],
        settings,
        context: Vec::new(),
    }
}

#[tokio::test]
async fn the_request_asks_for_a_stream_with_usage_and_tool_fragments_are_joined_before_the_roll() {
    let (base_url, fake) = fake_provider(vec![
        roll_call(&[
            r#"{"rolls":[{"for"#,
            r#"mula":"1d20+5","fla"#,
            r#"vor":"Attack"}]}"#,
        ]),
        narration(&["Your blade ", "finds its ", "mark: 17 ", "hits."]),
    ])
    .await;
    let table = Table::default();
    let outcome = engine(&base_url).run_turn(&table, attack_turn()).await;
    assert_eq!(outcome.error, None);

    let received = fake.received.lock().expect("lock").clone();
    assert_eq!(received[0]["stream"], true);
    assert_eq!(
        received[0]["stream_options"],
        json!({"include_usage": true})
    );

    let rolls = table.rolls.lock().expect("lock").clone();
    assert_eq!(rolls.len(), 1, "{rolls:?}");
    assert_eq!(rolls[0][0].formula, "1d20+5");
    assert_eq!(rolls[0][0].flavor.as_deref(), Some("Attack"));
    // The tool call's id went back with its result.
    let messages = received[1]["messages"]
        .as_array()
        .expect("messages")
        .clone();
    assert!(
        messages
            .iter()
            .any(|m| m["role"] == "tool" && m["tool_call_id"] == "call_s1"),
        "{messages:#?}"
    );

    let posted = table.posted.lock().expect("lock").clone();
    assert_eq!(posted.len(), 1, "one narration: {posted:?}");
    assert_eq!(posted[0].0.content, "Your blade finds its mark: 17 hits.");
    assert_eq!(
        posted[0].1,
        Some(2),
        "the narration names the stream it ends"
    );
    let deltas = table.deltas.lock().expect("lock").clone();
    assert!(deltas.iter().all(|d| d.stream == 2), "{deltas:?}");
    // What gathered after the last frame is not sent: the chat_response carries it all.
    let preview = table.preview();
    assert!(
        !preview.is_empty() && "Your blade finds its mark: 17 hits.".starts_with(&preview),
        "the preview is the narration's start: {preview:?}"
    );
}

#[tokio::test]
async fn a_stream_cut_mid_way_is_retried_and_its_half_narration_is_replaced_not_repeated() {
    let mut cut = narration(&["The goblin ", "staggers and "]);
    cut.events.truncate(3); // no stop, no usage
    cut.cut = true;
    let (base_url, fake) = fake_provider(vec![cut, narration(&["The goblin ", "falls."])]).await;
    // A pause between events, so the broken answer's text is previewed before the cut.
    *fake.pause.lock().expect("lock") = Duration::from_millis(30);
    let table = Table::default();
    let outcome = engine(&base_url).run_turn(&table, attack_turn()).await;
    assert_eq!(outcome.error, None);
    assert_eq!(fake.received.lock().expect("lock").len(), 2, "retried once");

    let deltas = table.deltas.lock().expect("lock").clone();
    assert!(
        deltas.iter().any(|d| d.text.contains("staggers")),
        "the broken answer was previewed: {deltas:?}"
    );
    let restart = deltas
        .iter()
        .rposition(|d| d.offset == 0)
        .expect("a delta at offset 0");
    assert!(
        deltas[restart..]
            .iter()
            .all(|d| !d.text.contains("staggers")),
        "after the restart only the retried text: {deltas:?}"
    );
    let preview = table.preview();
    assert!(
        "The goblin falls.".starts_with(&preview),
        "the preview holds only the retried text: {preview:?}"
    );
    let posted = table.posted.lock().expect("lock").clone();
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert_eq!(posted[0].0.content, "The goblin falls.");
}

#[tokio::test]
async fn dropping_the_turn_mid_stream_drops_the_connection_to_the_provider() {
    let pieces: Vec<String> = (0..200).map(|n| format!("word{n} ")).collect();
    let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
    let (base_url, fake) = fake_provider(vec![narration(&pieces)]).await;
    *fake.pause.lock().expect("lock") = Duration::from_millis(20);
    let table = Table::default();
    let engine = engine(&base_url);
    {
        let turn = engine.run_turn(&table, attack_turn());
        tokio::pin!(turn);
        let waited = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                tokio::select! {
                    _ = &mut turn => panic!("the turn ended before it was dropped"),
                    () = tokio::time::sleep(Duration::from_millis(20)) => {}
                }
                if !table.deltas.lock().expect("lock").is_empty() {
                    return;
                }
            }
        })
        .await;
        assert!(waited.is_ok(), "no preview arrived");
    } // the turn's future is dropped here, mid-stream
    let gone = tokio::time::timeout(Duration::from_secs(10), async {
        while fake.abandoned.load(Ordering::Relaxed) == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        gone.is_ok(),
        "the endpoint still had a reader 10 s after the drop"
    );
    assert!(table.posted.lock().expect("lock").is_empty());
}
