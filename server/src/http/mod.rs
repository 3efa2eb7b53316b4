//! The HTTP side: the router, its middleware (Host check, CORS, body limit) and the
//! handlers that are not the WebSocket.

pub mod error;
mod health;
pub mod host_check;
mod module_files;

use crate::state::AppState;
use crate::ws;
use axum::Router;
use axum::http::{HeaderValue, Method, header};
use axum::routing::get;
use std::sync::Arc;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

/// The whole application, ready to serve. Tests drive it with `oneshot` or on a port.
pub fn app(state: Arc<AppState>) -> Router {
    // The 405 fallback is set inside the CORS layer so that a preflight (OPTIONS) reaches
    // CORS before any method check.
    let api = Router::new()
        .route("/health", get(health::health))
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(cors(&state));

    Router::new()
        .nest("/api", api)
        .route("/ws", get(ws::upgrade))
        .route("/module.json", get(module_files::manifest))
        .route("/module.zip", get(module_files::archive))
        .fallback(error::route_not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(RequestBodyLimitLayer::new(state.config.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            host_check::require_known_host,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// CORS for `/api/*`: exactly the configured Foundry origins.
fn cors(state: &AppState) -> CorsLayer {
    let origins: Vec<HeaderValue> = state
        .allowed_origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
}
