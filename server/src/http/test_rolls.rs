//! `POST /api/test/rolls`, compiled only with the `load-testing` feature: the benchmarks'
//! way to make the server ask a client for rolls without an AI turn, through the same
//! path the AI's tool takes. Release builds do not have it.

use super::auth::require_bearer;
use super::error::AppError;
use super::json_body::JsonBody;
use crate::rolls::RollFailure;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use gold_box_protocol::{ErrorCode, TestRollRequest, TestRollResponse};
use std::sync::Arc;
use std::time::Duration;

pub async fn request(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<JsonBody<TestRollRequest>, AppError>,
) -> Result<Json<TestRollResponse>, AppError> {
    require_bearer(&headers, &state.secrets.admin, "admin token")?;
    let JsonBody(request) = body?;
    let timeout = request
        .timeout_ms
        .map(Duration::from_millis)
        .unwrap_or_else(|| state.config.roll_timeout());
    match crate::turns::request_rolls(&state, &request.client_id, request.rolls, timeout).await {
        Ok(results) => Ok(Json(TestRollResponse { results })),
        Err(failure @ RollFailure::Timeout { .. }) => Err(AppError::new(
            StatusCode::GATEWAY_TIMEOUT,
            ErrorCode::Timeout,
            failure.to_string(),
        )),
        Err(failure) => Err(AppError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal,
            failure.to_string(),
        )),
    }
}
