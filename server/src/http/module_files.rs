//! `GET /module.json` and `GET /module.zip`: install by manifest URL.

use super::error::AppError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use std::sync::Arc;

fn package(state: &AppState) -> Result<&crate::module_package::ModulePackage, AppError> {
    state.module.as_ref().ok_or_else(|| {
        AppError::not_found(format!(
            "the module is not packaged in {}: run `cargo xtask package`, then restart the server",
            state.config.module_dir.display()
        ))
    })
}

pub async fn manifest(State(state): State<Arc<AppState>>) -> Result<impl IntoResponse, AppError> {
    let package = package(&state)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        package.manifest.clone(),
    ))
}

pub async fn archive(State(state): State<Arc<AppState>>) -> Result<impl IntoResponse, AppError> {
    let package = package(&state)?;
    let disposition = format!("attachment; filename=\"gold-box-{}.zip\"", package.version);
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        package.archive.clone(),
    ))
}
