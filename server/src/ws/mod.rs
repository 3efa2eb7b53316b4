//! The WebSocket endpoint: the upgrade (with its Origin check) and, per connection,
//! a handshake, a reader that dispatches each frame, and a writer fed by the link's
//! bounded queue (see `crate::link`).

mod codec;
mod connection;
mod dispatch;
mod handshake;
mod writer;

pub use crate::link::close_code;

use crate::http::error::AppError;
use crate::state::AppState;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header::ORIGIN};
use axum::response::{IntoResponse, Response};
use gold_box_protocol::ErrorCode;
use std::sync::Arc;

/// Frames above this many times the configured limit are cut off by the WebSocket
/// layer itself before they are buffered whole; frames between the limit and this cap
/// are read, then refused with a PAYLOAD_TOO_LARGE error frame.
const HARD_FRAME_CAP_FACTOR: usize = 4;

pub async fn upgrade(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if let Some(origin) = headers.get(ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        if !state.origin_allowed(origin) {
            tracing::warn!(origin, "refused a WebSocket upgrade from a foreign origin");
            return AppError::forbidden(format!(
                "origin `{origin}` is not allowed; start the server with --foundry-origin {origin}"
            ))
            .into_response();
        }
    }
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            return AppError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidMessage,
                format!("not a WebSocket upgrade: {rejection}"),
            )
            .into_response();
        }
    };
    let cap = state
        .config
        .max_frame_bytes
        .saturating_mul(HARD_FRAME_CAP_FACTOR);
    upgrade
        .max_message_size(cap)
        .max_frame_size(cap)
        .on_upgrade(move |socket| {
            let tasks = state.connection_tasks.clone();
            tasks.track_future(connection::run(socket, state))
        })
}
