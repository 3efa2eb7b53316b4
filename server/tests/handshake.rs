//! The handshake against the real server: `connect` → `connected`, and each way a
//! handshake is refused.

mod support;

use serde_json::json;
use support::*;

#[tokio::test]
async fn a_good_connect_is_answered_with_connected_and_the_limits() {
    let server = start(&[]).await;
    let mut ws = open(&server, None).await.expect("upgrade");
    send(&mut ws, &connect_frame("gb-u1-abc", TOKEN)).await;
    let reply = next_frame(&mut ws).await;
    assert_eq!(reply["type"], "connected");
    assert_eq!(reply["data"]["client_id"], "gb-u1-abc");
    assert_eq!(reply["data"]["protocol"], 1);
    assert_eq!(reply["data"]["heartbeat_ms"], 15_000);
    assert_eq!(reply["data"]["roll_timeout_ms"], 30_000);
    assert_eq!(reply["data"]["server_version"], env!("CARGO_PKG_VERSION"));
    server.shutdown().await.expect("clean stop");
}

#[tokio::test]
async fn a_wrong_token_gets_auth_failed_then_close_1008() {
    let server = start(&[]).await;
    let mut ws = open(&server, None).await.expect("upgrade");
    send(&mut ws, &connect_frame("gb-u1-abc", "not-the-token")).await;
    let reply = next_frame(&mut ws).await;
    assert_eq!(reply["type"], "error");
    assert_eq!(reply["data"]["code"], "AUTH_FAILED");
    assert_eq!(next_close(&mut ws).await, Some(1008));
}

#[tokio::test]
async fn a_missing_token_gets_auth_failed() {
    let server = start(&[]).await;
    let mut ws = open(&server, None).await.expect("upgrade");
    let mut frame = connect_frame("gb-u1-abc", TOKEN);
    frame["data"]
        .as_object_mut()
        .expect("object")
        .remove("token");
    send(&mut ws, &frame).await;
    assert_eq!(next_frame(&mut ws).await["data"]["code"], "AUTH_FAILED");
    assert_eq!(next_close(&mut ws).await, Some(1008));
}

#[tokio::test]
async fn another_protocol_version_gets_protocol_unsupported_then_close_1002() {
    let server = start(&[]).await;
    let mut ws = open(&server, None).await.expect("upgrade");
    let mut frame = connect_frame("gb-u1-abc", TOKEN);
    frame["data"]["protocol"] = json!(2);
    send(&mut ws, &frame).await;
    let reply = next_frame(&mut ws).await;
    assert_eq!(reply["data"]["code"], "PROTOCOL_UNSUPPORTED");
    assert!(
        reply["data"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("protocol 1")
    );
    assert_eq!(next_close(&mut ws).await, Some(1002));
}

#[tokio::test]
async fn a_frame_before_connect_closes_with_1008() {
    let server = start(&[]).await;
    let mut ws = open(&server, None).await.expect("upgrade");
    send(&mut ws, &json!({"type": "ping", "request_id": "p1"})).await;
    assert_eq!(next_close(&mut ws).await, Some(1008));
}

#[tokio::test]
async fn no_connect_within_the_deadline_closes_with_1008() {
    let server = start(&["--handshake-timeout-ms", "200"]).await;
    let mut ws = open(&server, None).await.expect("upgrade");
    assert_eq!(next_close(&mut ws).await, Some(1008));
}

#[tokio::test]
async fn after_the_handshake_a_ping_gets_a_pong_with_its_request_id() {
    let server = start(&[]).await;
    let mut ws = connected(&server, "gb-u1-abc").await;
    send(
        &mut ws,
        &json!({"type": "ping", "request_id": "ping-1", "data": {}}),
    )
    .await;
    let pong = next_frame(&mut ws).await;
    assert_eq!(pong["type"], "pong");
    assert_eq!(pong["request_id"], "ping-1");
}

#[tokio::test]
async fn an_upgrade_from_a_foreign_origin_is_refused_with_403() {
    let server = start(&[]).await;
    let error = open(&server, Some("http://evil.example"))
        .await
        .expect_err("refused");
    match error {
        tokio_tungstenite::tungstenite::Error::Http(response) => {
            assert_eq!(response.status(), 403);
            let body: serde_json::Value =
                serde_json::from_slice(response.body().as_deref().unwrap_or_default())
                    .expect("JSON body");
            assert_eq!(body["error"]["code"], "FORBIDDEN");
        }
        other => panic!("expected HTTP 403, got {other}"),
    }
}

#[tokio::test]
async fn an_upgrade_from_a_configured_foundry_origin_is_accepted() {
    let server = start(&["--foundry-origin", "http://foundry.local:30000"]).await;
    assert!(
        open(&server, Some("http://foundry.local:30000"))
            .await
            .is_ok()
    );
    assert!(
        open(&server, Some("http://localhost:30000")).await.is_ok(),
        "defaults stay allowed"
    );
}

#[tokio::test]
async fn shutdown_closes_sockets_with_1001() {
    let server = start(&[]).await;
    let mut ws = connected(&server, "gb-u1-abc").await;
    let stopping = tokio::spawn(server.shutdown());
    assert_eq!(next_close(&mut ws).await, Some(1001));
    drop(ws);
    stopping.await.expect("join").expect("clean stop");
}
