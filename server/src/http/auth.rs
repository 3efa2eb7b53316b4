//! Bearer-token checks for the HTTP endpoints: the client token for roll results, the
//! admin token for metrics. Both compare in constant time and answer 401 in the one
//! JSON error shape.

use super::error::AppError;
use crate::secrets::Secret;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

/// Checks `Authorization: Bearer <token>` against `secret`.
pub fn require_bearer(headers: &HeaderMap, secret: &Secret, what: &str) -> Result<(), AppError> {
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
        })
        .map(str::trim);
    match presented {
        Some(token) if secret.matches(token) => Ok(()),
        Some(_) => Err(AppError::unauthorized(format!(
            "wrong bearer token: this endpoint needs the {what}"
        ))),
        None => Err(AppError::unauthorized(format!(
            "missing `Authorization: Bearer <{what}>` header"
        ))),
    }
}
