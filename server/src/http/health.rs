//! `GET /api/health`: is the server up, which version, and is the AI busy.

use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use gold_box_protocol::{HealthResponse, PROTOCOL_VERSION};
use std::sync::Arc;

pub async fn health(State(state): State<Arc<AppState>>) -> Json<HealthResponse> {
    Json(HealthResponse {
        status: "ok".into(),
        service: crate::SERVICE_NAME.into(),
        version: crate::SERVER_VERSION.into(),
        protocol: PROTOCOL_VERSION,
        ai_busy: state.ai_busy(),
    })
}
