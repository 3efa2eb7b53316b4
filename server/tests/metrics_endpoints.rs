//! `/metrics` and `/api/metrics`: only with the admin token, and counting what happened.

mod support;

use serde_json::{Value, json};
use support::*;

#[tokio::test]
async fn metrics_need_the_admin_token() {
    let server = start(&[]).await;
    let client = reqwest::Client::new();
    for path in ["/metrics", "/api/metrics"] {
        let url = format!("{}{path}", server.url());
        let anonymous = client.get(&url).send().await.expect("request");
        assert_eq!(anonymous.status(), 401, "{path} without a token");
        let body: Value = anonymous.json().await.expect("a JSON error body");
        assert_eq!(body["error"]["code"], "UNAUTHORIZED");
        let client_token = client
            .get(&url)
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("request");
        assert_eq!(client_token.status(), 401, "{path} with the client token");
        let admin = client
            .get(&url)
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("request");
        assert_eq!(admin.status(), 200, "{path} with the admin token");
    }
}

#[tokio::test]
async fn the_json_metrics_count_connections_messages_and_turns() {
    let server = start(&[]).await;
    let mut ws = connected(&server, "gb-u1-a").await;
    send(&mut ws, &json!({"type": "ping", "request_id": "p"})).await;
    next_frame(&mut ws).await;
    send(&mut ws, &json!({"type": "nonsense"})).await;
    next_frame(&mut ws).await;
    let mut refused = open(&server, None).await.expect("upgrade");
    send(&mut refused, &connect_frame("gb-u1-x", "wrong")).await;
    next_close(&mut refused).await;
    send(&mut ws, &chat_request("turn-1", ATTACK)).await;
    let (execute, _) = until(&mut ws, "execute_roll").await;

    let during = metrics(&server).await;
    assert_eq!(during["service"], "gold-box");
    assert_eq!(during["system"]["active_connections"], 1);
    assert_eq!(during["system"]["pending_ai_requests"], 1);
    assert_eq!(
        during["system"]["current_ai_request"]["request_id"],
        "turn-1"
    );
    assert_eq!(
        during["system"]["current_ai_request"]["client_id"],
        "gb-u1-a"
    );
    let connections = &during["websocket"]["connections"];
    assert_eq!(connections["total"], 2);
    assert_eq!(connections["successful"], 1);
    assert_eq!(connections["failed"], 1);
    assert_eq!(connections["messages_received_by_type"]["ping"], 1);
    assert_eq!(connections["messages_received_by_type"]["invalid"], 1);
    assert_eq!(connections["messages_sent_by_type"]["pong"], 1);
    assert!(connections["errors"].as_u64() >= Some(1));
    assert!(connections["last_error"].is_string());

    send(&mut ws, &answer(&execute, 13.0)).await;
    finish_turn(&mut ws, 13.0).await;
    let after = metrics(&server).await;
    let ai = &after["websocket"]["ai_processing"];
    assert_eq!(ai["total_requests"], 1);
    assert_eq!(ai["completed_requests"], 1);
    assert!(ai["average_processing_time_ms"].as_f64() > Some(0.0));
    let rolls = &after["websocket"]["roll_results"];
    let accepted = rolls["accepted"].as_u64().expect("a count");
    assert!(accepted >= 1, "{rolls}");
    assert_eq!(
        rolls["latency_ms"]["recent"].as_array().map(Vec::len),
        Some(accepted as usize)
    );
    assert!(after["system"]["current_ai_request"].is_null());

    let text = reqwest::Client::new()
        .get(format!("{}/metrics", server.url()))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("text");
    let line =
        format!("gold_box_roll_results_total{{status=\"accepted\",transport=\"ws\"}} {accepted}");
    assert!(text.contains(&line), "{text}");
    assert!(text.contains("gold_box_ai_turns_finished_total{status=\"completed\"} 1"));
}
