//! The web server of the Foundry stand-in page: `tests/foundry-shim/` at `/` and the
//! packaged module `dist/gold-box/` (or another copy of the module, see [`SiteListener`]) at
//! `/modules/gold-box/`, on 127.0.0.1 and a free port.

use crate::{FoundryVersion, TestResult, packaged_module_dir, shim_dir};
use axum::Router;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower_http::services::ServeDir;

/// A running static file server.
#[derive(Debug)]
pub struct ShimSite {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

/// The shim site's port, bound but not serving yet: its origin is known (the server
/// needs it) before the module it will serve is (installing by manifest URL takes the
/// module from that server).
#[derive(Debug)]
pub struct SiteListener {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
}

impl SiteListener {
    /// Binds 127.0.0.1 and a free port.
    pub async fn bind() -> TestResult<SiteListener> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        Ok(SiteListener { listener, addr })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }

    /// Serves the shim, with `module_dir` (a directory holding `module.json`) at
    /// `/modules/gold-box/`.
    pub fn serve(self, module_dir: &Path) -> TestResult<ShimSite> {
        if !module_dir.join("module.json").is_file() {
            return Err(format!("no module.json in {}", module_dir.display()).into());
        }
        let app = Router::new()
            .nest_service("/modules/gold-box", ServeDir::new(module_dir))
            .fallback_service(ServeDir::new(shim_dir()));
        let (stop, stopped) = oneshot::channel::<()>();
        let listener = self.listener;
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(ShimSite {
            addr: self.addr,
            stop: Some(stop),
            task: Some(task),
        })
    }
}

impl ShimSite {
    /// Serves the shim and the packaged module; fails when the module is not packaged.
    pub async fn start() -> TestResult<ShimSite> {
        let module_dir = packaged_module_dir()?;
        SiteListener::bind().await?.serve(&module_dir)
    }

    /// `http://127.0.0.1:PORT`: the origin the page (and so its WebSocket) comes from.
    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }

    /// The shim page URL for `version` with extra query parameters (values are encoded).
    pub fn page_url(&self, version: FoundryVersion, query: &[(&str, &str)]) -> String {
        let mut url = format!("{}/?v={}", self.origin(), version.query_value());
        for (key, value) in query {
            url.push('&');
            url.push_str(&percent_encode(key));
            url.push('=');
            url.push_str(&percent_encode(value));
        }
        url
    }

    /// Stops serving; waits a little for open connections, then gives up on them.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(3), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for ShimSite {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::percent_encode;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            percent_encode("http://127.0.0.1:8787/x?a=b&c"),
            "http%3A%2F%2F127.0.0.1%3A8787%2Fx%3Fa%3Db%26c"
        );
        assert_eq!(percent_encode("plain-token_1.2~"), "plain-token_1.2~");
    }
}
