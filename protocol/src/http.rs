//! Bodies of the HTTP side of the protocol (`/api/health`, `/api/roll-result`, errors).

use crate::{ErrorCode, RollAckStatus, RollOutcome};
use serde::{Deserialize, Serialize};

/// `GET /api/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthResponse {
    /// Always `"ok"` when the server answers.
    pub status: String,
    pub service: String,
    pub version: String,
    pub protocol: u32,
    pub ai_busy: bool,
}

/// `POST /api/roll-result`: the HTTP fallback for a `roll_result` frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollResultSubmission {
    pub request_id: String,
    pub client_id: String,
    pub results: Vec<RollOutcome>,
}

/// The status body `POST /api/roll-result` answers with (`accepted`, `duplicate`,
/// `expired`, `unknown`, `forbidden`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollResultStatusBody {
    pub status: RollAckStatus,
}

/// The body of every 4xx/5xx answer other than the status bodies above.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpErrorBody {
    pub error: HttpError,
}

/// What went wrong with an HTTP request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpError {
    pub code: ErrorCode,
    pub message: String,
}

impl HttpErrorBody {
    /// An error body with this code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        HttpErrorBody {
            error: HttpError {
                code,
                message: message.into(),
            },
        }
    }
}

/// `POST /api/test/rolls` (servers built with the `load-testing` feature only): ask a
/// connected client to roll, through the same path as the AI's tool, and wait for the
/// outcomes. Used by the benchmarks to measure the roll round trip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestRollRequest {
    pub client_id: String,
    pub rolls: Vec<crate::RollRequest>,
    /// The deadline, in milliseconds; the server's roll timeout when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

/// The answer to [`TestRollRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestRollResponse {
    pub results: Vec<RollOutcome>,
}
