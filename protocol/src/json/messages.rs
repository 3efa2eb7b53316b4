//! The hand-written codec of every payload in `messages.rs` (and the HTTP body the core
//! posts), field for field as their serde derives read and write them.
//!
//! Each struct is declared once with [`json_struct!`], which spells each field's serde
//! attributes as one word; `tests/hand_codec.rs` checks the result against the derives
//! on every pinned example.

use super::read::spelled;
use super::{FromJson, JsonError, JsonWriter, ToJson};
use crate::messages::*;
use crate::{ErrorCode, JsonValue, RollResultSubmission};

/// Declares the [`FromJson`] and [`ToJson`] of a struct whose fields are written in
/// declaration order under their Rust names. Each field says how serde treats it:
/// - `req`: must be present; always written;
/// - `opt`: an `Option`, missing or `null` is `None`; written only when `Some`
///   (`#[serde(default, skip_serializing_if = "Option::is_none")]`);
/// - `null`: an `Option`, missing or `null` is `None`; `None` written as `null`;
/// - `default`: missing is `Default::default()` (`#[serde(default)]`); always written.
#[macro_export]
macro_rules! json_struct {
    ($ty:ident { $($field:ident: $how:ident),* $(,)? }) => {
        impl $crate::json::FromJson for $ty {
            fn from_json(
                value: &$crate::JsonValue,
            ) -> Result<Self, $crate::json::JsonError> {
                let _fields = $crate::json::Fields::of(value)?;
                Ok($ty { $($field: $crate::json_struct!(@read _fields, $field, $how),)* })
            }
        }

        impl $crate::json::ToJson for $ty {
            fn write_json(&self, out: &mut $crate::json::JsonWriter) {
                let mut _object = out.object();
                $($crate::json_struct!(@write _object, self, $field, $how);)*
                _object.end();
            }
        }
    };
    (@read $f:ident, $field:ident, req) => { $f.req(stringify!($field))? };
    (@read $f:ident, $field:ident, opt) => { $f.opt(stringify!($field))? };
    (@read $f:ident, $field:ident, null) => { $f.opt(stringify!($field))? };
    (@read $f:ident, $field:ident, default) => { $f.or_default(stringify!($field))? };
    (@write $o:ident, $s:ident, $field:ident, opt) => {
        $o.some(stringify!($field), &$s.$field);
    };
    (@write $o:ident, $s:ident, $field:ident, $how:ident) => {
        $o.field(stringify!($field), &$s.$field);
    };
}

/// Declares the codec of a string enum from its wire spellings (serde's
/// `rename_all = "snake_case"`).
macro_rules! json_enum {
    ($ty:ident { $($variant:ident = $tag:literal),* $(,)? }) => {
        impl FromJson for $ty {
            fn from_json(value: &JsonValue) -> Result<Self, JsonError> {
                const ALL: &[$ty] = &[$($ty::$variant),*];
                spelled(value, &[$($tag),*]).map(|index| ALL[index])
            }
        }

        impl ToJson for $ty {
            fn write_json(&self, out: &mut JsonWriter) {
                out.string(match self { $($ty::$variant => $tag,)* });
            }
        }
    };
}

json_struct!(Empty {});
json_struct!(WorldInfo {
    id: req,
    title: req,
    system: req
});
json_struct!(UserInfo {
    id: req,
    name: req,
    is_gm: req
});
json_struct!(Connect {
    client_id: req,
    token: default,
    protocol: req,
    world: req,
    user: req,
    resume: opt,
});
json_struct!(ResumeFrom {
    instance: null,
    last_seq: req
});
json_struct!(Resumed {
    replayed: req,
    missed: req
});
json_struct!(Ack { seq: req });
json_struct!(Connected {
    client_id: req,
    server_version: req,
    protocol: req,
    heartbeat_ms: req,
    roll_timeout_ms: req,
    instance: opt,
    resume: opt,
    max_turn_ms: opt,
    turn: opt,
});
json_struct!(TurnFate {
    request_id: req,
    status: req,
    elapsed_ms: opt
});
json_enum!(TurnFateStatus {
    Running = "running",
    Completed = "completed",
    Failed = "failed",
    Timeout = "timeout",
    Cancelled = "cancelled",
});
json_struct!(SettingsSync {
    revision: req,
    settings: req
});
json_struct!(SettingsAck { revision: req });
json_struct!(DieTerm {
    faces: req,
    results: req
});
json_struct!(DieResult {
    result: req,
    active: req
});
json_struct!(RollOutcome {
    formula: req,
    flavor: opt,
    total: null,
    dice: default,
    error: opt,
});
json_struct!(RollResult { results: req });
json_enum!(ChatKind {
    Chat = "chat",
    Roll = "roll",
    Ai = "ai",
    Other = "other",
});
json_struct!(ChatEntry {
    speaker: req,
    content: req,
    kind: req,
    timestamp: req
});
json_struct!(ChatRequest {
    messages: req,
    settings_revision: req
});
json_struct!(ErrorData {
    code: req,
    message: req
});
json_struct!(RollRequest {
    formula: req,
    flavor: opt
});
json_struct!(ExecuteRoll {
    rolls: req,
    timeout_ms: req
});
json_struct!(RollAck {
    status: req,
    error: opt
});
json_enum!(AiMessageKind {
    Narration = "narration",
    RollSummary = "roll_summary",
    Error = "error",
});
json_struct!(AiMessage {
    speaker: req,
    content: req,
    kind: req
});
json_struct!(ChatResponse {
    message: req,
    stream: opt
});
json_struct!(NarrationRegenerate {
    turn: req,
    note: opt
});
json_struct!(NarrationDiscard { turn: req });
json_struct!(NarrationDelta {
    stream: req,
    offset: req,
    text: req
});
json_enum!(TurnStatus {
    Completed = "completed",
    Failed = "failed",
    Timeout = "timeout",
    Cancelled = "cancelled",
});
json_struct!(AiTurnComplete {
    status: req,
    error: opt,
    iterations: req,
    duration_ms: req,
    usage: opt,
    session_usage: opt,
});
json_struct!(TokenUsage {
    prompt_tokens: req,
    completion_tokens: req,
    estimated_cost: opt
});
json_struct!(RollCancelled { reason: req });
json_struct!(RollResultSubmission {
    request_id: req,
    client_id: req,
    results: req
});

json_enum!(RollAckStatus {
    Accepted = "accepted",
    Duplicate = "duplicate",
    Expired = "expired",
    Unknown = "unknown",
    Forbidden = "forbidden",
    Invalid = "invalid",
});

/// Every code but `Unrecognized`, which stands for any other string.
const KNOWN_CODES: [ErrorCode; 16] = [
    ErrorCode::AuthFailed,
    ErrorCode::ProtocolUnsupported,
    ErrorCode::InvalidMessage,
    ErrorCode::UnknownType,
    ErrorCode::PayloadTooLarge,
    ErrorCode::AiBusy,
    ErrorCode::RateLimited,
    ErrorCode::ProviderError,
    ErrorCode::Timeout,
    ErrorCode::Internal,
    ErrorCode::Unauthorized,
    ErrorCode::Forbidden,
    ErrorCode::NotFound,
    ErrorCode::MethodNotAllowed,
    ErrorCode::UnsupportedMediaType,
    ErrorCode::BudgetExceeded,
];

impl FromJson for ErrorCode {
    /// A code this version does not know is `Unrecognized` (serde's `#[serde(other)]`).
    fn from_json(value: &JsonValue) -> Result<Self, JsonError> {
        let JsonValue::String(s) = value else {
            return Err(JsonError::expected("a string", value));
        };
        Ok(KNOWN_CODES
            .into_iter()
            .find(|code| code.as_str() == s)
            .unwrap_or(ErrorCode::Unrecognized))
    }
}

impl ToJson for ErrorCode {
    fn write_json(&self, out: &mut JsonWriter) {
        out.string(self.as_str());
    }
}
