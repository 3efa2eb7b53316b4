//! The HTTP side: the router, its middleware (Host check, CORS, body limit) and the
//! handlers that are not the WebSocket.

mod auth;
pub mod error;
mod health;
pub mod host_check;
mod json_body;
mod metrics;
mod module_files;
mod roll_result;
#[cfg(feature = "load-testing")]
mod test_rolls;

use crate::state::AppState;
use crate::ws;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, header};
use axum::routing::{get, post};
use std::sync::Arc;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

/// The whole application, ready to serve. Tests drive it with `oneshot` or on a port.
pub fn app(state: Arc<AppState>) -> Router {
    // The 405 fallback is set inside the CORS layer so that a preflight (OPTIONS) reaches
    // CORS before any method check.
    let api = Router::new()
        .route("/health", get(health::health))
        .route("/roll-result", post(roll_result::submit))
        .route("/metrics", get(metrics::json));
    #[cfg(feature = "load-testing")]
    let api = api.route("/test/rolls", post(test_rolls::request));
    let api = api
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(cors(&state));

    Router::new()
        .nest("/api", api)
        .route("/ws", get(ws::upgrade))
        .route("/metrics", get(metrics::prometheus))
        .route("/module.json", get(module_files::manifest))
        .route("/module.zip", get(module_files::archive))
        .fallback(error::route_not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
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
