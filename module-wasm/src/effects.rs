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
use gold_box_protocol::{
    AiMessage, ClientFrame, JsonValue, RollOutcome, RollRequest, RollResultSubmission, ServerFrame,
};
use serde::Serialize;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CoreEvent {
    State {
        state: ConnectionState,
        #[serde(skip_serializing_if = "Option::is_none")]
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
        #[serde(skip_serializing_if = "Option::is_none")]
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
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        iterations: u32,
        duration_ms: u64,
    },
    Error {
        code: gold_box_protocol::ErrorCode,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
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
        #[serde(skip_serializing_if = "Option::is_none")]
        session_usage: Option<gold_box_protocol::TokenUsage>,
    },
    /// What a turn spent, from its `ai_turn_complete`.
    Usage {
        request_id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        usage: Option<gold_box_protocol::TokenUsage>,
        #[serde(skip_serializing_if = "Option::is_none")]
        session_usage: Option<gold_box_protocol::TokenUsage>,
    },
}
