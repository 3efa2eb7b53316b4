//! Bad frames against the real server: each gets a clear error, and the connection
//! survives it unless the protocol says to close.

mod support;

use futures_util::SinkExt;
use serde_json::json;
use support::*;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

async fn still_alive(ws: &mut Ws) {
    send(ws, &json!({"type": "ping", "request_id": "alive"})).await;
    let pong = next_frame(ws).await;
    assert_eq!(
        (pong["type"].as_str(), pong["request_id"].as_str()),
        (Some("pong"), Some("alive"))
    );
}

#[tokio::test]
async fn text_that_is_not_json_is_invalid_and_the_connection_stays() {
    let server = start(&[]).await;
    let mut ws = connected(&server, "gb-u1-a").await;
    ws.send(Message::Text("this is not json".into()))
        .await
        .expect("send");
    let error = next_frame(&mut ws).await;
    assert_eq!(error["data"]["code"], "INVALID_MESSAGE");
    assert!(
        error["data"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("JSON")
    );
    still_alive(&mut ws).await;
}

#[tokio::test]
async fn an_unknown_type_is_named_and_answered_with_its_request_id() {
    let server = start(&[]).await;
    let mut ws = connected(&server, "gb-u1-a").await;
    send(
        &mut ws,
        &json!({"type": "teleport", "request_id": "t1", "data": {}}),
    )
    .await;
    let error = next_frame(&mut ws).await;
    assert_eq!(error["data"]["code"], "UNKNOWN_TYPE");
    assert_eq!(error["request_id"], "t1");
    assert!(
        error["data"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("teleport")
    );
    still_alive(&mut ws).await;
}

#[tokio::test]
async fn a_wrong_field_type_is_named() {
    let server = start(&[]).await;
    let mut ws = connected(&server, "gb-u1-a").await;
    send(&mut ws, &json!({"type": "chat_request", "request_id": "c1", "data": {"messages": "hello", "settings_revision": 0}})).await;
    let error = next_frame(&mut ws).await;
    assert_eq!(error["data"]["code"], "INVALID_MESSAGE");
    assert_eq!(error["request_id"], "c1");
    assert!(
        error["data"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("chat_request")
    );
    still_alive(&mut ws).await;
}

#[tokio::test]
async fn a_second_connect_is_invalid_and_the_connection_stays() {
    let server = start(&[]).await;
    let mut ws = connected(&server, "gb-u1-a").await;
    send(&mut ws, &connect_frame("gb-u1-a", TOKEN)).await;
    assert_eq!(next_frame(&mut ws).await["data"]["code"], "INVALID_MESSAGE");
    still_alive(&mut ws).await;
}

#[tokio::test]
async fn a_binary_frame_is_invalid_and_the_connection_stays() {
    let server = start(&[]).await;
    let mut ws = connected(&server, "gb-u1-a").await;
    ws.send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .expect("send");
    assert_eq!(next_frame(&mut ws).await["data"]["code"], "INVALID_MESSAGE");
    still_alive(&mut ws).await;
}

#[tokio::test]
async fn an_oversized_frame_gets_payload_too_large_then_close_1009() {
    let server = start(&[]).await;
    let mut ws = connected(&server, "gb-u1-a").await;
    let padding = "x".repeat(70 * 1024);
    send(
        &mut ws,
        &json!({"type": "chat_message", "data": {"content": padding}}),
    )
    .await;
    let error = next_frame(&mut ws).await;
    assert_eq!(error["data"]["code"], "PAYLOAD_TOO_LARGE");
    assert_eq!(next_close(&mut ws).await, Some(1009));
}

#[tokio::test]
async fn a_text_frame_that_is_not_utf8_closes_with_1007() {
    let server = start(&[]).await;
    let mut ws = connected(&server, "gb-u1-a").await;
    let frame = Frame::message(vec![0xff, 0xfe, 0xfd], OpCode::Data(Data::Text), true);
    ws.send(Message::Frame(frame)).await.expect("send");
    assert_eq!(next_close(&mut ws).await, Some(1007));
}

#[tokio::test]
async fn a_result_for_another_clients_request_is_forbidden() {
    let server = start(&[]).await;
    let mut owner = connected(&server, "gb-u1-a").await;
    let mut other = connected(&server, "gb-u2-b").await;
    send(&mut owner, &chat_request("turn-1", ATTACK)).await;
    let (execute, _) = until(&mut owner, "execute_roll").await;
    send(&mut other, &answer(&execute, 20.0)).await;
    let ack = next_frame(&mut other).await;
    assert_eq!(ack["data"]["status"], "forbidden");
    send(&mut owner, &answer(&execute, 2.0)).await;
    let (ack, _) = until(&mut owner, "roll_ack").await;
    assert_eq!(
        ack["data"]["status"], "accepted",
        "the forbidden result changed nothing"
    );
}

#[tokio::test]
async fn a_result_that_does_not_fit_its_request_names_the_field() {
    let server = start(&[]).await;
    let mut ws = connected(&server, "gb-u1-a").await;
    send(&mut ws, &chat_request("turn-1", ATTACK)).await;
    let (execute, _) = until(&mut ws, "execute_roll").await;
    let mut bad = answer(&execute, 1.0);
    bad["data"]["results"][0]["total"] = serde_json::Value::Null;
    send(&mut ws, &bad).await;
    let (ack, _) = until(&mut ws, "roll_ack").await;
    assert_eq!(ack["data"]["status"], "invalid");
    assert!(
        ack["data"]["error"]
            .as_str()
            .unwrap_or_default()
            .starts_with("results[0].total"),
        "{ack}"
    );
}

#[tokio::test]
async fn a_result_for_a_request_never_issued_is_unknown() {
    let server = start(&[]).await;
    let mut ws = connected(&server, "gb-u1-a").await;
    send(
        &mut ws,
        &json!({"type": "roll_result", "request_id": "roll-424242", "data": {"results": []}}),
    )
    .await;
    let ack = next_frame(&mut ws).await;
    assert_eq!(
        (ack["type"].as_str(), ack["data"]["status"].as_str()),
        (Some("roll_ack"), Some("unknown"))
    );
}
