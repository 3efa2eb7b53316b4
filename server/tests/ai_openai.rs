//! The OpenAI-compatible provider against a local HTTP server that speaks the real
//! chat-completions wire format (request and response bodies as OpenAI writes them),
//! driven through the real turn loop with an in-test table.
//!
//! Each test scripts the fake endpoint's answers, runs one turn, and checks both what the
//! turn did and what the endpoint received: the bearer key, the model, the tools and the
//! tool messages.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use gold_box_protocol::{
    AiMessage, AiMessageKind, DieResult, DieTerm, RollOutcome, RollRequest, TurnStatus,
};
use gold_box_server::Config;
use gold_box_server::ai::{AiEngine, ToolFailure, TurnOutcome, TurnRequest, TurnTools};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const API_KEY: &str = "sk-test-key-1234";
const MODEL: &str = "gpt-test-mini";

/// One scripted answer of the fake endpoint.
#[derive(Clone)]
struct Reply {
    status: u16,
    headers: Vec<(&'static str, &'static str)>,
    body: Value,
    delay: Duration,
}

impl Reply {
    fn ok(body: Value) -> Reply {
        Reply {
            status: 200,
            headers: Vec::new(),
            body,
            delay: Duration::ZERO,
        }
    }

    fn error(status: u16, message: &str, kind: &str) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: json!({"error": {"message": message, "type": kind, "param": null, "code": null}}),
            delay: Duration::ZERO,
        }
    }
}

/// What the endpoint received.
#[derive(Clone, Debug)]
struct Received {
    authorization: Option<String>,
    content_type: Option<String>,
    body: Value,
}

#[derive(Default)]
struct Fake {
    script: Mutex<VecDeque<Reply>>,
    received: Mutex<Vec<Received>>,
}

impl Fake {
    fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }
}

async fn chat_completions(
    State(fake): State<Arc<Fake>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    fake.received.lock().expect("lock").push(Received {
        authorization: header("authorization"),
        content_type: header("content-type"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    let reply = fake
        .script
        .lock()
        .expect("lock")
        .pop_front()
        .unwrap_or_else(|| {
            Reply::error(500, "the test script has no more answers", "server_error")
        });
    tokio::time::sleep(reply.delay).await;
    let mut response = (
        StatusCode::from_u16(reply.status).expect("a status"),
        axum::Json(reply.body),
    )
        .into_response();
    for (name, value) in reply.headers {
        response
            .headers_mut()
            .insert(name, value.parse().expect("a header value"));
    }
    response
}

/// Starts the fake endpoint on 127.0.0.1:0 with `script`; returns its `/v1` base URL.
async fn fake_provider(script: Vec<Reply>) -> (String, Arc<Fake>) {
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

/// A chat.completion with one tool call, as OpenAI sends it.
fn tool_call(id: &str, name: &str, arguments: &str) -> Value {
    json!({
        "id": "chatcmpl-AbC123", "object": "chat.completion", "created": 1764216000,
        "model": MODEL,
        "choices": [{
            "index": 0,
            "message": {
                "role": "assistant", "content": null, "refusal": null, "annotations": [],
                "tool_calls": [{"id": id, "type": "function",
                                "function": {"name": name, "arguments": arguments}}]
            },
            "logprobs": null, "finish_reason": "tool_calls"
        }],
        "usage": {"prompt_tokens": 412, "completion_tokens": 23, "total_tokens": 435},
        "service_tier": "default", "system_fingerprint": "fp_test"
    })
}

/// A chat.completion with a final text answer.
fn answer(text: &str) -> Value {
    json!({
        "id": "chatcmpl-DeF456", "object": "chat.completion", "created": 1764216001,
        "model": MODEL,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": text, "refusal": null, "annotations": []},
            "logprobs": null, "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 470, "completion_tokens": 12, "total_tokens": 482}
    })
}

fn engine(base_url: &str, extra: &[&str]) -> AiEngine {
    let mut args = vec![
        "--ai-provider",
        "openai",
        "--ai-base-url",
        base_url,
        "--ai-model",
        MODEL,
        "--ai-api-key",
        API_KEY,
        "--ai-retry-backoff-ms",
        "10",
    ];
    args.extend_from_slice(extra);
    let config = Config::from_args(args).expect("the options parse");
    AiEngine::from_config(&config.ai).expect("the engine builds")
}

/// The table: answers every roll with `total` (a d20 showing 12), records everything.
#[derive(Default)]
struct Table {
    rolls: Mutex<Vec<Vec<RollRequest>>>,
    posted: Mutex<Vec<AiMessage>>,
}

impl Table {
    fn rolls(&self) -> Vec<Vec<RollRequest>> {
        self.rolls.lock().expect("lock").clone()
    }

    fn posted(&self) -> Vec<AiMessage> {
        self.posted.lock().expect("lock").clone()
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
        self.posted.lock().expect("lock").push(message);
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

async fn take_turn(engine: &AiEngine, table: &Table) -> TurnOutcome {
    engine.run_turn(table, attack_turn()).await
}

fn messages(received: &Received) -> Vec<Value> {
    received.body["messages"]
        .as_array()
        .expect("messages")
        .clone()
}

#[tokio::test]
async fn a_tool_call_then_a_final_answer_rolls_at_the_table_and_narrates() {
    let (url, fake) = fake_provider(vec![
        Reply::ok(tool_call(
            "call_abc",
            "roll_dice",
            r#"{"rolls":[{"formula":"1d20+5","flavor":"Attack"}]}"#,
        )),
        Reply::ok(answer("Your blade finds its mark: 17 hits.")),
    ])
    .await;
    let table = Table::default();
    let outcome = take_turn(&engine(&url, &[]), &table).await;

    assert_eq!(outcome.status, TurnStatus::Completed, "{outcome:?}");
    assert_eq!(outcome.iterations, 2);
    assert_eq!(
        table.rolls(),
        vec![vec![RollRequest {
            formula: "1d20+5".into(),
            flavor: Some("Attack".into())
        }]]
    );
    assert_eq!(
        table.posted(),
        vec![AiMessage {
            speaker: "Game Master".into(),
            content: "Your blade finds its mark: 17 hits.".into(),
            kind: AiMessageKind::Narration,
        }]
    );

    let received = fake.received();
    assert_eq!(received.len(), 2);
    for request in &received {
        assert_eq!(
            request.authorization.as_deref(),
            Some(format!("Bearer {API_KEY}").as_str())
        );
        assert_eq!(request.content_type.as_deref(), Some("application/json"));
        assert_eq!(request.body["model"], MODEL);
        assert_eq!(request.body["tool_choice"], "auto");
        let tools = request.body["tools"].as_array().expect("tools");
        let names: Vec<&str> = tools
            .iter()
            .map(|t| t["function"]["name"].as_str().expect("a name"))
            .collect();
        assert_eq!(names, ["roll_dice", "post_message", "get_message_history"]);
        for tool in tools {
            assert_eq!(tool["type"], "function");
            assert_eq!(tool["function"]["parameters"]["type"], "object");
        }
    }
    let first = messages(&received[0]);
    assert_eq!(first.len(), 2);
    assert_eq!(first[0]["role"], "system");
    assert_eq!(first[1]["role"], "user");
    assert!(
        first[1]["content"]
            .as_str()
            .expect("text")
            .contains("[Aria] I attack the goblin!")
    );
    let second = messages(&received[1]);
    assert_eq!(second.len(), 4);
    assert_eq!(
        second[2],
        json!({"role": "assistant", "content": null, "tool_calls": [{
            "id": "call_abc", "type": "function",
            "function": {"name": "roll_dice",
                         "arguments": r#"{"rolls":[{"formula":"1d20+5","flavor":"Attack"}]}"#}}]})
    );
    assert_eq!(second[3]["role"], "tool");
    assert_eq!(second[3]["tool_call_id"], "call_abc");
    let result: Value =
        serde_json::from_str(second[3]["content"].as_str().expect("text")).expect("JSON result");
    assert_eq!(result["rolls"][0]["total"], 17);
    assert_eq!(result["rolls"][0]["formula"], "1d20+5");
    assert_eq!(result["rolls"][0]["dice"][0]["results"][0], 12);
}

#[tokio::test]
async fn malformed_tool_arguments_go_back_to_the_model_which_corrects_them() {
    let (url, fake) = fake_provider(vec![
        Reply::ok(tool_call(
            "call_1",
            "roll_dice",
            r#"{"rolls": [{"formula": "1d20+5""#,
        )),
        Reply::ok(tool_call(
            "call_2",
            "roll_dice",
            r#"{"rolls":[{"formula":"1d20+5","flavor":"Attack"}]}"#,
        )),
        Reply::ok(answer("A hit: 17 against the goblin's AC 13.")),
    ])
    .await;
    let table = Table::default();
    let outcome = take_turn(&engine(&url, &[]), &table).await;

    assert_eq!(outcome.status, TurnStatus::Completed, "{outcome:?}");
    assert_eq!(outcome.iterations, 3);
    assert_eq!(table.rolls().len(), 1, "only the corrected call rolled");
    let received = fake.received();
    assert_eq!(received.len(), 3);
    let second = messages(&received[1]);
    let error_message = second.last().expect("a tool message");
    assert_eq!(error_message["role"], "tool");
    assert_eq!(error_message["tool_call_id"], "call_1");
    let error: Value =
        serde_json::from_str(error_message["content"].as_str().expect("text")).expect("JSON");
    let error = error["error"].as_str().expect("an error text");
    assert!(error.contains("not valid JSON"), "{error}");
    assert!(error.contains(r#"{"rolls":[{"formula":"1d20+5","flavor":"Attack"}]}"#));
    let third = messages(&received[2]);
    assert_eq!(
        third.last().expect("a tool message")["tool_call_id"],
        "call_2"
    );
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after_then_succeeds() {
    let mut limited = Reply::error(
        429,
        "Rate limit reached for gpt-test-mini on requests per min (RPM): Limit 3.",
        "requests",
    );
    limited.headers = vec![("retry-after", "1")];
    let (url, fake) = fake_provider(vec![limited, Reply::ok(answer("The goblin falls."))]).await;
    let table = Table::default();
    let started = Instant::now();
    let outcome = take_turn(&engine(&url, &[]), &table).await;

    assert_eq!(outcome.status, TurnStatus::Completed, "{outcome:?}");
    assert_eq!(outcome.iterations, 1, "a retry is not an iteration");
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "Retry-After: 1 was honoured over the 10 ms backoff ({:?})",
        started.elapsed()
    );
    let received = fake.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].body, received[1].body, "the same request again");
    assert_eq!(table.posted()[0].content, "The goblin falls.");
}

#[tokio::test]
async fn a_500_is_retried_then_the_turn_fails_with_provider_error() {
    let failing = Reply::error(500, "upstream exploded", "server_error");
    let (url, fake) = fake_provider(vec![failing.clone(), failing.clone(), failing]).await;
    let table = Table::default();
    let outcome = take_turn(&engine(&url, &["--ai-max-retries", "2"]), &table).await;

    assert_eq!(fake.received().len(), 3, "one attempt and two retries");
    assert_eq!(outcome.status, TurnStatus::Failed);
    assert_eq!(outcome.iterations, 1);
    let error = outcome.error.expect("an error for the GM");
    assert!(error.starts_with("PROVIDER_ERROR: "), "{error}");
    for part in [
        "500",
        "upstream exploded",
        MODEL,
        &format!("{url}/chat/completions"),
        "3 attempts",
    ] {
        assert!(error.contains(part), "{part:?} missing from {error}");
    }
    assert!(!error.contains(API_KEY));
    let posted = table.posted();
    assert_eq!(posted.len(), 1, "an error message, and no narration");
    assert_eq!(posted[0].kind, AiMessageKind::Error);
    assert!(posted[0].content.contains("upstream exploded"));
    assert!(!posted[0].content.contains(API_KEY));
}

#[tokio::test]
async fn a_provider_that_does_not_answer_in_time_fails_the_turn() {
    let mut slow = Reply::ok(answer("too late"));
    slow.delay = Duration::from_secs(5);
    let (url, fake) = fake_provider(vec![slow.clone(), slow]).await;
    let table = Table::default();
    let started = Instant::now();
    let outcome = take_turn(
        &engine(
            &url,
            &["--ai-request-timeout-ms", "300", "--ai-max-retries", "1"],
        ),
        &table,
    )
    .await;

    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(fake.received().len(), 2, "the timeout was retried once");
    assert_eq!(outcome.status, TurnStatus::Failed);
    let error = outcome.error.expect("an error for the GM");
    assert!(error.contains("did not answer within 300 ms"), "{error}");
    assert!(error.contains("--ai-request-timeout-ms"), "{error}");
    assert_eq!(table.posted()[0].kind, AiMessageKind::Error);
}

#[tokio::test]
async fn a_wrong_key_is_not_retried_and_names_the_option() {
    let (url, fake) = fake_provider(vec![Reply::error(
        401,
        "Incorrect API key provided: sk-test-****1234.",
        "invalid_request_error",
    )])
    .await;
    let outcome = take_turn(&engine(&url, &[]), &Table::default()).await;

    assert_eq!(fake.received().len(), 1);
    let error = outcome.error.expect("an error for the GM");
    assert!(error.contains("401"), "{error}");
    assert!(error.contains("--ai-api-key"), "{error}");
    assert!(!error.contains(API_KEY), "{error}");
}

#[tokio::test]
async fn an_unreachable_provider_is_reported_with_its_address() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    let url = format!("http://{addr}/v1");
    let outcome = take_turn(&engine(&url, &["--ai-max-retries", "1"]), &Table::default()).await;

    assert_eq!(outcome.status, TurnStatus::Failed);
    let error = outcome.error.expect("an error for the GM");
    assert!(error.contains("cannot reach"), "{error}");
    assert!(error.contains(&addr.to_string()), "{error}");
    assert!(error.contains("2 attempts"), "{error}");
}
