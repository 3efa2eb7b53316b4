//! The JSON of `GET /api/metrics` (the design note's items 2.3, 4.2 and 4.3, filled in).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `GET /api/metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsSnapshot {
    pub service: String,
    pub version: String,
    /// Epoch milliseconds.
    pub timestamp: u64,
    pub websocket: WebsocketMetrics,
    pub system: SystemMetrics,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebsocketMetrics {
    pub connections: ConnectionMetrics,
    pub roll_results: RollResultMetrics,
    pub ai_processing: AiProcessingMetrics,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionMetrics {
    /// WebSocket upgrades.
    pub total: u64,
    /// Completed handshakes.
    pub successful: u64,
    /// Refused upgrades and handshakes.
    pub failed: u64,
    pub active: u64,
    /// From the upgrade to `connected`.
    pub average_connect_time_ms: f64,
    pub messages_sent: u64,
    pub messages_received: u64,
    pub messages_sent_by_type: BTreeMap<String, u64>,
    pub messages_received_by_type: BTreeMap<String, u64>,
    /// Error frames sent and internal errors.
    pub errors: u64,
    pub last_error: Option<String>,
    /// Epoch milliseconds.
    pub last_error_time: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollResultMetrics {
    pub accepted: u64,
    pub duplicate: u64,
    pub expired: u64,
    pub unknown: u64,
    pub forbidden: u64,
    pub invalid: u64,
    /// Every roll result received, whatever its status, by transport (`ws`, `http`).
    pub by_transport: BTreeMap<String, u64>,
    pub latency_ms: LatencyMetrics,
}

/// From sending `execute_roll` to accepting its result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyMetrics {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    /// The last 100 at most, oldest first.
    pub recent: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AiProcessingMetrics {
    pub total_requests: u64,
    pub completed_requests: u64,
    pub failed_requests: u64,
    pub timeout_requests: u64,
    pub busy_rejections: u64,
    /// Over every finished turn.
    pub average_processing_time_ms: f64,
    /// Turns the GM stopped (`cancel_turn`).
    #[serde(default)]
    pub cancelled_requests: u64,
    /// Turns refused because the budget was spent.
    #[serde(default)]
    pub budget_rejections: u64,
    /// Tokens spent since the server started, as the provider counted them.
    #[serde(default)]
    pub usage: AiUsageMetrics,
}

/// Tokens spent since the server started, and their estimated cost when priced.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AiUsageMetrics {
    /// `offline` or `openai`.
    pub provider: String,
    pub model: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub estimated_cost: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemMetrics {
    pub active_connections: u64,
    /// Tool requests (rolls) awaiting a result.
    pub pending_ai_requests: u64,
    pub current_ai_request: Option<CurrentAiRequest>,
}

/// The AI turn in progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrentAiRequest {
    pub client_id: String,
    /// The `chat_request`'s request_id.
    pub request_id: String,
    /// Epoch milliseconds.
    pub started_at: u64,
    pub elapsed_ms: u64,
}
