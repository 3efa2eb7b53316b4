//! Property test of the WebSocket reader against the real server: arbitrary frames on
//! one connection (any text, damaged JSON, frame-shaped objects with random field types,
//! mutations of the documented frames, binary frames) never panic the server, each bad
//! frame gets the `error` frame docs/PROTOCOL.md gives it (its code, its `request_id`, a
//! message), each good one its usual answer, and the connection survives them all: a
//! `ping` sent after every frame still gets its `pong`.
//!
//! The expected answer comes from the protocol crate's decoder, as the spec describes
//! it (a frame is decoded once: JSON, then an object, then the envelope, then `data`).
//! 256 cases, on one connection for the whole run.

#[path = "../../protocol/tests/strategies/mod.rs"]
mod strategies;
mod support;

use futures_util::{SinkExt, StreamExt};
use gold_box_protocol::{ClientFrame, ClientMessage, FrameError, RawFrame};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use support::*;
use tokio_tungstenite::tungstenite::Message;

/// What a frame should get back, per docs/PROTOCOL.md.
#[derive(Debug, Clone, PartialEq)]
enum Expected {
    /// An `error` frame with this code, carrying the frame's `request_id` if it had one.
    Error {
        code: &'static str,
        request_id: Option<String>,
    },
    /// A reply of this type with the frame's `request_id`.
    Reply {
        kind: &'static str,
        request_id: Option<String>,
    },
    /// `chat_request`: the turn starts, or the AI is busy with another.
    TurnOrBusy { request_id: String },
    /// Context frames: no answer.
    Nothing,
    /// A `chat_request` whose `request_id` this client sent before: the server does not
    /// act on it again and says nothing (docs/PROTOCOL.md, "A `chat_request` sent again").
    AlreadyTaken,
}

/// The `chat_request` ids the server remembers for the fuzzing client, as docs/PROTOCOL.md
/// describes them: the latest 64, oldest forgotten first.
#[derive(Default)]
struct TakenTurnIds(std::collections::VecDeque<String>);

impl TakenTurnIds {
    const REMEMBERED: usize = 64;

    /// What the server answers, given the ids it took before; notes a newly taken one.
    fn expect(&mut self, expected: Expected) -> Expected {
        let Expected::TurnOrBusy { request_id } = &expected else {
            return expected;
        };
        if self.0.contains(request_id) {
            return Expected::AlreadyTaken;
        }
        if self.0.len() == Self::REMEMBERED {
            self.0.pop_front();
        }
        self.0.push_back(request_id.clone());
        expected
    }
}

/// One frame of the run.
#[derive(Debug, Clone)]
enum Sent {
    Text(String),
    Binary(Vec<u8>),
}

fn expected(sent: &Sent) -> Expected {
    let text = match sent {
        Sent::Binary(_) => {
            return Expected::Error {
                code: "INVALID_MESSAGE",
                request_id: None,
            };
        }
        Sent::Text(text) => text,
    };
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return Expected::Error {
            code: "INVALID_MESSAGE",
            request_id: None,
        };
    };
    let request_id = value
        .get("request_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if !value.is_object() {
        return Expected::Error {
            code: "INVALID_MESSAGE",
            request_id,
        };
    }
    let decoded = serde_json::from_value::<RawFrame<Value>>(value)
        .map_err(FrameError::malformed)
        .and_then(ClientFrame::decode);
    let frame = match decoded {
        Ok(frame) => frame,
        // A roll result with a request id is answered with roll_ack `invalid` even when
        // its data does not decode: the client's outbox waits for a roll_ack.
        Err(FrameError::InvalidData {
            type_name: "roll_result",
            ..
        }) if request_id.is_some() => {
            return Expected::Reply {
                kind: "roll_ack",
                request_id,
            };
        }
        Err(error) => {
            return Expected::Error {
                code: error.code().as_str(),
                request_id,
            };
        }
    };
    match frame.message {
        ClientMessage::Connect(_) => Expected::Error {
            code: "INVALID_MESSAGE",
            request_id,
        },
        ClientMessage::Ping(_) => Expected::Reply {
            kind: "pong",
            request_id,
        },
        ClientMessage::SettingsSync(_) => Expected::Reply {
            kind: "settings_ack",
            request_id,
        },
        ClientMessage::RollResult(_) => Expected::Reply {
            kind: "roll_ack",
            request_id,
        },
        // A regeneration runs as a turn of its own (one naming a turn never kept ends
        // `failed`).
        ClientMessage::ChatRequest(_) | ClientMessage::NarrationRegenerate(_) => {
            Expected::TurnOrBusy {
                request_id: request_id.unwrap_or_default(),
            }
        }
        ClientMessage::CombatState(_)
        | ClientMessage::NarrationDiscard(_)
        | ClientMessage::Ack(_)
        | ClientMessage::ChatMessage(_)
        | ClientMessage::DiceRoll(_)
        | ClientMessage::CombatContext(_) => Expected::Nothing,
        // Stops this client's own turn if one with that id runs (its end, and any
        // withdrawn roll, come as turn output); otherwise nothing happens.
        ClientMessage::CancelTurn(_) => Expected::Nothing,
    }
}

fn sent_frames() -> BoxedStrategy<Sent> {
    prop_oneof![
        9 => strategies::frame_text().prop_map(Sent::Text),
        1 => prop::collection::vec(any::<u8>(), 0..256).prop_map(Sent::Binary),
    ]
    .boxed()
}

/// Frames an AI turn started by an earlier case sends on its own schedule.
fn is_turn_output(frame: &Value) -> bool {
    matches!(
        frame["type"].as_str(),
        Some(
            "execute_roll"
                | "chat_response"
                | "ai_turn_complete"
                | "ai_turn_started"
                | "roll_cancelled"
                | "narration_delta"
        )
    )
}

/// Sends one frame and a probe `ping`; returns every frame that came before the probe's
/// `pong`, or why the connection did not survive.
async fn exchange(ws: &mut Ws, sent: &Sent, probe: &str) -> Result<Vec<Value>, String> {
    let message = match sent {
        Sent::Text(text) => Message::Text(text.clone().into()),
        Sent::Binary(bytes) => Message::Binary(bytes.clone().into()),
    };
    ws.send(message).await.map_err(|e| format!("send: {e}"))?;
    let ping = json!({"type": "ping", "request_id": probe});
    ws.send(Message::Text(ping.to_string().into()))
        .await
        .map_err(|e| format!("send the probe: {e}"))?;
    let mut before = Vec::new();
    loop {
        let next = tokio::time::timeout(FRAME_WAIT, ws.next())
            .await
            .map_err(|_| "no pong for the probe in time".to_owned())?;
        match next {
            Some(Ok(Message::Text(text))) => {
                let frame: Value =
                    serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}: {text}"))?;
                if frame["type"] == "pong" && frame["request_id"] == probe {
                    return Ok(before);
                }
                before.push(frame);
            }
            Some(Ok(Message::Close(close))) => return Err(format!("closed: {close:?}")),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("read: {e}")),
            None => return Err("the connection ended".into()),
        }
    }
}

fn check(sent: &Sent, expected: &Expected, frames: &[Value]) -> Result<String, TestCaseError> {
    let answers: Vec<&Value> = frames
        .iter()
        .filter(|f| !is_turn_output(f) || matches!(expected, Expected::TurnOrBusy { request_id } if f["type"] == "ai_turn_started" && f["request_id"] == request_id.as_str()))
        .collect();
    let request_id_of = |f: &Value| f["request_id"].as_str().map(str::to_owned);
    match expected {
        Expected::Error { code, request_id } => {
            prop_assert_eq!(answers.len(), 1, "{:?} got {:?}", sent, answers);
            let error = answers[0];
            prop_assert_eq!(&error["type"], "error", "{:?} got {}", sent, error);
            prop_assert_eq!(&error["data"]["code"], *code, "{:?} got {}", sent, error);
            prop_assert_eq!(
                &request_id_of(error),
                request_id,
                "{:?} got {}",
                sent,
                error
            );
            let message = error["data"]["message"].as_str().unwrap_or_default();
            prop_assert!(!message.trim().is_empty(), "{:?} got {}", sent, error);
            Ok(format!("error {code}"))
        }
        Expected::Reply { kind, request_id } => {
            prop_assert_eq!(answers.len(), 1, "{:?} got {:?}", sent, answers);
            prop_assert_eq!(&answers[0]["type"], *kind, "{:?} got {:?}", sent, answers);
            prop_assert_eq!(&request_id_of(answers[0]), request_id);
            Ok(format!("reply {kind}"))
        }
        Expected::TurnOrBusy { request_id } => {
            prop_assert_eq!(answers.len(), 1, "{:?} got {:?}", sent, answers);
            let answer = answers[0];
            let busy = answer["type"] == "error" && answer["data"]["code"] == "AI_BUSY";
            prop_assert!(
                busy || answer["type"] == "ai_turn_started",
                "{:?} got {}",
                sent,
                answer
            );
            prop_assert_eq!(request_id_of(answer), Some(request_id.clone()));
            Ok(if busy {
                "error AI_BUSY"
            } else {
                "turn started"
            }
            .to_owned())
        }
        Expected::Nothing => {
            prop_assert!(answers.is_empty(), "{:?} got {:?}", sent, answers);
            Ok("no answer (context)".to_owned())
        }
        Expected::AlreadyTaken => {
            prop_assert!(answers.is_empty(), "{:?} got {:?}", sent, answers);
            Ok("no answer (chat_request taken before)".to_owned())
        }
    }
}

#[test]
fn arbitrary_frames_each_get_their_error_or_answer_and_the_connection_survives() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let started = std::time::Instant::now();
    let server = runtime.block_on(start(&[]));
    let ws = Mutex::new(Some(runtime.block_on(connected(&server, "gb-u1-fuzz"))));
    let probes = AtomicU64::new(0);
    let seen: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());
    let taken = Mutex::new(TakenTurnIds::default());

    let mut runner = TestRunner::new(Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&sent_frames(), |sent| {
        let expected = taken.lock().expect("taken ids").expect(expected(&sent));
        let probe = format!("probe-{}", probes.fetch_add(1, Ordering::Relaxed));
        // The socket is taken out of its slot for the exchange (no lock across an await).
        let mut socket = ws
            .lock()
            .expect("socket slot")
            .take()
            .ok_or_else(|| TestCaseError::fail("no connection"))?;
        let frames = match runtime.block_on(exchange(&mut socket, &sent, &probe)) {
            Ok(frames) => frames,
            Err(why) => {
                // A fresh connection, so that shrinking can go on looking for the
                // smallest frame that kills one.
                let fresh = runtime.block_on(connected(&server, "gb-u1-fuzz"));
                *ws.lock().expect("socket slot") = Some(fresh);
                return Err(TestCaseError::fail(format!(
                    "{sent:?}: the connection did not survive: {why}"
                )));
            }
        };
        *ws.lock().expect("socket slot") = Some(socket);
        let outcome = check(&sent, &expected, &frames)?;
        *seen.lock().expect("tally").entry(outcome).or_default() += 1;
        Ok(())
    });
    let seen = seen.into_inner().expect("tally");
    println!(
        "{} frames in {:.2?} on one connection: {seen:?}",
        probes.load(Ordering::Relaxed),
        started.elapsed()
    );
    if let Err(failure) = result {
        panic!("{failure}");
    }
    // Still the same connection, and the server still well.
    let mut socket = ws.into_inner().expect("slot").expect("the connection");
    runtime.block_on(async {
        send(&mut socket, &json!({"type": "ping", "request_id": "last"})).await;
        loop {
            let frame = next_frame(&mut socket).await;
            if frame["type"] == "pong" {
                assert_eq!(frame["request_id"], "last");
                break;
            }
        }
        let metrics = metrics(&server).await;
        assert_eq!(
            metrics["websocket"]["connections"]["successful"], 1,
            "one connection served every frame: {metrics}"
        );
    });
    runtime.block_on(server.shutdown()).expect("clean shutdown");
}
