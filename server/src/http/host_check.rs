//! The DNS-rebinding defence: every request must name this server in its `Host` header.
//!
//! A page on an attacker's domain that resolves to 127.0.0.1 reaches this server with
//! its own domain in `Host`; refusing unknown hosts keeps such pages out, whatever the
//! browser's same-origin rules would have allowed.

use super::error::AppError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::header::HOST;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;

/// The `Host` values this server answers to: loopback names with the bound port, the
/// bound address itself, and the configured public URL's host and port as written.
pub fn allowed_hosts(bound: SocketAddr, public_url: &str) -> Vec<String> {
    let port = bound.port();
    let mut hosts = vec![
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ];
    if !bound.ip().is_unspecified() && !bound.ip().is_loopback() {
        hosts.push(bound.to_string());
    }
    if let Some(authority) = authority_of(public_url) {
        hosts.push(authority);
    }
    hosts.sort();
    hosts.dedup();
    hosts
}

/// `scheme://authority/...` → `authority`, with the scheme's default port made explicit
/// only when the URL wrote one (a browser sends `Host` as the URL was written).
fn authority_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    (!authority.is_empty()).then(|| authority.to_ascii_lowercase())
}

pub async fn require_known_host(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(HOST)
        .and_then(|value| value.to_str().ok())
        .map(str::to_ascii_lowercase);
    match host {
        Some(host) if state.allowed_hosts.contains(&host) => next.run(request).await,
        Some(host) => {
            tracing::warn!(%host, "refused a request for an unknown Host");
            AppError::forbidden(format!("Host `{host}` is not this server's name")).into_response()
        }
        None => AppError::forbidden("the request has no Host header").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_and_the_public_url_are_allowed() {
        let hosts = allowed_hosts(
            "127.0.0.1:8787".parse().expect("addr"),
            "https://gm.example.org/gb",
        );
        assert!(hosts.contains(&"127.0.0.1:8787".to_owned()));
        assert!(hosts.contains(&"localhost:8787".to_owned()));
        assert!(hosts.contains(&"[::1]:8787".to_owned()));
        assert!(hosts.contains(&"gm.example.org".to_owned()));
        assert!(
            !hosts.contains(&"127.0.0.1".to_owned()),
            "a Host matches only with its port"
        );
    }

    #[test]
    fn a_specific_bind_address_is_its_own_name() {
        let hosts = allowed_hosts(
            "192.168.1.5:8787".parse().expect("addr"),
            "http://192.168.1.5:8787",
        );
        assert!(hosts.contains(&"192.168.1.5:8787".to_owned()));
    }
}
