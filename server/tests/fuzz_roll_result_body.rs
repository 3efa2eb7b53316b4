//! Property test of `POST /api/roll-result`, the HTTP fallback for roll results, against
//! the real server: arbitrary bodies (any bytes, any JSON, submissions with mutated
//! fields aimed at requests really pending, for this client or another, bodies over the
//! size limit), with or without the JSON content type or the token, never get a 5xx,
//! and always get a JSON body with either a roll `status` (whose HTTP status matches
//! it) or an `error` with a `code` and a message, as docs/PROTOCOL.md's HTTP section
//! says. 256 cases against one server.

#[path = "../../protocol/tests/strategies/mod.rs"]
mod strategies;
mod support;

use gold_box_protocol::RollRequest;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::*;

const CLIENT: &str = "gb-u1-fuzz";
/// Requests issued before the run, so that bodies can hit real pending ids.
const PENDING: usize = 4;

#[derive(Debug, Clone)]
struct Post {
    body: Vec<u8>,
    content_type: Option<&'static str>,
    token: Option<&'static str>,
}

fn valid_submission(request_id: &str, client_id: &str, rolls: usize) -> Value {
    let results: Vec<Value> = (0..rolls)
        .map(|_| {
            json!({"formula": "1d20", "flavor": "fuzz", "total": 12.0,
                   "dice": [{"faces": 20, "results": [{"result": 12, "active": true}]}]})
        })
        .collect();
    json!({"request_id": request_id, "client_id": client_id, "results": results})
}

/// Submissions close to valid: for each pending id and a few never issued, from this
/// client or another.
fn submission_seeds(pending: &[String]) -> Vec<Value> {
    let mut ids: Vec<String> = pending.to_vec();
    ids.extend(["roll-0".to_owned(), "roll-999".to_owned()]);
    let mut seeds = Vec::new();
    for id in &ids {
        for client in [CLIENT, "gb-u1-other"] {
            seeds.push(valid_submission(id, client, 1));
        }
        seeds.push(valid_submission(id, CLIENT, 2));
    }
    seeds.push(valid_submission("", "", 0));
    seeds
}

fn bodies(pending: &[String]) -> BoxedStrategy<Vec<u8>> {
    let seeds = submission_seeds(pending);
    let padded = valid_submission(&pending[0], CLIENT, 1)
        .to_string()
        .into_bytes();
    prop_oneof![
        3 => strategies::mutated(seeds.clone()).prop_map(|v| v.to_string().into_bytes()),
        1 => prop::sample::select(seeds).prop_map(|v| v.to_string().into_bytes()),
        1 => strategies::json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => strategies::frame_text().prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..512),
        // Over the 64 KiB body limit: a valid submission padded with spaces.
        1 => (0usize..4096).prop_map(move |extra| {
            let mut body = padded.clone();
            body.resize(64 * 1024 + 1 + extra, b' ');
            body
        }),
    ]
    .boxed()
}

fn posts(pending: &[String]) -> BoxedStrategy<Post> {
    (
        bodies(pending),
        prop_oneof![
            8 => Just(Some("application/json")),
            1 => Just(Some("application/json; charset=utf-8")),
            1 => Just(Some("text/plain")),
            1 => Just(None),
        ],
        prop_oneof![
            10 => Just(Some(TOKEN)),
            1 => Just(Some("wrong-token")),
            1 => Just(None),
        ],
    )
        .prop_map(|(body, content_type, token)| Post {
            body,
            content_type,
            token,
        })
        .boxed()
}

/// The roll statuses the endpoint answers with, and the HTTP status each goes with.
fn status_code_of(status: &str) -> Option<u16> {
    match status {
        "accepted" | "duplicate" => Some(200),
        "expired" => Some(410),
        "unknown" => Some(404),
        "forbidden" => Some(403),
        _ => None,
    }
}

async fn post(http: &reqwest::Client, url: &str, post: &Post) -> Result<(u16, String), String> {
    let mut request = http.post(url).body(post.body.clone());
    if let Some(content_type) = post.content_type {
        request = request.header("content-type", content_type);
    }
    if let Some(token) = post.token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    let code = response.status().as_u16();
    let text = response.text().await.map_err(|e| e.to_string())?;
    Ok((code, text))
}

/// Checks one answer; returns a label for the tally.
fn check(post: &Post, code: u16, text: &str) -> Result<String, TestCaseError> {
    let shown = String::from_utf8_lossy(&post.body);
    prop_assert!(code < 500, "{code} {text} for {shown}");
    let body: Value = serde_json::from_str(text)
        .map_err(|e| TestCaseError::fail(format!("{code} body is not JSON ({e}): {text}")))?;
    if let Some(status) = body["status"].as_str() {
        prop_assert_eq!(
            status_code_of(status),
            Some(code),
            "{} {} for {}",
            code,
            text,
            shown
        );
        return Ok(format!("{code} {status}"));
    }
    let error_code = body["error"]["code"].as_str().unwrap_or_default();
    let message = body["error"]["message"].as_str().unwrap_or_default();
    prop_assert!(
        !error_code.is_empty() && !message.trim().is_empty(),
        "{} {} for {}",
        code,
        text,
        shown
    );
    prop_assert!((400..500).contains(&code), "{code} {text}");
    Ok(format!("{code} {error_code}"))
}

#[test]
fn arbitrary_roll_result_bodies_never_get_a_5xx_and_always_a_status_or_an_error_code() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let started = std::time::Instant::now();
    let server = Arc::new(runtime.block_on(start(&[])));
    // A connected client with requests pending; their ids come in its execute_rolls.
    let mut ws = runtime.block_on(connected(&server, CLIENT));
    let waiting: Vec<_> = (0..PENDING)
        .map(|n| {
            let server = server.clone();
            let rolls = vec![RollRequest {
                formula: "1d20".into(),
                flavor: Some(format!("pending-{n}")),
            }];
            runtime.spawn(async move {
                server
                    .request_rolls(CLIENT, rolls, Duration::from_secs(60))
                    .await
            })
        })
        .collect();
    let pending: Vec<String> = runtime.block_on(async {
        let mut ids = Vec::new();
        while ids.len() < PENDING {
            let (frame, _) = until(&mut ws, "execute_roll").await;
            ids.push(frame["request_id"].as_str().expect("request_id").to_owned());
        }
        ids
    });

    let http = reqwest::Client::new();
    let url = format!("{}/api/roll-result", server.url());
    let seen: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());
    let mut runner = TestRunner::new(Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&posts(&pending), |sent| {
        let (code, text) = runtime
            .block_on(post(&http, &url, &sent))
            .map_err(|e| TestCaseError::fail(format!("no answer: {e}")))?;
        let label = check(&sent, code, &text)?;
        *seen.lock().expect("tally").entry(label).or_default() += 1;
        Ok(())
    });
    let seen = seen.into_inner().expect("tally");
    let resolved = waiting.iter().filter(|task| task.is_finished()).count();
    println!(
        "256 bodies in {:.2?}: {seen:?}; {resolved} of the {PENDING} pending requests were \
         resolved by a fuzzed body",
        started.elapsed()
    );
    if let Err(failure) = result {
        panic!("{failure}");
    }
    // The server is still well, and still answers a plain valid body.
    runtime.block_on(async {
        let health = reqwest::get(format!("{}/api/health", server.url()))
            .await
            .expect("health answers");
        assert_eq!(health.status(), 200);
        let (code, body) =
            post_roll_result(&server, TOKEN, &valid_submission("roll-999999", CLIENT, 1)).await;
        assert_eq!((code, body), (404, json!({"status": "unknown"})));
    });
    for task in waiting {
        task.abort();
        let _ = runtime.block_on(task);
    }
    let Ok(server) = Arc::try_unwrap(server) else {
        panic!("a request task still holds the server");
    };
    runtime.block_on(server.shutdown()).expect("clean shutdown");
}
