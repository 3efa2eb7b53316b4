//! The Gold Box server under test, as its own process (so that its RSS is its alone),
//! and the echo floor's server, started the same way.
//!
//! Each measurement group starts a fresh server so that the server's own latency
//! histogram (`GET /api/metrics`) and its memory cover that group only. A process is
//! killed when its [`ServerProcess`] is dropped, so an error anywhere stops it too.

use crate::BenchResult;
use crate::http::HttpConnection;
use gold_box_e2e::TempDir;
use gold_box_protocol::MetricsSnapshot;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The client token every benchmark server is started with.
pub const TOKEN: &str = "gold-box-bench-token";
/// The admin token (metrics, the load-testing endpoint).
pub const ADMIN_TOKEN: &str = "gold-box-bench-admin-token";
/// The address line must be among this many first lines of output.
const ADDRESS_WITHIN_LINES: usize = 20;
/// How long a server may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// A running server process.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    addr: SocketAddr,
    _data_dir: Option<TempDir>,
}

impl ServerProcess {
    /// Starts `gold-box-server` on a free port with the benchmark tokens, a fresh data
    /// directory, the packaged module and `extra` options.
    pub async fn gold_box(
        binary: &Path,
        module_dir: &Path,
        extra: &[String],
    ) -> BenchResult<ServerProcess> {
        let data_dir = TempDir::new("gold-box-bench-data")?;
        let mut command = Command::new(binary);
        command
            .args([
                "--port",
                "0",
                "--token",
                TOKEN,
                "--admin-token",
                ADMIN_TOKEN,
            ])
            .arg("--data-dir")
            .arg(data_dir.path())
            .arg("--module-dir")
            .arg(module_dir)
            .args(extra);
        let mut server = ServerProcess::spawn(command).await?;
        server._data_dir = Some(data_dir);
        Ok(server)
    }

    /// Starts a program that prints a line ending in `listening on ADDR` among its first
    /// lines, drains the rest of its output, and stops when this value is dropped.
    pub async fn spawn(mut command: Command) -> BenchResult<ServerProcess> {
        let program = command.get_program().to_string_lossy().into_owned();
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {program}: {e}"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| format!("no stdout from {program}"))?;
        let (address_line, line) = tokio::sync::oneshot::channel();
        // Find the address line, then keep draining so the process never blocks on a full
        // pipe.
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
            let found = lines
                .by_ref()
                .take(ADDRESS_WITHIN_LINES)
                .find(|line| line.contains("listening on "));
            let _ = address_line.send(found);
            for _ in lines {}
        });
        let mut process = ServerProcess {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            _data_dir: None,
        };
        let line = tokio::time::timeout(START_TIMEOUT, line)
            .await
            .map_err(|_| format!("{program} printed no address within {START_TIMEOUT:?}"))?
            .ok()
            .flatten()
            .ok_or_else(|| format!("{program} ended without printing `listening on ADDR`"))?;
        process.addr = line
            .rsplit(' ')
            .next()
            .and_then(|addr| addr.parse().ok())
            .ok_or_else(|| format!("no address in {program}'s line {line:?}"))?;
        Ok(process)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://127.0.0.1:PORT/ws`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Resident memory, in bytes (`VmRSS` of `/proc/PID/status`).
    pub fn rss_bytes(&self) -> BenchResult<u64> {
        proc_status_kib(self.pid(), "VmRSS").map(|kib| kib * 1024)
    }

    /// Resident memory with its anonymous part (heap, stacks) apart from the file-backed
    /// part (the binary's and libraries' pages).
    pub fn reading(&self) -> BenchResult<Reading> {
        Ok(Reading {
            total: self.rss_bytes()?,
            anon: proc_status_kib(self.pid(), "RssAnon")? * 1024,
        })
    }

    /// Peak resident memory, in bytes (`VmHWM`).
    pub fn peak_rss_bytes(&self) -> BenchResult<u64> {
        proc_status_kib(self.pid(), "VmHWM").map(|kib| kib * 1024)
    }

    /// `GET /api/metrics` with the admin token.
    pub async fn metrics(&self) -> BenchResult<MetricsSnapshot> {
        let mut connection = HttpConnection::connect(self.addr).await?;
        let answer = connection.get("/api/metrics", Some(ADMIN_TOKEN)).await?;
        if answer.status != 200 {
            return Err(format!("GET /api/metrics answered {}", answer.status).into());
        }
        answer.json()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One reading of a process's resident memory, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// `VmRSS`.
    pub total: u64,
    /// `RssAnon`: what the allocator holds (the rest is mapped files).
    pub anon: u64,
}

/// A `kB` line of `/proc/PID/status`.
fn proc_status_kib(pid: u32, field: &str) -> BenchResult<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    status
        .lines()
        .find_map(|line| {
            let value = line.strip_prefix(field)?.strip_prefix(':')?;
            value.trim().trim_end_matches("kB").trim().parse().ok()
        })
        .ok_or_else(|| format!("no {field} in {path}").into())
}
