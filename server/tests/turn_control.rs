//! The GM in control of a turn, against the real server: `cancel_turn` stops a turn at
//! any stage (the provider's held request is dropped: its connection closes on the
//! provider's side; a pending roll is withdrawn and never applied), the stall watchdog
//! ends a turn whose provider goes silent, and each turn reports what it spent, which a
//! budget then limits.

mod support;

use serde_json::{Value, json};
use std::time::Duration;
use support::held_ai::{HeldAi, MODEL, Seen, Step, narration, roll_call};
use support::*;

/// How long the tests wait for something the server does within milliseconds.
const GENEROUS: Duration = Duration::from_secs(10);

fn cancel(request_id: &str) -> Value {
    json!({"type": "cancel_turn", "request_id": request_id, "data": {}})
}

async fn start_with(fake: &HeldAi, extra: &[&str]) -> gold_box_server::ServerHandle {
    let mut args: Vec<String> = fake.server_args();
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    start(&args).await
}

/// Waits until the fake has a request held open.
async fn held_request(fake: &mut HeldAi) {
    loop {
        match fake.next(GENEROUS).await {
            Some(Seen::Request { held: true, .. }) => return,
            Some(_) => continue,
            None => panic!("the provider never got a request to hold"),
        }
    }
}

/// Waits until the fake sees its held connection closed; returns when.
async fn held_closed(fake: &mut HeldAi) -> tokio::time::Instant {
    loop {
        match fake.next(GENEROUS).await {
            Some(Seen::HeldClosed { at }) => return at,
            Some(_) => continue,
            None => panic!("the held provider request was never dropped"),
        }
    }
}

/// A ping whose pong proves every frame before it was handled and answered.
async fn round_trip(ws: &mut Ws, id: &str) -> Vec<Value> {
    send(ws, &json!({"type": "ping", "request_id": id})).await;
    let mut before = Vec::new();
    loop {
        let frame = next_frame(ws).await;
        if frame["type"] == "pong" && frame["request_id"] == id {
            return before;
        }
        before.push(frame);
    }
}

#[tokio::test]
async fn a_stop_before_the_first_token_drops_the_provider_request_and_frees_the_slot() {
    let mut fake = HeldAi::start(vec![Step::Hold]).await;
    let server = start_with(&fake, &[]).await;
    let mut ws = connected(&server, "gb-u1-stop").await;
    send(
        &mut ws,
        &chat_request("turn-1", "What lies beyond the door?"),
    )
    .await;
    held_request(&mut fake).await;
    assert!(ai_busy(&server).await);

    let asked = tokio::time::Instant::now();
    send(&mut ws, &cancel("turn-1")).await;
    let (complete, before) = until(&mut ws, "ai_turn_complete").await;
    let closed = held_closed(&mut fake).await;
    println!(
        "cancel to provider connection closed: {:.1} ms",
        (closed - asked).as_secs_f64() * 1000.0
    );
    assert_eq!(complete["request_id"], "turn-1");
    assert_eq!(complete["data"]["status"], "cancelled", "{complete}");
    assert!(
        before.iter().all(|f| f["type"] != "chat_response"),
        "nothing is posted for a stopped turn: {before:?}"
    );
    assert!(!ai_busy(&server).await, "the AI slot is free");
    let metrics = metrics(&server).await;
    assert_eq!(
        metrics["websocket"]["ai_processing"]["cancelled_requests"],
        1
    );

    // The next turn is taken at once, and the provider is asked again.
    send(&mut ws, &chat_request("turn-2", "Then we wait.")).await;
    let started = next_frame(&mut ws).await;
    assert_eq!(
        (started["type"].as_str(), started["request_id"].as_str()),
        (Some("ai_turn_started"), Some("turn-2"))
    );
    held_request(&mut fake).await;
    send(&mut ws, &cancel("turn-2")).await;
    let (complete, _) = until(&mut ws, "ai_turn_complete").await;
    assert_eq!(complete["data"]["status"], "cancelled");
}

#[tokio::test]
async fn a_stop_during_a_pending_roll_withdraws_it_and_a_late_result_is_never_applied() {
    // The offline AI asks for an attack roll; the table has not answered yet.
    let server = start(&[]).await;
    let mut ws = connected(&server, "gb-u1-roll").await;
    send(&mut ws, &chat_request("turn-1", ATTACK)).await;
    let (execute, _) = until(&mut ws, "execute_roll").await;
    let roll_id = execute["request_id"].as_str().expect("roll id").to_owned();

    send(&mut ws, &cancel("turn-1")).await;
    let (withdrawn, _) = until(&mut ws, "roll_cancelled").await;
    assert_eq!(withdrawn["request_id"], roll_id.as_str(), "{withdrawn}");
    assert!(
        withdrawn["data"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("turn-1")),
        "{withdrawn}"
    );
    let (complete, before) = until(&mut ws, "ai_turn_complete").await;
    assert_eq!(complete["data"]["status"], "cancelled");
    assert!(before.iter().all(|f| f["type"] != "chat_response"));

    // The result made anyway is refused, over the socket and over HTTP alike.
    send(&mut ws, &answer(&execute, 17.0)).await;
    let (ack, _) = until(&mut ws, "roll_ack").await;
    assert_eq!(ack["data"]["status"], "expired", "{ack}");
    let body = json!({"request_id": roll_id, "client_id": "gb-u1-roll",
                      "results": answer(&execute, 17.0)["data"]["results"]});
    let (status, reply) = post_roll_result(&server, TOKEN, &body).await;
    assert_eq!((status, reply["status"].as_str()), (410, Some("expired")));
    let after = round_trip(&mut ws, "p1").await;
    assert!(
        after.iter().all(|f| f["type"] != "chat_response"),
        "no roll summary or narration after the stop: {after:?}"
    );
    let rolls = &metrics(&server).await["websocket"]["roll_results"];
    assert_eq!(rolls["accepted"], 0, "no result was applied: {rolls}");
    assert_eq!(server.roll_registry_sizes().0, 0, "nothing left pending");

    // A reconnect is not asked to roll it again.
    drop(ws);
    let mut ws = connected(&server, "gb-u1-roll").await;
    let after = round_trip(&mut ws, "p2").await;
    assert!(
        after.iter().all(|f| f["type"] != "execute_roll"),
        "{after:?}"
    );
}

#[tokio::test]
async fn a_cancel_is_idempotent_and_harmless_after_the_turn_or_for_an_unknown_turn() {
    let mut fake = HeldAi::start(vec![Step::Hold]).await;
    let server = start_with(&fake, &[]).await;
    let mut ws = connected(&server, "gb-u1-twice").await;
    // Before any turn: nothing happens, nothing is answered.
    send(&mut ws, &cancel("turn-0")).await;
    assert!(round_trip(&mut ws, "p0").await.is_empty());

    send(&mut ws, &chat_request("turn-1", "Hello?")).await;
    held_request(&mut fake).await;
    send(&mut ws, &cancel("turn-1")).await;
    send(&mut ws, &cancel("turn-1")).await;
    let (complete, _) = until(&mut ws, "ai_turn_complete").await;
    assert_eq!(complete["data"]["status"], "cancelled");
    // Once ended, a further cancel changes nothing and sends nothing; nor did the
    // second one above: no second end follows.
    send(&mut ws, &cancel("turn-1")).await;
    let after = round_trip(&mut ws, "p1").await;
    assert!(
        after.iter().all(|f| f["type"] != "ai_turn_complete"),
        "one end only: {after:?}"
    );
    assert_eq!(
        metrics(&server).await["websocket"]["ai_processing"]["cancelled_requests"],
        1
    );
}

#[tokio::test]
async fn a_cancel_from_another_client_is_refused_and_the_turn_runs_on() {
    let mut fake = HeldAi::start(vec![Step::Hold]).await;
    let server = start_with(&fake, &[]).await;
    let mut owner = connected(&server, "gb-u1-owner").await;
    let mut other = connected(&server, "gb-u2-other").await;
    send(&mut owner, &chat_request("turn-1", "Hello?")).await;
    held_request(&mut fake).await;

    send(&mut other, &cancel("turn-1")).await;
    let refused = next_frame(&mut other).await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["request_id"], "turn-1");
    assert_eq!(refused["data"]["code"], "FORBIDDEN");
    assert!(ai_busy(&server).await, "the owner's turn still runs");

    send(&mut owner, &cancel("turn-1")).await;
    let (complete, _) = until(&mut owner, "ai_turn_complete").await;
    assert_eq!(complete["data"]["status"], "cancelled");
}

#[tokio::test]
async fn a_cancel_without_a_request_id_is_an_invalid_message() {
    let server = start(&[]).await;
    let mut ws = connected(&server, "gb-u1-bad").await;
    send(&mut ws, &json!({"type": "cancel_turn", "data": {}})).await;
    let error = next_frame(&mut ws).await;
    assert_eq!(error["data"]["code"], "INVALID_MESSAGE", "{error}");
    assert!(
        error["data"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("request_id")),
        "{error}"
    );
}

#[tokio::test]
async fn a_provider_that_goes_silent_is_ended_by_the_stall_watchdog() {
    // The first answer asks for a roll (progress), then the provider goes silent.
    let mut fake = HeldAi::start(vec![Step::Answer(roll_call(100, 20)), Step::Hold]).await;
    let server = start_with(&fake, &["--ai-stall-timeout-ms", "400"]).await;
    let mut ws = connected(&server, "gb-u1-stall").await;
    send(&mut ws, &chat_request("turn-1", "I attack!")).await;
    let (execute, _) = until(&mut ws, "execute_roll").await;
    send(&mut ws, &answer(&execute, 17.0)).await;
    held_request(&mut fake).await;
    let (complete, _) = until(&mut ws, "ai_turn_complete").await;
    assert_eq!(complete["data"]["status"], "failed", "{complete}");
    let error = complete["data"]["error"].as_str().expect("a reason");
    assert!(
        error.contains("no progress") && error.contains("--ai-stall-timeout-ms"),
        "{error}"
    );
    held_closed(&mut fake).await;
    assert!(!ai_busy(&server).await);
    assert_eq!(
        complete["data"]["usage"]["prompt_tokens"], 100,
        "the answer before the stall is counted: {complete}"
    );
}

#[tokio::test]
async fn a_turn_reports_its_tokens_and_cost_in_the_frame_and_both_metrics() {
    let fake = HeldAi::start(vec![
        Step::Answer(roll_call(100, 20)),
        Step::Answer(narration("The blade bites.", 120, 10)),
    ])
    .await;
    let server = start_with(
        &fake,
        &[
            "--ai-price-prompt-per-mtok",
            "5",
            "--ai-price-completion-per-mtok",
            "15",
        ],
    )
    .await;
    let mut ws = connected(&server, "gb-u1-usage").await;
    send(&mut ws, &chat_request("turn-1", "I attack!")).await;
    let (complete, _) = finish_turn(&mut ws, 17.0).await;
    assert_eq!(complete["data"]["status"], "completed", "{complete}");
    assert_eq!(
        complete["data"]["usage"],
        json!({"prompt_tokens": 220, "completion_tokens": 30, "estimated_cost": 0.00155})
    );
    assert_eq!(complete["data"]["session_usage"], complete["data"]["usage"]);

    let usage = &metrics(&server).await["websocket"]["ai_processing"]["usage"];
    assert_eq!(
        *usage,
        json!({"provider": "openai", "model": MODEL, "prompt_tokens": 220,
               "completion_tokens": 30, "estimated_cost": 0.00155})
    );
    let text = reqwest::Client::new()
        .get(format!("{}/metrics", server.url()))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("text");
    for line in [
        format!(
            "gold_box_ai_tokens_total{{provider=\"openai\",model=\"{MODEL}\",kind=\"prompt\"}} 220"
        ),
        format!(
            "gold_box_ai_tokens_total{{provider=\"openai\",model=\"{MODEL}\",kind=\"completion\"}} 30"
        ),
    ] {
        assert!(text.contains(&line), "/metrics lacks {line}:\n{text}");
    }
    assert!(
        text.contains("gold_box_ai_estimated_cost_total{provider=\"openai\""),
        "{text}"
    );
}

#[tokio::test]
async fn the_offline_provider_reports_zero_tokens_and_no_cost() {
    let server = start(&[]).await;
    let mut ws = connected(&server, "gb-u1-offline").await;
    send(&mut ws, &chat_request("turn-1", CALM)).await;
    let (complete, _) = finish_turn(&mut ws, 12.0).await;
    assert_eq!(
        complete["data"]["usage"],
        json!({"prompt_tokens": 0, "completion_tokens": 0})
    );
}

#[tokio::test]
async fn a_spent_token_budget_refuses_the_next_turn_but_never_cuts_one_short() {
    let fake = HeldAi::start(vec![
        Step::Answer(roll_call(100, 20)),
        Step::Answer(narration("The blade bites.", 120, 10)),
    ])
    .await;
    // 200 tokens: the first turn crosses it in its first answer and still finishes.
    let server = start_with(&fake, &["--ai-budget-tokens", "200"]).await;
    let mut ws = connected(&server, "gb-u1-budget").await;
    send(&mut ws, &chat_request("turn-1", "I attack!")).await;
    let (complete, _) = finish_turn(&mut ws, 17.0).await;
    assert_eq!(complete["data"]["status"], "completed", "{complete}");

    send(&mut ws, &chat_request("turn-2", "Again!")).await;
    let refused = next_frame(&mut ws).await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["request_id"], "turn-2");
    assert_eq!(refused["data"]["code"], "BUDGET_EXCEEDED");
    assert!(refused["seq"].is_u64(), "a session frame: {refused}");
    let message = refused["data"]["message"].as_str().expect("message");
    assert!(
        message.contains("--ai-budget-tokens") && message.contains("250"),
        "{message}"
    );
    assert!(!ai_busy(&server).await);
    assert_eq!(
        metrics(&server).await["websocket"]["ai_processing"]["budget_rejections"],
        1
    );
}

#[tokio::test]
async fn a_reconnect_is_told_the_fate_of_the_clients_latest_turn_and_the_turns_bound() {
    let mut fake = HeldAi::start(vec![Step::Hold]).await;
    let server = start_with(&fake, &["--ai-max-turn-ms", "45000"]).await;
    let mut ws = open(&server, None).await.expect("upgrade");
    send(&mut ws, &resume_connect_frame("gb-u1-fate", None, 0)).await;
    let first = next_frame(&mut ws).await;
    assert_eq!(first["data"]["max_turn_ms"], 45_000, "{first}");
    assert!(first["data"]["turn"].is_null(), "no turn yet: {first}");
    let instance = first["data"]["instance"]
        .as_str()
        .expect("instance")
        .to_owned();
    send(&mut ws, &chat_request("turn-1", "Hello?")).await;
    held_request(&mut fake).await;

    // A reload in the middle of the turn: the new page learns the turn still runs.
    let mut reloaded = open(&server, None).await.expect("upgrade");
    send(
        &mut reloaded,
        &resume_connect_frame("gb-u1-fate", Some(&instance), 0),
    )
    .await;
    let connected = next_frame(&mut reloaded).await;
    let turn = &connected["data"]["turn"];
    assert_eq!(
        (turn["request_id"].as_str(), turn["status"].as_str()),
        (Some("turn-1"), Some("running")),
        "{connected}"
    );
    assert!(turn["elapsed_ms"].is_u64(), "{connected}");

    send(&mut reloaded, &cancel("turn-1")).await;
    until(&mut reloaded, "ai_turn_complete").await;
    let mut again = open(&server, None).await.expect("upgrade");
    send(
        &mut again,
        &resume_connect_frame("gb-u1-fate", Some(&instance), 0),
    )
    .await;
    let connected = next_frame(&mut again).await;
    assert_eq!(
        connected["data"]["turn"],
        json!({"request_id": "turn-1", "status": "cancelled"}),
        "{connected}"
    );
}
