//! `POST /api/roll-result`: the HTTP fallback for a roll result. It goes through the
//! same resolve function as the WebSocket, so a result is applied once whichever way,
//! and however often, it arrives.

use super::auth::require_bearer;
use super::error::AppError;
use super::json_body::JsonBody;
use crate::metrics::Transport;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gold_box_protocol::{RollAckStatus, RollResultStatusBody, RollResultSubmission};
use std::sync::Arc;

pub async fn submit(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<JsonBody<RollResultSubmission>, AppError>,
) -> Result<Response, AppError> {
    // The token is checked before the body is looked at.
    require_bearer(&headers, &state.secrets.client, "client token")?;
    let JsonBody(submission) = body?;
    let (resolution, wakeup) = state.rolls.resolve(
        &submission.client_id,
        &submission.request_id,
        submission.results,
    );
    if let Some(wakeup) = wakeup {
        wakeup.wake();
    }
    state.metrics.roll_result(Transport::Http, &resolution);
    tracing::info!(
        request_id = %submission.request_id,
        client_id = %submission.client_id,
        status = resolution.status.as_str(),
        "roll result over HTTP"
    );
    let status = match resolution.status {
        RollAckStatus::Accepted | RollAckStatus::Duplicate => StatusCode::OK,
        RollAckStatus::Expired => StatusCode::GONE,
        RollAckStatus::Unknown => StatusCode::NOT_FOUND,
        RollAckStatus::Forbidden => StatusCode::FORBIDDEN,
        RollAckStatus::Invalid => {
            return Err(AppError::invalid(
                resolution.error.unwrap_or_else(|| "invalid result".into()),
            ));
        }
    };
    Ok((
        status,
        Json(RollResultStatusBody {
            status: resolution.status,
        }),
    )
        .into_response())
}
