//! Pins the JSON of every frame: each literal below also stands, byte for byte, in the
//! Examples section of docs/PROTOCOL.md, and each must decode to the Rust value beside
//! it and encode back to the same JSON.

use gold_box_protocol::json::{FromJson, ToJson};
use gold_box_protocol::*;
use serde_json::Value;

const PROTOCOL_DOC: &str = include_str!("../../docs/PROTOCOL.md");

fn decode_client(text: &str) -> Result<ClientFrame, FrameError> {
    let raw: RawFrame<Value> = serde_json::from_str(text).map_err(FrameError::malformed)?;
    ClientFrame::decode(raw)
}

fn decode_server(text: &str) -> Result<ServerFrame, FrameError> {
    let raw: RawFrame<Value> = serde_json::from_str(text).map_err(FrameError::malformed)?;
    ServerFrame::decode(raw)
}

/// Floats as serde_json writes them, so that the hand-written codec's text can be
/// compared with serde's byte for byte.
fn serde_float(f: f64, out: &mut String) {
    out.push_str(&serde_json::to_string(&f).expect("a float"));
}

/// A text parsed as the hand-written codec's input.
fn parsed(text: &str) -> JsonValue {
    serde_json::from_str(text).expect("example is JSON")
}

fn outcome_d20() -> RollOutcome {
    RollOutcome {
        formula: "1d20+5".into(),
        flavor: Some("Attack".into()),
        total: Some(17.0),
        dice: vec![DieTerm {
            faces: 20,
            results: vec![DieResult {
                result: 12,
                active: true,
            }],
        }],
        error: None,
    }
}

fn connect_example(resume: Option<ResumeFrom>) -> ClientFrame {
    ClientFrame::new(ClientMessage::Connect(Connect {
        client_id: "gb-u1-k3x9".into(),
        token: "s3cret".into(),
        protocol: 1,
        world: WorldInfo {
            id: "w1".into(),
            title: "Lost Mine".into(),
            system: "dnd5e".into(),
        },
        user: UserInfo {
            id: "u1".into(),
            name: "Gamemaster".into(),
            is_gm: true,
        },
        resume,
    }))
}

fn connected_example(resume: Option<Resumed>) -> ServerFrame {
    ServerFrame::new(ServerMessage::Connected(Connected {
        client_id: "gb-u1-k3x9".into(),
        server_version: "0.1.0".into(),
        protocol: 1,
        heartbeat_ms: 15_000,
        roll_timeout_ms: 30_000,
        instance: Some("5f0c2a9e".into()),
        resume,
        max_turn_ms: None,
        turn: None,
    }))
}

fn connected_with_turn() -> ServerFrame {
    ServerFrame::new(ServerMessage::Connected(Connected {
        client_id: "gb-u1-k3x9".into(),
        server_version: "0.1.0".into(),
        protocol: 1,
        heartbeat_ms: 15_000,
        roll_timeout_ms: 30_000,
        instance: Some("5f0c2a9e".into()),
        resume: Some(Resumed {
            replayed: 0,
            missed: 0,
        }),
        max_turn_ms: Some(120_000),
        turn: Some(TurnFate {
            request_id: "turn-6".into(),
            status: TurnFateStatus::Running,
            elapsed_ms: Some(4_200),
        }),
    }))
}

fn client_examples() -> Vec<(&'static str, ClientFrame)> {
    vec![
        (
            r#"{"type":"connect","data":{"client_id":"gb-u1-k3x9","token":"s3cret","protocol":1,"world":{"id":"w1","title":"Lost Mine","system":"dnd5e"},"user":{"id":"u1","name":"Gamemaster","is_gm":true}}}"#,
            connect_example(None),
        ),
        (
            r#"{"type":"connect","data":{"client_id":"gb-u1-k3x9","token":"s3cret","protocol":1,"world":{"id":"w1","title":"Lost Mine","system":"dnd5e"},"user":{"id":"u1","name":"Gamemaster","is_gm":true},"resume":{"instance":"5f0c2a9e","last_seq":41}}}"#,
            connect_example(Some(ResumeFrom {
                instance: Some("5f0c2a9e".into()),
                last_seq: 41,
            })),
        ),
        (
            r#"{"type":"ack","data":{"seq":42}}"#,
            ClientFrame::new(ClientMessage::Ack(Ack { seq: 42 })),
        ),
        (
            r#"{"type":"ping","request_id":"ping-1","data":{},"timestamp":1764216000000}"#,
            ClientFrame::new(ClientMessage::Ping(Empty {}))
                .with_request_id("ping-1")
                .with_timestamp(1_764_216_000_000),
        ),
        (
            r#"{"type":"settings_sync","request_id":"sync-3","data":{"revision":3,"settings":{"aiRole":"dm","contextMessages":15}}}"#,
            ClientFrame::new(ClientMessage::SettingsSync(SettingsSync {
                revision: 3,
                settings: JsonMap::from([
                    ("aiRole".to_owned(), JsonValue::String("dm".into())),
                    ("contextMessages".to_owned(), JsonValue::Integer(15)),
                ]),
            }))
            .with_request_id("sync-3"),
        ),
        (
            r#"{"type":"roll_result","request_id":"roll-7","data":{"results":[{"formula":"1d20+5","flavor":"Attack","total":17.0,"dice":[{"faces":20,"results":[{"result":12,"active":true}]}]}]}}"#,
            ClientFrame::new(ClientMessage::RollResult(RollResult {
                results: vec![outcome_d20()],
            }))
            .with_request_id("roll-7"),
        ),
        (
            r#"{"type":"roll_result","request_id":"roll-8","data":{"results":[{"formula":"2d","total":null,"dice":[],"error":"Unresolved term 2d"}]}}"#,
            ClientFrame::new(ClientMessage::RollResult(RollResult {
                results: vec![RollOutcome {
                    formula: "2d".into(),
                    flavor: None,
                    total: None,
                    dice: vec![],
                    error: Some("Unresolved term 2d".into()),
                }],
            }))
            .with_request_id("roll-8"),
        ),
        (
            r#"{"type":"combat_state","data":{"round":2,"turn":1,"combatants":[{"name":"Goblin","hp":7}]}}"#,
            ClientFrame::new(ClientMessage::CombatState(JsonValue::Object(
                JsonMap::from([
                    ("round".to_owned(), JsonValue::Integer(2)),
                    ("turn".to_owned(), JsonValue::Integer(1)),
                    (
                        "combatants".to_owned(),
                        JsonValue::Array(vec![JsonValue::Object(JsonMap::from([
                            ("name".to_owned(), JsonValue::String("Goblin".into())),
                            ("hp".to_owned(), JsonValue::Integer(7)),
                        ]))]),
                    ),
                ]),
            ))),
        ),
        (
            r#"{"type":"chat_request","request_id":"turn-1","data":{"messages":[{"speaker":"Aria","content":"I attack the goblin!","kind":"chat","timestamp":1764216000000}],"settings_revision":3}}"#,
            ClientFrame::new(ClientMessage::ChatRequest(ChatRequest {
                messages: vec![ChatEntry {
                    speaker: "Aria".into(),
                    content: "I attack the goblin!".into(),
                    kind: ChatKind::Chat,
                    timestamp: 1_764_216_000_000,
                }],
                settings_revision: 3,
            }))
            .with_request_id("turn-1"),
        ),
        (
            r#"{"type":"chat_message","data":{"speaker":"Aria","content":"Hello"}}"#,
            ClientFrame::new(ClientMessage::ChatMessage(JsonValue::Object(
                JsonMap::from([
                    ("speaker".to_owned(), JsonValue::String("Aria".into())),
                    ("content".to_owned(), JsonValue::String("Hello".into())),
                ]),
            ))),
        ),
        (
            r#"{"type":"dice_roll","data":{"formula":"1d6","total":4}}"#,
            ClientFrame::new(ClientMessage::DiceRoll(JsonValue::Object(JsonMap::from([
                ("formula".to_owned(), JsonValue::String("1d6".into())),
                ("total".to_owned(), JsonValue::Integer(4)),
            ])))),
        ),
        (
            r#"{"type":"combat_context","data":{"scene":"Cragmaw Hideout"}}"#,
            ClientFrame::new(ClientMessage::CombatContext(JsonValue::Object(
                JsonMap::from([(
                    "scene".to_owned(),
                    JsonValue::String("Cragmaw Hideout".into()),
                )]),
            ))),
        ),
        (
            r#"{"type":"cancel_turn","request_id":"turn-6","data":{}}"#,
            ClientFrame::new(ClientMessage::CancelTurn(Empty {})).with_request_id("turn-6"),
        ),
        (
            r#"{"type":"narration_regenerate","request_id":"turn-7","data":{"turn":"turn-6","note":"Shorter, and make the goblin beg."}}"#,
            ClientFrame::new(ClientMessage::NarrationRegenerate(NarrationRegenerate {
                turn: "turn-6".into(),
                note: Some("Shorter, and make the goblin beg.".into()),
            }))
            .with_request_id("turn-7"),
        ),
        (
            r#"{"type":"narration_discard","data":{"turn":"turn-6"}}"#,
            ClientFrame::new(ClientMessage::NarrationDiscard(NarrationDiscard {
                turn: "turn-6".into(),
            })),
        ),
    ]
}

fn server_examples() -> Vec<(&'static str, ServerFrame)> {
    vec![
        (
            r#"{"type":"connected","data":{"client_id":"gb-u1-k3x9","server_version":"0.1.0","protocol":1,"heartbeat_ms":15000,"roll_timeout_ms":30000,"instance":"5f0c2a9e"}}"#,
            connected_example(None),
        ),
        (
            r#"{"type":"connected","data":{"client_id":"gb-u1-k3x9","server_version":"0.1.0","protocol":1,"heartbeat_ms":15000,"roll_timeout_ms":30000,"instance":"5f0c2a9e","resume":{"replayed":2,"missed":0}}}"#,
            connected_example(Some(Resumed {
                replayed: 2,
                missed: 0,
            })),
        ),
        (
            r#"{"type":"pong","request_id":"ping-1","data":{}}"#,
            ServerFrame::new(ServerMessage::Pong(Empty {})).with_request_id("ping-1"),
        ),
        (
            r#"{"type":"error","request_id":"turn-2","data":{"code":"AI_BUSY","message":"the AI is taking another turn (turn-1)"}}"#,
            ServerFrame::new(ServerMessage::Error(ErrorData {
                code: ErrorCode::AiBusy,
                message: "the AI is taking another turn (turn-1)".into(),
            }))
            .with_request_id("turn-2"),
        ),
        (
            r#"{"type":"execute_roll","request_id":"roll-7","data":{"rolls":[{"formula":"1d20+5","flavor":"Attack"}],"timeout_ms":30000}}"#,
            ServerFrame::new(ServerMessage::ExecuteRoll(ExecuteRoll {
                rolls: vec![RollRequest {
                    formula: "1d20+5".into(),
                    flavor: Some("Attack".into()),
                }],
                timeout_ms: 30_000,
            }))
            .with_request_id("roll-7"),
        ),
        (
            r#"{"type":"roll_ack","request_id":"roll-7","data":{"status":"accepted"}}"#,
            ServerFrame::new(ServerMessage::RollAck(RollAck {
                status: RollAckStatus::Accepted,
                error: None,
            }))
            .with_request_id("roll-7"),
        ),
        (
            r#"{"type":"roll_ack","request_id":"roll-9","data":{"status":"invalid","error":"results[0].total: must be a number"}}"#,
            ServerFrame::new(ServerMessage::RollAck(RollAck {
                status: RollAckStatus::Invalid,
                error: Some("results[0].total: must be a number".into()),
            }))
            .with_request_id("roll-9"),
        ),
        (
            r#"{"type":"settings_ack","request_id":"sync-3","data":{"revision":3}}"#,
            ServerFrame::new(ServerMessage::SettingsAck(SettingsAck { revision: 3 }))
                .with_request_id("sync-3"),
        ),
        (
            r#"{"type":"ai_turn_started","request_id":"turn-1","data":{}}"#,
            ServerFrame::new(ServerMessage::AiTurnStarted(Empty {})).with_request_id("turn-1"),
        ),
        (
            r#"{"type":"chat_response","request_id":"turn-1","data":{"message":{"speaker":"Game Master","content":"Your blade finds its mark: 17 hits.","kind":"narration"}}}"#,
            ServerFrame::new(ServerMessage::ChatResponse(ChatResponse {
                message: AiMessage {
                    speaker: "Game Master".into(),
                    content: "Your blade finds its mark: 17 hits.".into(),
                    kind: AiMessageKind::Narration,
                },
                stream: None,
            }))
            .with_request_id("turn-1"),
        ),
        (
            r#"{"type":"ai_turn_complete","request_id":"turn-1","data":{"status":"completed","iterations":2,"duration_ms":812}}"#,
            ServerFrame::new(ServerMessage::AiTurnComplete(AiTurnComplete {
                status: TurnStatus::Completed,
                error: None,
                iterations: 2,
                duration_ms: 812,
                usage: None,
                session_usage: None,
            }))
            .with_request_id("turn-1"),
        ),
        (
            r#"{"type":"ai_turn_complete","request_id":"turn-3","data":{"status":"timeout","error":"no roll result for roll-12 within 30000 ms","iterations":1,"duration_ms":30004}}"#,
            ServerFrame::new(ServerMessage::AiTurnComplete(AiTurnComplete {
                status: TurnStatus::Timeout,
                error: Some("no roll result for roll-12 within 30000 ms".into()),
                iterations: 1,
                duration_ms: 30_004,
                usage: None,
                session_usage: None,
            }))
            .with_request_id("turn-3"),
        ),
        (
            r#"{"type":"chat_response","request_id":"turn-4","seq":42,"data":{"message":{"speaker":"Game Master","content":"The goblin falls.","kind":"narration"}},"timestamp":1764216000000}"#,
            ServerFrame::new(ServerMessage::ChatResponse(ChatResponse {
                message: AiMessage {
                    speaker: "Game Master".into(),
                    content: "The goblin falls.".into(),
                    kind: AiMessageKind::Narration,
                },
                stream: None,
            }))
            .with_request_id("turn-4")
            .with_seq(42)
            .with_timestamp(1_764_216_000_000),
        ),
        (
            r#"{"type":"narration_delta","request_id":"turn-6","data":{"stream":1,"offset":0,"text":"The torch gutters as "}}"#,
            ServerFrame::new(ServerMessage::NarrationDelta(NarrationDelta {
                stream: 1,
                offset: 0,
                text: "The torch gutters as ".into(),
            }))
            .with_request_id("turn-6"),
        ),
        (
            r#"{"type":"narration_delta","request_id":"turn-6","data":{"stream":1,"offset":21,"text":"the goblin lunges."}}"#,
            ServerFrame::new(ServerMessage::NarrationDelta(NarrationDelta {
                stream: 1,
                offset: 21,
                text: "the goblin lunges.".into(),
            }))
            .with_request_id("turn-6"),
        ),
        (
            r#"{"type":"chat_response","request_id":"turn-6","seq":44,"data":{"message":{"speaker":"Game Master","content":"The torch gutters as the goblin lunges.","kind":"narration"},"stream":1}}"#,
            ServerFrame::new(ServerMessage::ChatResponse(ChatResponse {
                message: AiMessage {
                    speaker: "Game Master".into(),
                    content: "The torch gutters as the goblin lunges.".into(),
                    kind: AiMessageKind::Narration,
                },
                stream: Some(1),
            }))
            .with_request_id("turn-6")
            .with_seq(44),
        ),
        (
            r#"{"type":"error","request_id":"turn-5","seq":43,"data":{"code":"AI_BUSY","message":"the AI is taking another turn (turn-4)"}}"#,
            ServerFrame::new(ServerMessage::Error(ErrorData {
                code: ErrorCode::AiBusy,
                message: "the AI is taking another turn (turn-4)".into(),
            }))
            .with_request_id("turn-5")
            .with_seq(43),
        ),
        (
            r#"{"type":"ai_turn_complete","request_id":"turn-6","data":{"status":"cancelled","error":"stopped by the GM","iterations":1,"duration_ms":140}}"#,
            ServerFrame::new(ServerMessage::AiTurnComplete(AiTurnComplete {
                status: TurnStatus::Cancelled,
                error: Some("stopped by the GM".into()),
                iterations: 1,
                duration_ms: 140,
                usage: None,
                session_usage: None,
            }))
            .with_request_id("turn-6"),
        ),
        (
            r#"{"type":"ai_turn_complete","request_id":"turn-7","data":{"status":"completed","iterations":2,"duration_ms":812,"usage":{"prompt_tokens":220,"completion_tokens":30,"estimated_cost":0.0025},"session_usage":{"prompt_tokens":5400,"completion_tokens":610}}}"#,
            ServerFrame::new(ServerMessage::AiTurnComplete(AiTurnComplete {
                status: TurnStatus::Completed,
                error: None,
                iterations: 2,
                duration_ms: 812,
                usage: Some(TokenUsage {
                    prompt_tokens: 220,
                    completion_tokens: 30,
                    estimated_cost: Some(0.0025),
                }),
                session_usage: Some(TokenUsage {
                    prompt_tokens: 5400,
                    completion_tokens: 610,
                    estimated_cost: None,
                }),
            }))
            .with_request_id("turn-7"),
        ),
        (
            r#"{"type":"connected","data":{"client_id":"gb-u1-k3x9","server_version":"0.1.0","protocol":1,"heartbeat_ms":15000,"roll_timeout_ms":30000,"instance":"5f0c2a9e","resume":{"replayed":0,"missed":0},"max_turn_ms":120000,"turn":{"request_id":"turn-6","status":"running","elapsed_ms":4200}}}"#,
            connected_with_turn(),
        ),
        (
            r#"{"type":"roll_cancelled","request_id":"roll-7","data":{"reason":"the AI turn turn-6 was stopped"}}"#,
            ServerFrame::new(ServerMessage::RollCancelled(RollCancelled {
                reason: "the AI turn turn-6 was stopped".into(),
            }))
            .with_request_id("roll-7"),
        ),
        (
            r#"{"type":"error","request_id":"turn-6","data":{"code":"FORBIDDEN","message":"turn-6 is another client's turn"}}"#,
            ServerFrame::new(ServerMessage::Error(ErrorData {
                code: ErrorCode::Forbidden,
                message: "turn-6 is another client's turn".into(),
            }))
            .with_request_id("turn-6"),
        ),
        (
            r#"{"type":"error","request_id":"turn-9","seq":44,"data":{"code":"BUDGET_EXCEEDED","message":"the AI budget of 100000 tokens (--ai-budget-tokens) is spent"}}"#,
            ServerFrame::new(ServerMessage::Error(ErrorData {
                code: ErrorCode::BudgetExceeded,
                message: "the AI budget of 100000 tokens (--ai-budget-tokens) is spent".into(),
            }))
            .with_request_id("turn-9")
            .with_seq(44),
        ),
    ]
}

fn assert_in_doc(literal: &str) {
    assert!(
        PROTOCOL_DOC.contains(literal),
        "this example is missing from docs/PROTOCOL.md:\n{literal}"
    );
}

#[test]
fn every_client_frame_matches_its_documented_json() {
    for (literal, frame) in client_examples() {
        assert_in_doc(literal);
        let expected: Value = serde_json::from_str(literal).expect("example is JSON");
        assert_eq!(
            serde_json::to_value(&frame).expect("encode"),
            expected,
            "encoding of {literal}"
        );
        assert_eq!(
            decode_client(literal).expect("decode"),
            frame,
            "decoding of {literal}"
        );
    }
}

#[test]
fn every_server_frame_matches_its_documented_json() {
    for (literal, frame) in server_examples() {
        assert_in_doc(literal);
        let expected: Value = serde_json::from_str(literal).expect("example is JSON");
        assert_eq!(
            serde_json::to_value(&frame).expect("encode"),
            expected,
            "encoding of {literal}"
        );
        assert_eq!(
            decode_server(literal).expect("decode"),
            frame,
            "decoding of {literal}"
        );
    }
}

/// The hand-written codec (`gold_box_protocol::json`, the one the wasm core runs) reads
/// every example as the serde derives do, and writes the very bytes serde_json writes.
#[test]
fn every_frame_reads_and_writes_the_same_with_the_hand_written_codec() {
    for (literal, frame) in client_examples() {
        assert_eq!(
            ClientFrame::from_json(&parsed(literal)).expect("decode"),
            frame,
            "hand decoding of {literal}"
        );
        assert_eq!(
            frame.to_json_text(serde_float),
            serde_json::to_string(&frame).expect("encode"),
            "hand encoding of {literal}"
        );
    }
    for (literal, frame) in server_examples() {
        assert_eq!(
            ServerFrame::from_json(&parsed(literal)).expect("decode"),
            frame,
            "hand decoding of {literal}"
        );
        assert_eq!(
            frame.to_json_text(serde_float),
            serde_json::to_string(&frame).expect("encode"),
            "hand encoding of {literal}"
        );
    }
    let submission = RollResultSubmission::from_json(&parsed(http_examples()[1].0));
    assert_eq!(submission.map(|s| s.results), Ok(vec![outcome_d20()]));
}

#[test]
fn every_message_type_has_an_example() {
    let client: Vec<&str> = client_examples()
        .iter()
        .map(|(_, f)| f.message.type_name())
        .collect();
    for type_name in ClientMessage::TYPES {
        assert!(
            client.contains(type_name),
            "no example of client frame `{type_name}`"
        );
    }
    let server: Vec<&str> = server_examples()
        .iter()
        .map(|(_, f)| f.message.type_name())
        .collect();
    for type_name in ServerMessage::TYPES {
        assert!(
            server.contains(type_name),
            "no example of server frame `{type_name}`"
        );
    }
}

#[test]
fn every_documented_example_is_pinned_by_a_test() {
    let section = PROTOCOL_DOC
        .split("## Examples")
        .nth(1)
        .expect("docs/PROTOCOL.md has an Examples section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let pinned: Vec<&str> = client_examples()
        .iter()
        .map(|(l, _)| *l)
        .chain(server_examples().iter().map(|(l, _)| *l))
        .chain(http_examples().iter().map(|(l, _)| *l))
        .collect();
    let mut documented = 0;
    for line in section.lines().filter(|l| l.starts_with('{')) {
        documented += 1;
        assert!(
            pinned.contains(&line),
            "docs/PROTOCOL.md shows an example no test pins:\n{line}"
        );
    }
    assert_eq!(
        documented,
        pinned.len(),
        "every pinned example is shown once"
    );
}

fn http_examples() -> Vec<(&'static str, Value)> {
    let health = HealthResponse {
        status: "ok".into(),
        service: "gold-box".into(),
        version: "0.1.0".into(),
        protocol: 1,
        ai_busy: false,
    };
    let submission = RollResultSubmission {
        request_id: "roll-7".into(),
        client_id: "gb-u1-k3x9".into(),
        results: vec![outcome_d20()],
    };
    let error = HttpErrorBody::new(ErrorCode::Unauthorized, "missing or wrong bearer token");
    let status = RollResultStatusBody {
        status: RollAckStatus::Expired,
    };
    vec![
        (
            r#"{"status":"ok","service":"gold-box","version":"0.1.0","protocol":1,"ai_busy":false}"#,
            serde_json::to_value(health).expect("encode"),
        ),
        (
            r#"{"request_id":"roll-7","client_id":"gb-u1-k3x9","results":[{"formula":"1d20+5","flavor":"Attack","total":17.0,"dice":[{"faces":20,"results":[{"result":12,"active":true}]}]}]}"#,
            serde_json::to_value(submission).expect("encode"),
        ),
        (
            r#"{"status":"expired"}"#,
            serde_json::to_value(status).expect("encode"),
        ),
        (
            r#"{"error":{"code":"UNAUTHORIZED","message":"missing or wrong bearer token"}}"#,
            serde_json::to_value(error).expect("encode"),
        ),
    ]
}

#[test]
fn every_http_body_matches_its_documented_json() {
    for (literal, encoded) in http_examples() {
        assert_in_doc(literal);
        let expected: Value = serde_json::from_str(literal).expect("example is JSON");
        assert_eq!(encoded, expected, "encoding of {literal}");
    }
    let submission: RollResultSubmission =
        serde_json::from_str(http_examples()[1].0).expect("the documented submission decodes");
    assert_eq!(submission.results, vec![outcome_d20()]);
}

#[test]
fn the_documented_metrics_json_is_the_metrics_type() {
    let section = PROTOCOL_DOC
        .split("`GET /api/metrics` (the seed's shape, filled in):")
        .nth(1)
        .expect("docs/PROTOCOL.md shows the metrics JSON");
    let block = section
        .split("```json")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a json block");
    let documented: Value = serde_json::from_str(block).expect("the documented metrics are JSON");
    let typed: MetricsSnapshot =
        serde_json::from_value(documented.clone()).expect("decodes as MetricsSnapshot");
    assert_eq!(serde_json::to_value(&typed).expect("encode"), documented);
}

#[test]
fn the_token_never_appears_in_a_connect_debug_rendering() {
    let printed = format!("{:?}", connect_example(None));
    assert!(!printed.contains("s3cret"), "{printed}");
    assert!(printed.contains("gb-u1-k3x9"), "{printed}");
}
