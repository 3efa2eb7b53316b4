//! The real Gold Box server, in-process on a free port, configured through the same
//! options as its command line.

use crate::{TempDir, TestResult, dist_dir};
use gold_box_server::ServerHandle;
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The client token the test server accepts.
pub const TEST_TOKEN: &str = "test-token";
/// The admin token of the test server.
pub const TEST_ADMIN_TOKEN: &str = "test-admin";

/// A running server with its own data directory.
#[derive(Debug)]
pub struct TestServer {
    handle: Option<ServerHandle>,
    url: String,
    _data_dir: TempDir,
}

impl TestServer {
    /// Starts the server on 127.0.0.1 and a free port, allowing WebSocket upgrades from
    /// `foundry_origin`, with [`TEST_TOKEN`] and [`TEST_ADMIN_TOKEN`].
    pub async fn start(foundry_origin: &str) -> TestResult<TestServer> {
        let data_dir = TempDir::new("gold-box-e2e-data")?;
        let data = data_dir.path().display().to_string();
        let modules = dist_dir().display().to_string();
        let config = gold_box_server::Config::from_args([
            "--port",
            "0",
            "--data-dir",
            data.as_str(),
            "--module-dir",
            modules.as_str(),
            "--foundry-origin",
            foundry_origin,
            "--token",
            TEST_TOKEN,
            "--admin-token",
            TEST_ADMIN_TOKEN,
        ])
        .map_err(|e| format!("invalid server options: {e}"))?;
        let handle = gold_box_server::spawn(config)
            .await
            .map_err(|e| format!("the server did not start: {e}"))?;
        let url = handle.url();
        Ok(TestServer {
            handle: Some(handle),
            url,
            _data_dir: data_dir,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// `GET /api/health`, as JSON.
    pub async fn health(&self) -> TestResult<Value> {
        let body = self.get("/api/health").await?;
        Ok(serde_json::from_str(&body)?)
    }

    /// A plain HTTP/1.1 GET with the server's own Host; returns the body of a 200.
    async fn get(&self, path: &str) -> TestResult<String> {
        let host = self.url.trim_start_matches("http://").to_owned();
        let mut stream = tokio::net::TcpStream::connect(&host).await?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response))
            .await
            .map_err(|_| format!("GET {path} timed out"))??;
        let response = String::from_utf8(response)?;
        let (head, body) = response
            .split_once("\r\n\r\n")
            .ok_or_else(|| format!("GET {path}: malformed response"))?;
        if !head.starts_with("HTTP/1.1 200") {
            return Err(format!("GET {path}: {}", head.lines().next().unwrap_or(head)).into());
        }
        Ok(body.to_owned())
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(mut self) {
        if let Some(handle) = self.handle.take()
            && let Err(error) = handle.shutdown().await
        {
            eprintln!("the server did not stop cleanly: {error}");
        }
    }
}
