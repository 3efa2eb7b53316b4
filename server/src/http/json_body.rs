//! A JSON body extractor whose every refusal is the protocol's JSON error: 415 for a
//! body that is not `application/json`, 413 for one over the limit, 400 naming the
//! field for one that does not fit (never axum's plain-text 422).

use super::error::AppError;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use gold_box_protocol::ErrorCode;
use serde::de::DeserializeOwned;

/// `Json<T>` with the protocol's errors.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => Err(refusal(rejection)),
        }
    }
}

fn refusal(rejection: JsonRejection) -> AppError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "the body must be JSON with `Content-Type: application/json`",
        ),
        JsonRejection::JsonDataError(error) => AppError::invalid(error.body_text()),
        JsonRejection::JsonSyntaxError(error) => AppError::invalid(error.body_text()),
        JsonRejection::BytesRejection(error) if error.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            AppError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                "the body is over the size limit (--max-body-bytes)",
            )
        }
        other => AppError::invalid(other.body_text()),
    }
}
