//! The vocabulary between the plain-Rust core and the browser: what can happen to the
//! core ([`Input`]) and what the core asks the browser to do ([`Command`]).
//!
//! The core never touches a socket, a timer or the DOM itself; it returns commands and
//! the bindings carry them out. That keeps every decision testable on the host with a
//! fake clock.

use crate::machine::ResumePoint;
use crate::outbox::StoredRoll;
use crate::privacy::Audience;
use crate::settled::SettledRoll;
use gold_box_protocol::json::{JsonWriter, ToJson};
use gold_box_protocol::{
    AiMessage, ClientFrame, JsonValue, RollOutcome, RollRequest, RollResultSubmission, ServerFrame,
};

/// Named timers; setting one that is already set replaces it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TimerKind {
    /// The next reconnect attempt.
    Reconnect,
    /// The next heartbeat `ping`.
    Heartbeat,
    /// The moment a `pong` is overdue and the socket is taken for dead.
    PongDeadline,
    /// The end of the quiet time after a settings change.
    SettingsDebounce,
    /// The next step of delivering one roll result (ack wait or retry pause).
    RollDelivery(String),
    /// The moment the server stops taking one roll result.
    RollDeadline(String),
    /// The bound on waiting for the server's answer to one turn's `chat_request`.
    TurnAnswer(String),
    /// The moment a running turn can no longer be running on the server.
    TurnBound(String),
}

/// Something that happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The socket opened.
    SocketOpened,
    /// A frame arrived and was decoded (at the bindings' edge).
    Frame(ServerFrame),
    /// A frame arrived that could not be decoded: why.
    UnreadableFrame(String),
    /// The socket closed (or failed to open).
    SocketClosed { code: u16, reason: String },
    /// A timer fired.
    Timer(TimerKind),
    /// A Gold Box setting changed in Foundry.
    SettingChanged { key: String, value: JsonValue },
    /// Foundry's dice produced the outcomes of an `execute_roll`.
    Rolled {
        request_id: String,
        results: Vec<RollOutcome>,
    },
    /// `POST /api/roll-result` ended: the HTTP status, or `None` when no answer came.
    Posted {
        request_id: String,
        status: Option<u16>,
    },
}

/// Something the browser should do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Open a WebSocket to `url`, dropping any previous one.
    OpenSocket {
        url: String,
    },
    /// Encode this frame and send it on the open socket.
    Send(ClientFrame),
    /// Close the socket and forget it: no further events come from it.
    CloseSocket {
        code: u16,
        reason: String,
    },
    SetTimer {
        kind: TimerKind,
        delay_ms: u64,
    },
    CancelTimer(TimerKind),
    /// Tell the JS module.
    Emit(CoreEvent),
    /// Roll these with Foundry's dice, one after the other, and report `Rolled`.
    Roll {
        request_id: String,
        rolls: Vec<RollRequest>,
        /// Who sees the dice in chat: the visibility of the turn that asked for them.
        audience: Audience,
    },
    /// Write an outbox entry to browser storage (before anything of it is sent).
    StoreOutbox(StoredRoll),
    /// Remove an outbox entry from browser storage.
    DeleteOutbox(String),
    /// Write a settled marker to browser storage (before its outbox entry is removed).
    StoreSettled(SettledRoll),
    /// Remove a settled marker from browser storage.
    DeleteSettled(String),
    /// Write where the session stream was left to browser storage.
    StoreResume(ResumePoint),
    /// `POST` this body as JSON to `url` with the bearer token, and report `Posted`.
    PostRollResult {
        request_id: String,
        url: String,
        token: String,
        body: RollResultSubmission,
    },
    /// Write this line to the browser console's debug level (it is never sent anywhere).
    Debug(String),
    /// Settle the promise `takeAiTurn` returned for this request.
    SettleTurn {
        request_id: String,
        outcome: Result<(), String>,
    },
}

/// The connection states the JS module shows on the button.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// Not started, or stopped.
    Idle,
    /// Opening the socket or waiting for `connected`.
    Connecting,
    Connected,
    /// The socket dropped; a reconnect is scheduled.
    Reconnecting,
    /// The server refused the token; no retry until the settings change.
    AuthFailed,
    /// The server speaks another protocol version; no retry.
    Incompatible,
    /// Another tab took over this client's connection; no retry.
    Replaced,
}

impl ConnectionState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Idle => "idle",
            ConnectionState::Connecting => "connecting",
            ConnectionState::Connected => "connected",
            ConnectionState::Reconnecting => "reconnecting",
            ConnectionState::AuthFailed => "auth_failed",
            ConnectionState::Incompatible => "incompatible",
            ConnectionState::Replaced => "replaced",
        }
    }
}

/// An event for the JS module (`host.emit(event)`), as a plain object tagged by `type`.
#[derive(Debug, Clone, PartialEq)]
pub enum CoreEvent {
    State {
        state: ConnectionState,
        detail: Option<String>,
    },
    TurnStarted {
        request_id: String,
    },
    ChatResponse {
        request_id: String,
        message: AiMessage,
        /// The narration preview this message ends (see `machine::drafts`): the JS module
        /// writes `message` into that preview's chat message instead of a new one.
        stream: Option<u32>,
        /// Who sees it (`"public"` or `"gm"`): the turn's, fixed when it was asked for.
        audience: &'static str,
        /// The AI read messages not every player can see: never to be published to all.
        private_context: bool,
    },
    /// The narration of a turn as streamed so far (the whole text, not the last piece).
    NarrationDraft {
        request_id: String,
        stream: u32,
        text: String,
        /// As in `ChatResponse`.
        audience: &'static str,
        private_context: bool,
    },
    /// A preview no `chat_response` ended (its text was beside a tool call): remove it.
    NarrationDropped {
        request_id: String,
        stream: u32,
    },
    TurnComplete {
        request_id: String,
        status: gold_box_protocol::TurnStatus,
        error: Option<String>,
        iterations: u32,
        duration_ms: u64,
    },
    Error {
        code: gold_box_protocol::ErrorCode,
        message: String,
        request_id: Option<String>,
    },
    SettingsPending {
        pending: bool,
    },
    /// Whether an AI turn is under way (asked for and not yet answered, or running);
    /// the JS module renders the button from it. Emitted on every change.
    Turn {
        busy: bool,
        /// A stop was asked and the turn's end has not come yet.
        stopping: bool,
        /// The last turn failed or timed out: the button offers Retry.
        retry: bool,
        /// Tokens (and estimated cost) spent since the server started, as last reported.
        session_usage: Option<gold_box_protocol::TokenUsage>,
    },
    /// What a turn spent, from its `ai_turn_complete`.
    Usage {
        request_id: String,
        usage: Option<gold_box_protocol::TokenUsage>,
        session_usage: Option<gold_box_protocol::TokenUsage>,
    },
}

impl ToJson for ConnectionState {
    fn write_json(&self, out: &mut JsonWriter) {
        out.string(self.as_str());
    }
}

impl ToJson for CoreEvent {
    /// `{"type": "<variant in snake_case>", ...fields}`, the fields in declaration order
    /// and `None` left out: the shape serde's `#[serde(tag = "type")]` gave it, which the
    /// JS module reads.
    fn write_json(&self, out: &mut JsonWriter) {
        let mut event = out.object();
        match self {
            CoreEvent::State { state, detail } => {
                event.field("type", &"state").field("state", state);
                event.some("detail", detail);
            }
            CoreEvent::TurnStarted { request_id } => {
                event
                    .field("type", &"turn_started")
                    .field("request_id", request_id);
            }
            CoreEvent::ChatResponse {
                request_id,
                message,
                stream,
                audience,
                private_context,
            } => {
                event
                    .field("type", &"chat_response")
                    .field("request_id", request_id)
                    .field("message", message)
                    .some("stream", stream)
                    .field("audience", audience)
                    .field("private_context", private_context);
            }
            CoreEvent::NarrationDraft {
                request_id,
                stream,
                text,
                audience,
                private_context,
            } => {
                event
                    .field("type", &"narration_draft")
                    .field("request_id", request_id)
                    .field("stream", stream)
                    .field("text", text)
                    .field("audience", audience)
                    .field("private_context", private_context);
            }
            CoreEvent::NarrationDropped { request_id, stream } => {
                event
                    .field("type", &"narration_dropped")
                    .field("request_id", request_id)
                    .field("stream", stream);
            }
            CoreEvent::TurnComplete {
                request_id,
                status,
                error,
                iterations,
                duration_ms,
            } => {
                event
                    .field("type", &"turn_complete")
                    .field("request_id", request_id)
                    .field("status", status)
                    .some("error", error)
                    .field("iterations", iterations)
                    .field("duration_ms", duration_ms);
            }
            CoreEvent::Error {
                code,
                message,
                request_id,
            } => {
                event
                    .field("type", &"error")
                    .field("code", code)
                    .field("message", message)
                    .some("request_id", request_id);
            }
            CoreEvent::SettingsPending { pending } => {
                event
                    .field("type", &"settings_pending")
                    .field("pending", pending);
            }
            CoreEvent::Turn {
                busy,
                stopping,
                retry,
                session_usage,
            } => {
                event
                    .field("type", &"turn")
                    .field("busy", busy)
                    .field("stopping", stopping)
                    .field("retry", retry)
                    .some("session_usage", session_usage);
            }
            CoreEvent::Usage {
                request_id,
                usage,
                session_usage,
            } => {
                event
                    .field("type", &"usage")
                    .field("request_id", request_id)
                    .some("usage", usage)
                    .some("session_usage", session_usage);
            }
        }
        event.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gold_box_protocol::{AiMessageKind, ErrorCode, TokenUsage, TurnStatus};

    fn text(event: CoreEvent) -> String {
        crate::wire::encode(&event)
    }

    /// Each event's JSON, as the JS module reads it (the shape serde's internally tagged
    /// derive gave it before the hand-written writer).
    #[test]
    fn events_are_written_as_the_js_module_reads_them() {
        let usage = TokenUsage {
            prompt_tokens: 10,
            completion_tokens: 5,
            estimated_cost: Some(0.25),
        };
        let cases = [
            (
                CoreEvent::State {
                    state: ConnectionState::AuthFailed,
                    detail: Some("bad token".into()),
                },
                r#"{"type":"state","state":"auth_failed","detail":"bad token"}"#,
            ),
            (
                CoreEvent::State {
                    state: ConnectionState::Idle,
                    detail: None,
                },
                r#"{"type":"state","state":"idle"}"#,
            ),
            (
                CoreEvent::TurnStarted {
                    request_id: "t1".into(),
                },
                r#"{"type":"turn_started","request_id":"t1"}"#,
            ),
            (
                CoreEvent::ChatResponse {
                    request_id: "t1".into(),
                    message: AiMessage {
                        speaker: "GM".into(),
                        content: "Hi".into(),
                        kind: AiMessageKind::RollSummary,
                    },
                    stream: Some(2),
                    audience: "gm",
                    private_context: true,
                },
                r#"{"type":"chat_response","request_id":"t1","message":{"speaker":"GM","content":"Hi","kind":"roll_summary"},"stream":2,"audience":"gm","private_context":true}"#,
            ),
            (
                CoreEvent::NarrationDraft {
                    request_id: "t1".into(),
                    stream: 1,
                    text: "The".into(),
                    audience: "public",
                    private_context: false,
                },
                r#"{"type":"narration_draft","request_id":"t1","stream":1,"text":"The","audience":"public","private_context":false}"#,
            ),
            (
                CoreEvent::NarrationDropped {
                    request_id: "t1".into(),
                    stream: 1,
                },
                r#"{"type":"narration_dropped","request_id":"t1","stream":1}"#,
            ),
            (
                CoreEvent::TurnComplete {
                    request_id: "t1".into(),
                    status: TurnStatus::Failed,
                    error: Some("no".into()),
                    iterations: 3,
                    duration_ms: 1200,
                },
                r#"{"type":"turn_complete","request_id":"t1","status":"failed","error":"no","iterations":3,"duration_ms":1200}"#,
            ),
            (
                CoreEvent::Error {
                    code: ErrorCode::AiBusy,
                    message: "busy".into(),
                    request_id: None,
                },
                r#"{"type":"error","code":"AI_BUSY","message":"busy"}"#,
            ),
            (
                CoreEvent::SettingsPending { pending: true },
                r#"{"type":"settings_pending","pending":true}"#,
            ),
            (
                CoreEvent::Turn {
                    busy: true,
                    stopping: false,
                    retry: false,
                    session_usage: Some(usage),
                },
                r#"{"type":"turn","busy":true,"stopping":false,"retry":false,"session_usage":{"prompt_tokens":10,"completion_tokens":5,"estimated_cost":0.25}}"#,
            ),
            (
                CoreEvent::Usage {
                    request_id: "t1".into(),
                    usage: None,
                    session_usage: Some(usage),
                },
                r#"{"type":"usage","request_id":"t1","session_usage":{"prompt_tokens":10,"completion_tokens":5,"estimated_cost":0.25}}"#,
            ),
        ];
        for (event, expected) in cases {
            assert_eq!(text(event), expected);
        }
    }
}
