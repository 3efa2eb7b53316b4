//! `GET /metrics` (Prometheus text) and `GET /api/metrics` (JSON), for the admin token
//! only: they name clients and requests.

use super::auth::require_bearer;
use super::error::AppError;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use gold_box_protocol::{
    AiProcessingMetrics, CurrentAiRequest, MetricsSnapshot, SystemMetrics, WebsocketMetrics,
};
use std::sync::Arc;

pub async fn prometheus(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, AppError> {
    require_bearer(&headers, &state.secrets.admin, "admin token")?;
    let text = state
        .metrics
        .encode_prometheus(state.rolls.pending_count(), state.ai_busy());
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    ))
}

pub async fn json(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<MetricsSnapshot>, AppError> {
    require_bearer(&headers, &state.secrets.admin, "admin token")?;
    let connections = state.metrics.connections();
    let current = state.ai.current().map(|turn| CurrentAiRequest {
        client_id: turn.client_id,
        request_id: turn.request_id,
        started_at: turn.started_at_ms,
        elapsed_ms: u64::try_from(turn.started.elapsed().as_millis()).unwrap_or(u64::MAX),
    });
    Ok(Json(MetricsSnapshot {
        service: crate::SERVICE_NAME.into(),
        version: crate::SERVER_VERSION.into(),
        timestamp: crate::now_ms(),
        system: SystemMetrics {
            active_connections: connections.active,
            pending_ai_requests: state.rolls.pending_count() as u64,
            current_ai_request: current,
        },
        websocket: WebsocketMetrics {
            connections,
            roll_results: state.metrics.roll_results(),
            ai_processing: AiProcessingMetrics {
                usage: state.usage.metrics(),
                ..state.metrics.ai_processing()
            },
        },
    }))
}
