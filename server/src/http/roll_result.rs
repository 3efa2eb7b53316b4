//! `POST /api/roll-result`: the HTTP fallback for a roll result. It goes through the
//! same resolve function as the WebSocket, so a result is applied once whichever way,
//! and however often, it arrives.

use super::auth::require_bearer;
use super::error::AppError;
use super::json_body::JsonBody;
use crate::metrics::Transport;
use crate::rolls::Resolution;
use crate::state::AppState;
use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gold_box_protocol::{RollAckStatus, RollResultStatusBody, RollResultSubmission};
use std::sync::Arc;

pub async fn submit(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Response, AppError> {
    // The token is checked before a byte of the body is read: a stranger's request costs
    // no body buffering and no parsing.
    require_bearer(request.headers(), &state.secrets.client, "client token")?;
    let submission = match JsonBody::<RollResultSubmission>::from_request(request, &()).await {
        Ok(JsonBody(submission)) => submission,
        Err(error) => {
            if error.status == StatusCode::BAD_REQUEST {
                // A result that does not decode is still a result received: it is
                // counted as the client hears it, `invalid`.
                let refused = Resolution::invalid(error.message.clone());
                state.metrics.roll_result(Transport::Http, &refused);
            }
            return Err(error);
        }
    };
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
