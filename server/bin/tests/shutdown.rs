//! A `systemctl stop` of the real binary: SIGTERM while a turn waits on a roll.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

const BINARY: &str = env!("CARGO_BIN_EXE_gold-box-server");

type Stdout = std::io::Lines<BufReader<std::process::ChildStdout>>;

/// The server process, killed when the test ends however it ends, so a failed assertion
/// never leaves a server behind.
struct ServerProcess(std::process::Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            self.0.kill().ok();
            self.0.wait().ok();
        }
    }
}

/// The real binary on a free port, with `extra` options; its log goes to the test's data
/// directory. Returns the process, its stdout (kept open, so the server never sees it
/// closed) and the port it printed.
fn start_binary(name: &str, extra: &[&str]) -> (ServerProcess, Stdout, u16) {
    let data = temp_dir(name);
    let mut child = Command::new(BINARY)
        .args([
            "--port",
            "0",
            "--token",
            TOKEN,
            "--admin-token",
            ADMIN_TOKEN,
        ])
        .args(["--module-dir", "/nonexistent"])
        .args(extra)
        .arg("--data-dir")
        .arg(&data)
        .env("GOLD_BOX_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(data.join("server.log")).expect("log file"))
        .spawn()
        .expect("start the server");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a first line").expect("text");
    let port = first
        .rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no port in {first:?}"));
    (ServerProcess(child), lines, port)
}

fn send_sigterm(child: &ServerProcess) {
    let signal = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(signal.success());
}

#[tokio::test]
async fn sigterm_ends_waiting_turns_closes_every_socket_with_1001_and_exits_0() {
    let (mut child, _stdout, port) = start_binary("shutdown", &["--shutdown-grace-ms", "3000"]);
    let url = format!("ws://127.0.0.1:{port}/ws");

    let mut player = tokio_tungstenite::connect_async(&url)
        .await
        .expect("upgrade")
        .0;
    send(&mut player, &connect_frame("gb-waiting", TOKEN)).await;
    assert_eq!(next_frame(&mut player).await["type"], "connected");
    let mut idle = tokio_tungstenite::connect_async(&url)
        .await
        .expect("upgrade")
        .0;
    send(&mut idle, &connect_frame("gb-idle", TOKEN)).await;
    assert_eq!(next_frame(&mut idle).await["type"], "connected");
    send(&mut player, &chat_request("turn-1", ATTACK)).await;
    until(&mut player, "execute_roll").await;

    let stopped = Instant::now();
    send_sigterm(&child);

    let (complete, _) = until(&mut player, "ai_turn_complete").await;
    assert_eq!(complete["data"]["status"], "failed", "{complete}");
    let error = complete["data"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("shutting down"), "{error}");
    assert_eq!(next_close(&mut player).await, Some(1001));
    assert_eq!(next_close(&mut idle).await, Some(1001));

    let exited = loop {
        if let Some(status) = child.0.try_wait().expect("wait") {
            break status;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(10),
            "still running 10 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    println!("stopped in {:?}", stopped.elapsed());
    assert!(exited.success(), "exit status {exited:?}");
}

#[tokio::test]
async fn the_default_binary_has_no_load_testing_endpoint() {
    let (_child, _stdout, port) = start_binary("no-load-testing", &[]);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let status = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/test/rolls"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&serde_json::json!({"client_id": "x", "rolls": [{"formula": "1d20"}]}))
        .send()
        .await
        .expect("request")
        .status();
    assert_eq!(status.as_u16(), 404);
}

#[test]
fn a_stop_as_soon_as_the_banner_is_out_is_still_clean() {
    for attempt in 0..20 {
        let (mut child, _stdout, _) = start_binary("early-stop", &[]);
        send_sigterm(&child);
        let status = child.0.wait().expect("wait");
        assert!(
            status.success(),
            "attempt {attempt}: a SIGTERM right after start ended the process with {status:?}"
        );
    }
}
