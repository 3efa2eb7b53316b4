//! The payloads (`data`) of every frame, and the values they are built from.
//!
//! Field names and enum spellings here are the wire's; `docs/PROTOCOL.md` is their prose.
//! Unknown fields are ignored on input so that a newer peer can add fields without
//! breaking an older one.

use crate::JsonMap;
use serde::{Deserialize, Serialize};

/// The payload of frames that carry no data (`ping`, `pong`, `ai_turn_started`).
/// It is written as `{}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// The Foundry world the client runs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorldInfo {
    pub id: String,
    pub title: String,
    pub system: String,
}

/// The Foundry user who runs the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub id: String,
    pub name: String,
    pub is_gm: bool,
}

/// `connect`: the client's first frame. Its `Debug` rendering hides the token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connect {
    /// `gb-<userId>-<random>`, kept in browser storage so it survives a reload.
    pub client_id: String,
    /// The shared secret the GM entered. A missing token reads as empty, so that it is
    /// answered with AUTH_FAILED like a wrong one.
    #[serde(default)]
    pub token: String,
    /// The protocol version the client speaks.
    pub protocol: u32,
    pub world: WorldInfo,
    pub user: UserInfo,
    /// Present when the client takes part in resumable delivery: where its record of
    /// the session stream ends. Absent: today's behaviour (see docs/PROTOCOL.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<ResumeFrom>,
}

impl std::fmt::Debug for Connect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connect")
            .field("client_id", &self.client_id)
            .field("token", &"***")
            .field("protocol", &self.protocol)
            .field("world", &self.world)
            .field("user", &self.user)
            .field("resume", &self.resume)
            .finish()
    }
}

/// `connect.resume`: the last session frame the client processed, and from which server
/// start it came.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeFrom {
    /// The `connected.instance` of the server the client last heard from; `None` on a
    /// first connect. A `last_seq` from another instance means nothing to this one.
    #[serde(default)]
    pub instance: Option<String>,
    /// The highest `seq` the client has processed from that instance (0: none).
    pub last_seq: u64,
}

/// `connected.resume`: what the server does with a resuming client's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resumed {
    /// Session frames the client had not processed, replayed right after `connected`.
    pub replayed: u64,
    /// Session frames the client had not processed that the server no longer keeps
    /// (over the bound or past their time); the client cannot get them back.
    pub missed: u64,
}

/// `ack`: the client has processed every session frame up to and including `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub seq: u64,
}

/// `connected`: the server's answer to a good `connect`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connected {
    pub client_id: String,
    pub server_version: String,
    pub protocol: u32,
    /// How often the client should `ping`.
    pub heartbeat_ms: u64,
    /// How long the server waits for a `roll_result`.
    pub roll_timeout_ms: u64,
    /// Different after every server start: a client that sees it change knows the
    /// server restarted, and that a turn it was following will not finish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The answer to `connect.resume`; absent when the client did not ask to resume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<Resumed>,
    /// The longest the server runs one AI turn (`--ai-max-turn-ms`): a client that has
    /// heard nothing of a turn for longer knows it is over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_turn_ms: Option<u64>,
    /// This client's latest AI turn as the server knows it; absent when it knows none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn: Option<TurnFate>,
}

/// `connected.turn`: what became of a client's latest turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnFate {
    /// The `chat_request`'s id.
    pub request_id: String,
    pub status: TurnFateStatus,
    /// For a running turn: how long it has run, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed_ms: Option<u64>,
}

/// A turn's state in `connected.turn`: running, or how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnFateStatus {
    Running,
    Completed,
    Failed,
    Timeout,
    Cancelled,
}

impl From<TurnStatus> for TurnFateStatus {
    fn from(status: TurnStatus) -> Self {
        match status {
            TurnStatus::Completed => TurnFateStatus::Completed,
            TurnStatus::Failed => TurnFateStatus::Failed,
            TurnStatus::Timeout => TurnFateStatus::Timeout,
            TurnStatus::Cancelled => TurnFateStatus::Cancelled,
        }
    }
}

/// `settings_sync`: the Gold Box settings as they are now, with a revision that grows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingsSync {
    pub revision: u64,
    pub settings: JsonMap,
}

/// `settings_ack`: the revision the server now holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsAck {
    pub revision: u64,
}

/// One die term of a roll: its number of faces and each die's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DieTerm {
    pub faces: u32,
    pub results: Vec<DieResult>,
}

/// One die's result; `active` is false for a die dropped by `kh`, `dl` and the like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DieResult {
    pub result: i64,
    pub active: bool,
}

/// The outcome of one requested roll, as Foundry's dice produced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollOutcome {
    pub formula: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flavor: Option<String>,
    /// `null` when the roll could not be made; `error` then says why.
    pub total: Option<f64>,
    #[serde(default)]
    pub dice: Vec<DieTerm>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `roll_result`: the outcomes of an `execute_roll`, one per requested roll, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollResult {
    pub results: Vec<RollOutcome>,
}

/// What kind of chat message a [`ChatEntry`] was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatKind {
    Chat,
    Roll,
    Ai,
    Other,
}

/// One chat message sent as context, as plain text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatEntry {
    pub speaker: String,
    pub content: String,
    pub kind: ChatKind,
    /// Milliseconds since the Unix epoch.
    pub timestamp: u64,
}

/// `chat_request`: take an AI turn with this recent chat as context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatRequest {
    pub messages: Vec<ChatEntry>,
    /// The settings revision the client last synced; the turn uses at least this one.
    pub settings_revision: u64,
}

/// `error`: a frame the receiver could not act on, or a request it refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorData {
    pub code: crate::ErrorCode,
    pub message: String,
}

/// One roll the server asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollRequest {
    pub formula: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flavor: Option<String>,
}

/// `execute_roll`: roll these with Foundry's dice and answer with `roll_result`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecuteRoll {
    pub rolls: Vec<RollRequest>,
    /// Milliseconds left until the server gives up on this request (relative: the
    /// two clocks differ).
    pub timeout_ms: u64,
}

/// How the server took a roll result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RollAckStatus {
    /// The first valid result: applied.
    Accepted,
    /// Seen before: acknowledged, not applied again.
    Duplicate,
    /// Its deadline had passed.
    Expired,
    /// No such request was ever issued.
    Unknown,
    /// The request belongs to another client.
    Forbidden,
    /// The result does not fit its request; `error` names the field.
    Invalid,
}

impl RollAckStatus {
    /// Every status, in the order the protocol lists them.
    pub const ALL: [RollAckStatus; 6] = [
        RollAckStatus::Accepted,
        RollAckStatus::Duplicate,
        RollAckStatus::Expired,
        RollAckStatus::Unknown,
        RollAckStatus::Forbidden,
        RollAckStatus::Invalid,
    ];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RollAckStatus::Accepted => "accepted",
            RollAckStatus::Duplicate => "duplicate",
            RollAckStatus::Expired => "expired",
            RollAckStatus::Unknown => "unknown",
            RollAckStatus::Forbidden => "forbidden",
            RollAckStatus::Invalid => "invalid",
        }
    }
}

/// `roll_ack`: the server's answer to a `roll_result`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollAck {
    pub status: RollAckStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What an AI chat message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AiMessageKind {
    Narration,
    RollSummary,
    Error,
}

/// A message the AI wants posted to chat. Its content is untrusted text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AiMessage {
    pub speaker: String,
    pub content: String,
    pub kind: AiMessageKind,
}

/// `chat_response`: one message of the AI's turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatResponse {
    pub message: AiMessage,
    /// The narration stream this message completes, when its text was previewed by
    /// `narration_delta` frames with the same `stream`: the client replaces the preview
    /// with this whole text. Absent for a message that was not streamed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<u32>,
}

/// `narration_regenerate`: the GM, reviewing a turn's narration, asks for it again, with
/// an optional note to the AI. Answered like a `chat_request` (its own `request_id`): the
/// new narration is written from the turn's kept tool results, and no die is rolled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NarrationRegenerate {
    /// The `request_id` of the `chat_request` whose narration is written again.
    pub turn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `narration_discard`: the GM discarded a turn's narration; the server forgets the
/// turn's kept conversation (no reply).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NarrationDiscard {
    pub turn: String,
}

/// `narration_delta`: a preview of narration the AI is still writing (best-effort: not a
/// session frame, never kept or replayed; the `chat_response` with the same `stream` is
/// the truth).
///
/// `stream` numbers the narrations of one turn (1, 2, ...). `text` follows the first
/// `offset` characters (Unicode scalar values) of the stream's text; `offset: 0` starts
/// the text again (a provider's retry after a broken answer). A client appends `text`
/// when `offset` equals the length it holds, starts again at 0, and ignores any other
/// (a frame lost in a cut leaves a gap the `chat_response` fills).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NarrationDelta {
    pub stream: u32,
    pub offset: u64,
    pub text: String,
}

/// How an AI turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnStatus {
    Completed,
    Failed,
    Timeout,
    /// The client stopped the turn (`cancel_turn`).
    Cancelled,
}

/// `ai_turn_complete`: the end of an AI turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AiTurnComplete {
    pub status: TurnStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub iterations: u32,
    pub duration_ms: u64,
    /// The tokens this turn used (and their estimated cost, when the server has
    /// prices); absent from servers that do not count them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<TokenUsage>,
    /// The same, summed over every turn since the server started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_usage: Option<TokenUsage>,
}

/// Tokens the provider counted, and what they cost by the server's configured prices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenUsage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// In the unit of the configured prices (per million tokens); absent when no price
    /// is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_cost: Option<f64>,
}

/// `roll_cancelled`: a roll request withdrawn before its result came.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollCancelled {
    /// Why, for logs and the GM ("the AI turn turn-1 was stopped").
    pub reason: String,
}
