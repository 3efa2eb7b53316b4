//! The real Gold Box server, in-process on a free port, configured through the same
//! options as its command line.

use crate::{TempDir, TestResult, dist_dir, http};
use gold_box_server::ServerHandle;
use serde_json::Value;
use std::net::SocketAddr;

/// The client token the test server accepts.
pub const TEST_TOKEN: &str = "test-token";
/// The admin token of the test server.
pub const TEST_ADMIN_TOKEN: &str = "test-admin";

/// A running server with its own data directory.
#[derive(Debug)]
pub struct TestServer {
    handle: Option<ServerHandle>,
    addr: SocketAddr,
    /// The options it was started with, `--port` included (a restart keeps the port).
    args: Vec<String>,
    _data_dir: TempDir,
}

impl TestServer {
    /// Starts the server on 127.0.0.1 and a free port, allowing WebSocket upgrades from
    /// `foundry_origin`, with [`TEST_TOKEN`] and [`TEST_ADMIN_TOKEN`].
    pub async fn start(foundry_origin: &str) -> TestResult<TestServer> {
        TestServer::start_with(foundry_origin, &[]).await
    }

    /// [`TestServer::start`] with more command-line options (e.g. `--public-url`).
    pub async fn start_with(foundry_origin: &str, extra_args: &[&str]) -> TestResult<TestServer> {
        let data_dir = TempDir::new("gold-box-e2e-data")?;
        let mut args: Vec<String> = [
            "--port",
            "0",
            "--data-dir",
            &data_dir.path().display().to_string(),
            "--module-dir",
            &dist_dir().display().to_string(),
            "--foundry-origin",
            foundry_origin,
            "--token",
            TEST_TOKEN,
            "--admin-token",
            TEST_ADMIN_TOKEN,
        ]
        .iter()
        .map(|arg| (*arg).to_owned())
        .collect();
        args.extend(extra_args.iter().map(|arg| (*arg).to_owned()));
        let handle = spawn(&args).await?;
        let addr = handle.addr();
        // From now on the port is fixed, so that a restart comes back where the page
        // expects it.
        if let Some(port) = args.iter().position(|arg| arg == "--port") {
            args[port + 1] = addr.port().to_string();
        }
        Ok(TestServer {
            handle: Some(handle),
            addr,
            args,
            _data_dir: data_dir,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether the server is running (not stopped by [`TestServer::stop`]).
    pub fn is_running(&self) -> bool {
        self.handle.is_some()
    }

    /// Stops the server (every socket is closed with 1001) and waits for it to end.
    /// The port and the data directory are kept for [`TestServer::start_again`].
    pub async fn stop(&mut self) -> TestResult {
        if let Some(handle) = self.handle.take() {
            handle
                .shutdown()
                .await
                .map_err(|e| format!("the server did not stop cleanly: {e}"))?;
        }
        Ok(())
    }

    /// Starts the server again after [`TestServer::stop`], on the same port with the
    /// same options and data directory (so the same tokens).
    pub async fn start_again(&mut self) -> TestResult {
        if self.handle.is_some() {
            return Err("the server is still running".into());
        }
        let handle = spawn(&self.args).await?;
        if handle.addr() != self.addr {
            return Err(format!(
                "the server came back on {} instead of {}",
                handle.addr(),
                self.addr
            )
            .into());
        }
        self.handle = Some(handle);
        Ok(())
    }

    /// `GET /api/health`, as JSON.
    pub async fn health(&self) -> TestResult<Value> {
        http::get_ok(&format!("{}/api/health", self.url()), &[])
            .await?
            .json()
    }

    /// `GET /api/metrics` with the admin token, as JSON.
    pub async fn metrics(&self) -> TestResult<Value> {
        let auth = format!("Bearer {TEST_ADMIN_TOKEN}");
        http::get_ok(
            &format!("{}/api/metrics", self.url()),
            &[("Authorization", auth.as_str())],
        )
        .await?
        .json()
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(mut self) {
        if let Err(error) = self.stop().await {
            eprintln!("{error}");
        }
    }
}

async fn spawn(args: &[String]) -> TestResult<ServerHandle> {
    let config = gold_box_server::Config::from_args(args.iter().map(String::as_str))
        .map_err(|e| format!("invalid server options {args:?}: {e}"))?;
    let handle = gold_box_server::spawn(config)
        .await
        .map_err(|e| format!("the server did not start: {e}"))?;
    Ok(handle)
}
