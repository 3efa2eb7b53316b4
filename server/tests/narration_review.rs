//! The server's side of the GM's review, over the real socket with the offline AI: a turn
//! streams its narration as `narration_delta` previews ended by a `chat_response` naming the
//! stream; `narration_regenerate` writes the narration again as a turn of its own without a
//! single `execute_roll`; `narration_discard` forgets the turn, after which a regeneration
//! ends `failed` with an error that says why.

mod support;

use serde_json::{Value, json};
use support::*;

fn regenerate(request_id: &str, turn: &str, note: &str) -> Value {
    json!({"type": "narration_regenerate", "request_id": request_id,
           "data": {"turn": turn, "note": note}})
}

#[tokio::test]
async fn a_narration_streams_is_regenerated_without_rolls_and_a_discarded_turn_cannot_be() {
    let server = start(&["--ai-offline-stream-interval-ms", "20"]).await;
    let mut ws = connected(&server, "gb-u1-review").await;
    send(&mut ws, &chat_request("turn-1", ATTACK)).await;
    let (complete, frames) = finish_turn(&mut ws, 19.0).await;
    assert_eq!(complete["data"]["status"], "completed", "{complete}");
    let deltas: Vec<&Value> = frames
        .iter()
        .filter(|f| f["type"] == "narration_delta")
        .collect();
    assert!(!deltas.is_empty(), "no previews: {frames:#?}");
    assert!(
        deltas.iter().all(|d| d.get("seq").is_none()),
        "previews are not session frames: {deltas:#?}"
    );
    let narration = frames
        .iter()
        .rfind(|f| f["type"] == "chat_response")
        .expect("a narration");
    assert_eq!(narration["data"]["stream"], deltas[0]["data"]["stream"]);
    let previewed: String = deltas
        .iter()
        .filter_map(|d| d["data"]["text"].as_str())
        .collect();
    let text = narration["data"]["message"]["content"]
        .as_str()
        .unwrap_or_default();
    assert!(
        text.starts_with(previewed.trim_end()),
        "the previews are the narration's start: {previewed:?} / {text:?}"
    );

    send(&mut ws, &regenerate("regen-1", "turn-1", "Shorter.")).await;
    let (complete, frames) = finish_turn(&mut ws, 19.0).await;
    assert_eq!(complete["request_id"], "regen-1");
    assert_eq!(complete["data"]["status"], "completed", "{complete}");
    assert!(
        !frames.iter().any(|f| f["type"] == "execute_roll"),
        "a regeneration asked for dice: {frames:#?}"
    );
    let again = frames
        .iter()
        .find(|f| f["type"] == "chat_response")
        .expect("a new narration");
    assert_eq!(again["request_id"], "regen-1");
    assert!(
        again["data"]["message"]["content"]
            .as_str()
            .is_some_and(|t| t.contains("19")),
        "the new narration uses the kept roll: {again}"
    );

    send(
        &mut ws,
        &json!({"type": "narration_discard", "data": {"turn": "turn-1"}}),
    )
    .await;
    send(&mut ws, &regenerate("regen-2", "turn-1", "")).await;
    let (complete, frames) = finish_turn(&mut ws, 19.0).await;
    assert_eq!(complete["request_id"], "regen-2");
    assert_eq!(complete["data"]["status"], "failed");
    let error = complete["data"]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("turn-1") && error.contains("not kept"),
        "the error does not say why: {error}"
    );
    assert!(!frames.iter().any(|f| f["type"] == "chat_response"));
}
