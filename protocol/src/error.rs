//! Error codes of the protocol and the typed error a bad frame decodes to.

use crate::text::{concat, push_u64};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The `code` of an `error` frame or of an HTTP error body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    AuthFailed,
    ProtocolUnsupported,
    InvalidMessage,
    UnknownType,
    PayloadTooLarge,
    AiBusy,
    /// Reserved: no server sends it yet.
    RateLimited,
    ProviderError,
    Timeout,
    Internal,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    UnsupportedMediaType,
    /// A new turn refused because the server's AI budget (tokens or cost) is spent.
    BudgetExceeded,
    /// A code this version does not know (sent by a newer peer).
    #[serde(other)]
    Unrecognized,
}

impl ErrorCode {
    /// The wire spelling, as in `docs/PROTOCOL.md`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::AuthFailed => "AUTH_FAILED",
            ErrorCode::ProtocolUnsupported => "PROTOCOL_UNSUPPORTED",
            ErrorCode::InvalidMessage => "INVALID_MESSAGE",
            ErrorCode::UnknownType => "UNKNOWN_TYPE",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorCode::AiBusy => "AI_BUSY",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::ProviderError => "PROVIDER_ERROR",
            ErrorCode::Timeout => "TIMEOUT",
            ErrorCode::Internal => "INTERNAL",
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ErrorCode::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            ErrorCode::BudgetExceeded => "BUDGET_EXCEEDED",
            ErrorCode::Unrecognized => "UNRECOGNIZED",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a frame could not be decoded. Each variant names what was wrong, so that the
/// `error` frame sent back lets the sender fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Not JSON, not an object, or `type` missing or not a string.
    Malformed { reason: String },
    /// A `type` this side does not know.
    UnknownType { type_name: String },
    /// `data` does not fit the frame's type (a missing field, a wrong field type).
    InvalidData {
        type_name: &'static str,
        reason: String,
    },
    /// A frame that must answer or name a request came without `request_id`.
    MissingRequestId { type_name: &'static str },
    /// An integer outside `0..2^53` (it would not survive JavaScript).
    OutOfRange {
        type_name: &'static str,
        field: &'static str,
        value: u64,
    },
}

impl FrameError {
    /// The error code this failure is reported with.
    pub fn code(&self) -> ErrorCode {
        match self {
            FrameError::UnknownType { .. } => ErrorCode::UnknownType,
            _ => ErrorCode::InvalidMessage,
        }
    }

    /// A malformed frame, from the JSON parser's own message.
    pub fn malformed(reason: impl fmt::Display) -> Self {
        FrameError::Malformed {
            reason: reason.to_string(),
        }
    }
}

impl FrameError {
    /// What was wrong, in words (the `Display` text), built without `core::fmt` (see
    /// [`crate::text`]).
    pub fn message(&self) -> String {
        match self {
            FrameError::Malformed { reason } => concat(&["malformed frame: ", reason]),
            FrameError::UnknownType { type_name } => {
                concat(&["unknown message type `", type_name, "`"])
            }
            FrameError::InvalidData { type_name, reason } => {
                concat(&["invalid `", type_name, "` data: ", reason])
            }
            FrameError::MissingRequestId { type_name } => {
                concat(&["`", type_name, "` needs a `request_id`"])
            }
            FrameError::OutOfRange {
                type_name,
                field,
                value,
            } => {
                let mut text = concat(&["`", type_name, "` field `", field, "` is "]);
                push_u64(&mut text, *value);
                text.push_str(", above the largest safe integer 2^53-1");
                text
            }
        }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for FrameError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The texts `message()` builds by hand, in full, as `write!` wrote them before.
    #[test]
    fn each_frame_error_says_what_was_wrong_in_full() {
        let cases = [
            (
                FrameError::Malformed {
                    reason: "not JSON".into(),
                },
                "malformed frame: not JSON",
            ),
            (
                FrameError::UnknownType {
                    type_name: "teleport".into(),
                },
                "unknown message type `teleport`",
            ),
            (
                FrameError::InvalidData {
                    type_name: "ack",
                    reason: "missing field `seq`".into(),
                },
                "invalid `ack` data: missing field `seq`",
            ),
            (
                FrameError::MissingRequestId {
                    type_name: "roll_ack",
                },
                "`roll_ack` needs a `request_id`",
            ),
            (
                FrameError::OutOfRange {
                    type_name: "connected",
                    field: "heartbeat_ms",
                    value: 9_007_199_254_740_992,
                },
                "`connected` field `heartbeat_ms` is 9007199254740992, above the largest safe integer 2^53-1",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.message(), text);
            assert_eq!(error.to_string(), text);
        }
    }
}
