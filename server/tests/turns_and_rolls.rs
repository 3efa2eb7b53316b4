//! AI turns and roll results against the real server with the offline AI: the fast path
//! stays fast while a turn waits, one turn at a time, and every roll result is applied
//! once whichever transport brings it and however often.

mod support;

use serde_json::json;
use std::time::Duration;
use support::*;

#[tokio::test]
async fn pings_settings_and_busy_refusals_are_answered_while_a_turn_waits_on_a_roll() {
    let server = start(&[]).await;
    let mut ws = connected(&server, "gb-u1-a").await;
    send(&mut ws, &chat_request("turn-1", ATTACK)).await;
    let (execute, before) = until(&mut ws, "execute_roll").await;
    assert!(before.iter().any(|f| f["type"] == "ai_turn_started"));

    // The turn is held open: its roll is unanswered. The fast path answers at once.
    for n in 0..20 {
        send(
            &mut ws,
            &json!({"type": "ping", "request_id": format!("p{n}")}),
        )
        .await;
        let pong = next_frame(&mut ws).await;
        assert_eq!(
            (pong["type"].as_str(), pong["request_id"].as_str()),
            (Some("pong"), Some(format!("p{n}").as_str()))
        );
    }
    send(&mut ws, &json!({"type": "settings_sync", "request_id": "s1", "data": {"revision": 1, "settings": {"aiRole": "dm"}}})).await;
    let ack = next_frame(&mut ws).await;
    assert_eq!(
        (ack["type"].as_str(), ack["data"]["revision"].as_u64()),
        (Some("settings_ack"), Some(1))
    );
    send(&mut ws, &chat_request("turn-2", "And again!")).await;
    let busy = next_frame(&mut ws).await;
    assert_eq!(busy["type"], "error");
    assert_eq!(busy["data"]["code"], "AI_BUSY");
    assert_eq!(busy["request_id"], "turn-2");
    assert!(ai_busy(&server).await);

    send(&mut ws, &answer(&execute, 17.0)).await;
    let (ack, _) = until(&mut ws, "roll_ack").await;
    assert_eq!(ack["data"]["status"], "accepted");
    let (complete, responses) = finish_turn(&mut ws, 17.0).await;
    assert_eq!(complete["request_id"], "turn-1");
    assert_eq!(complete["data"]["status"], "completed");
    let narration: Vec<&str> = responses
        .iter()
        .filter(|f| f["type"] == "chat_response")
        .filter_map(|f| f["data"]["message"]["content"].as_str())
        .collect();
    assert!(
        narration.iter().any(|text| text.contains("17")),
        "the narration uses the real total: {narration:?}"
    );
    assert!(eventually(Duration::from_secs(2), || async { !ai_busy(&server).await }).await);
}

#[tokio::test]
async fn a_repeated_result_is_a_duplicate_and_applied_once() {
    let server = start(&[]).await;
    let mut ws = connected(&server, "gb-u1-a").await;
    send(&mut ws, &chat_request("turn-1", ATTACK)).await;
    let (execute, _) = until(&mut ws, "execute_roll").await;
    send(&mut ws, &answer(&execute, 12.0)).await;
    send(&mut ws, &answer(&execute, 3.0)).await;
    let (first, _) = until(&mut ws, "roll_ack").await;
    let (second, _) = until(&mut ws, "roll_ack").await;
    assert_eq!(first["data"]["status"], "accepted");
    assert_eq!(second["data"]["status"], "duplicate");
    let (code, body) = post_roll_result(
        &server,
        TOKEN,
        &json!({"request_id": execute["request_id"], "client_id": "gb-u1-a", "results": answer(&execute, 5.0)["data"]["results"]}),
    )
    .await;
    assert_eq!((code, body["status"].as_str()), (200, Some("duplicate")));
    let metrics = metrics(&server).await;
    let rolls = &metrics["websocket"]["roll_results"];
    assert_eq!(rolls["accepted"], 1);
    assert_eq!(rolls["duplicate"], 2);
    assert_eq!(rolls["by_transport"]["ws"], 2);
    assert_eq!(rolls["by_transport"]["http"], 1);
}

#[tokio::test]
async fn the_http_fallback_resolves_the_same_request_and_the_socket_then_hears_duplicate() {
    let server = start(&[]).await;
    let mut ws = connected(&server, "gb-u1-a").await;
    send(&mut ws, &chat_request("turn-1", ATTACK)).await;
    let (execute, _) = until(&mut ws, "execute_roll").await;
    let body = json!({"request_id": execute["request_id"], "client_id": "gb-u1-a",
                      "results": answer(&execute, 15.0)["data"]["results"]});
    assert_eq!(
        post_roll_result(&server, TOKEN, &body).await,
        (200, json!({"status": "accepted"}))
    );
    send(&mut ws, &answer(&execute, 15.0)).await;
    // The turn goes on meanwhile (a hit asks for damage, a miss ends it), so the ack
    // comes among the turn's frames or after its end.
    let (complete, frames) = finish_turn(&mut ws, 15.0).await;
    let is_our_ack =
        |f: &serde_json::Value| f["type"] == "roll_ack" && f["request_id"] == execute["request_id"];
    let ack = match frames.iter().find(|f| is_our_ack(f)) {
        Some(ack) => ack.clone(),
        None => until(&mut ws, "roll_ack").await.0,
    };
    assert!(is_our_ack(&ack), "{ack}");
    assert_eq!(ack["data"]["status"], "duplicate");
    assert_eq!(complete["data"]["status"], "completed");
}

#[tokio::test]
async fn the_http_fallback_refuses_bad_requests_with_json_errors() {
    let server = start(&[]).await;
    let mut ws = connected(&server, "gb-u1-a").await;
    send(&mut ws, &chat_request("turn-1", ATTACK)).await;
    let (execute, _) = until(&mut ws, "execute_roll").await;
    let good = json!({"request_id": execute["request_id"], "client_id": "gb-u1-a",
                      "results": answer(&execute, 9.0)["data"]["results"]});
    let url = format!("{}/api/roll-result", server.url());
    let client = reqwest::Client::new();

    let (code, body) = post_roll_result(&server, "wrong", &good).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (401, Some("UNAUTHORIZED"))
    );
    let (code, body) = post_roll_result(&server, ADMIN_TOKEN, &good).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (401, Some("UNAUTHORIZED")),
        "the admin token is not the client token"
    );

    let response = client
        .post(&url)
        .bearer_auth(TOKEN)
        .body(good.to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 415);
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "UNSUPPORTED_MEDIA_TYPE");

    let huge = "x".repeat(70 * 1024);
    let response = client
        .post(&url)
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(format!("{{\"pad\":\"{huge}\"}}"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 413);
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "PAYLOAD_TOO_LARGE");

    let response = client
        .post(&url)
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 400);

    let mut wrong_type = good.clone();
    wrong_type["results"][0]["total"] = json!("seventeen");
    let (code, body) = post_roll_result(&server, TOKEN, &wrong_type).await;
    assert_eq!(code, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("results[0].total"),
        "{body}"
    );

    let mut missing = good.clone();
    missing["results"] = json!([]);
    let (code, body) = post_roll_result(&server, TOKEN, &missing).await;
    assert_eq!(code, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("results"),
        "{body}"
    );

    let mut foreign = good.clone();
    foreign["client_id"] = json!("gb-u9-other");
    assert_eq!(
        post_roll_result(&server, TOKEN, &foreign).await,
        (403, json!({"status": "forbidden"}))
    );

    let mut unknown = good.clone();
    unknown["request_id"] = json!("roll-999999");
    assert_eq!(
        post_roll_result(&server, TOKEN, &unknown).await,
        (404, json!({"status": "unknown"}))
    );

    assert_eq!(
        post_roll_result(&server, TOKEN, &good).await,
        (200, json!({"status": "accepted"}))
    );
}

#[tokio::test]
async fn a_late_result_is_expired_and_the_turn_ends_with_timeout() {
    let server = start(&["--roll-timeout-ms", "300"]).await;
    let mut ws = connected(&server, "gb-u1-a").await;
    send(&mut ws, &chat_request("turn-1", ATTACK)).await;
    let (execute, _) = until(&mut ws, "execute_roll").await;
    assert_eq!(execute["data"]["timeout_ms"], 300);
    let (complete, _) = until(&mut ws, "ai_turn_complete").await;
    assert_eq!(complete["data"]["status"], "timeout");
    assert!(
        complete["data"]["error"].as_str().unwrap_or_default().len() > 10,
        "{complete}"
    );
    assert!(!ai_busy(&server).await, "the lock is released on timeout");
    send(&mut ws, &answer(&execute, 4.0)).await;
    let (ack, _) = until(&mut ws, "roll_ack").await;
    assert_eq!(ack["data"]["status"], "expired");
    let body = json!({"request_id": execute["request_id"], "client_id": "gb-u1-a",
                      "results": answer(&execute, 4.0)["data"]["results"]});
    assert_eq!(
        post_roll_result(&server, TOKEN, &body).await,
        (410, json!({"status": "expired"}))
    );
    let metrics = metrics(&server).await;
    assert_eq!(metrics["system"]["pending_ai_requests"], 0);
    assert_eq!(metrics["websocket"]["ai_processing"]["timeout_requests"], 1);
}

#[tokio::test]
async fn the_lock_is_released_when_the_client_stays_away() {
    let server = start(&["--roll-timeout-ms", "400"]).await;
    let mut ws = connected(&server, "gb-u1-a").await;
    send(&mut ws, &chat_request("turn-1", ATTACK)).await;
    until(&mut ws, "execute_roll").await;
    drop(ws);
    assert!(
        ai_busy(&server).await,
        "a dropped socket does not end the turn at once"
    );
    assert!(
        eventually(Duration::from_secs(3), || async { !ai_busy(&server).await }).await,
        "the lock is released within the roll timeout of the disconnect"
    );
    let metrics = metrics(&server).await;
    assert_eq!(metrics["websocket"]["ai_processing"]["timeout_requests"], 1);
}

#[tokio::test]
async fn the_lock_is_released_when_a_turn_completes() {
    let server = start(&[]).await;
    let mut ws = connected(&server, "gb-u1-a").await;
    send(
        &mut ws,
        &chat_request("turn-1", "What do we see in the cave?"),
    )
    .await;
    let (complete, _) = until(&mut ws, "ai_turn_complete").await;
    assert_eq!(complete["data"]["status"], "completed");
    send(&mut ws, &chat_request("turn-2", "And now?")).await;
    let (started, _) = until(&mut ws, "ai_turn_started").await;
    assert_eq!(started["request_id"], "turn-2");
}

#[tokio::test]
async fn the_lock_is_released_when_the_provider_fails() {
    // An OpenAI-compatible endpoint nobody listens on.
    let server = start(&[
        "--ai-provider",
        "openai",
        "--ai-base-url",
        "http://127.0.0.1:9/v1",
        "--ai-model",
        "test-model",
        "--ai-max-retries",
        "0",
    ])
    .await;
    let mut ws = connected(&server, "gb-u1-a").await;
    send(&mut ws, &chat_request("turn-1", ATTACK)).await;
    let (complete, before) = until(&mut ws, "ai_turn_complete").await;
    assert_eq!(complete["data"]["status"], "failed");
    assert!(
        before
            .iter()
            .any(|f| f["type"] == "chat_response" && f["data"]["message"]["kind"] == "error")
    );
    assert!(!ai_busy(&server).await);
    assert_eq!(
        metrics(&server).await["websocket"]["ai_processing"]["failed_requests"],
        1
    );
}

#[tokio::test]
async fn a_new_connection_of_the_same_client_takes_over_and_gets_the_unanswered_roll() {
    let server = start(&[]).await;
    let mut old = connected(&server, "gb-u1-a").await;
    send(&mut old, &chat_request("turn-1", ATTACK)).await;
    let (execute, _) = until(&mut old, "execute_roll").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut new = connected(&server, "gb-u1-a").await;
    assert_eq!(next_close(&mut old).await, Some(4000));
    let (again, _) = until(&mut new, "execute_roll").await;
    assert_eq!(again["request_id"], execute["request_id"]);
    assert!(
        again["data"]["timeout_ms"].as_u64() < execute["data"]["timeout_ms"].as_u64(),
        "the time left"
    );
    send(&mut new, &answer(&again, 20.0)).await;
    let (ack, _) = until(&mut new, "roll_ack").await;
    assert_eq!(ack["data"]["status"], "accepted");
    let (complete, _) = finish_turn(&mut new, 20.0).await;
    assert_eq!(complete["data"]["status"], "completed");
}

#[tokio::test]
async fn turn_output_waits_for_a_reconnect_and_arrives_in_order() {
    let server = start(&[]).await;
    let mut ws = connected(&server, "gb-u1-a").await;
    send(&mut ws, &chat_request("turn-1", ATTACK)).await;
    let (execute, _) = until(&mut ws, "execute_roll").await;
    drop(ws);
    // The result arrives over HTTP while the socket is gone; the turn goes on.
    let body = json!({"request_id": execute["request_id"], "client_id": "gb-u1-a",
                      "results": answer(&execute, 11.0)["data"]["results"]});
    assert_eq!(post_roll_result(&server, TOKEN, &body).await.0, 200);
    let mut back = connected(&server, "gb-u1-a").await;
    let (complete, before) = finish_turn(&mut back, 11.0).await;
    assert_eq!(complete["data"]["status"], "completed");
    assert!(
        before.iter().any(|f| f["type"] == "chat_response"),
        "the narration was kept: {before:?}"
    );
}

#[tokio::test]
async fn settings_are_kept_per_client_with_their_revision() {
    let server = start(&[]).await;
    let mut a = connected(&server, "gb-u1-a").await;
    let mut b = connected(&server, "gb-u2-b").await;
    let sync = |revision: u64, role: &str| json!({"type": "settings_sync", "request_id": "s", "data": {"revision": revision, "settings": {"aiRole": role}}});
    send(&mut a, &sync(5, "dm")).await;
    send(&mut b, &sync(1, "player")).await;
    assert_eq!(next_frame(&mut a).await["data"]["revision"], 5);
    assert_eq!(next_frame(&mut b).await["data"]["revision"], 1);
    send(&mut a, &sync(4, "player")).await;
    let stale = next_frame(&mut a).await;
    assert_eq!(
        (stale["type"].as_str(), stale["data"]["revision"].as_u64()),
        (Some("settings_ack"), Some(5))
    );
    send(&mut a, &json!({"type": "settings_sync", "request_id": "s", "data": {"revision": -1, "settings": {}}})).await;
    assert_eq!(next_frame(&mut a).await["data"]["code"], "INVALID_MESSAGE");
    send(&mut a, &json!({"type": "settings_sync", "request_id": "s", "data": {"revision": 9_007_199_254_740_992u64, "settings": {}}})).await;
    assert_eq!(next_frame(&mut a).await["data"]["code"], "INVALID_MESSAGE");
}
