//! A `systemctl stop` of the real binary: SIGTERM while a turn waits on a roll.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

const BINARY: &str = env!("CARGO_BIN_EXE_gold-box-server");

#[tokio::test]
async fn sigterm_ends_waiting_turns_closes_every_socket_with_1001_and_exits_0() {
    let data = temp_dir("shutdown");
    let mut child = Command::new(BINARY)
        .args([
            "--port",
            "0",
            "--token",
            TOKEN,
            "--admin-token",
            ADMIN_TOKEN,
        ])
        .args([
            "--module-dir",
            "/nonexistent",
            "--shutdown-grace-ms",
            "3000",
        ])
        .arg("--data-dir")
        .arg(&data)
        .env("GOLD_BOX_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(data.join("server.log")).expect("log file"))
        .spawn()
        .expect("start the server");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a first line").expect("text");
    let port: u16 = first
        .rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no port in {first:?}"));
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
    let signal = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(signal.success());

    println!("server log: {}", data.join("server.log").display());
    let (complete, _) = until(&mut player, "ai_turn_complete").await;
    assert_eq!(complete["data"]["status"], "failed", "{complete}");
    let error = complete["data"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("shutting down"), "{error}");
    assert_eq!(next_close(&mut player).await, Some(1001));
    assert_eq!(next_close(&mut idle).await, Some(1001));

    let exited = loop {
        if let Some(status) = child.try_wait().expect("wait") {
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
    let data = temp_dir("no-load-testing");
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
        .arg("--data-dir")
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a first line").expect("text");
    let port = first
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let status = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/test/rolls"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&serde_json::json!({"client_id": "x", "rolls": [{"formula": "1d20"}]}))
        .send()
        .await
        .expect("request")
        .status();
    child.kill().ok();
    child.wait().ok();
    assert_eq!(status.as_u16(), 404);
}

#[test]
fn a_stop_as_soon_as_the_banner_is_out_is_still_clean() {
    for attempt in 0..20 {
        let data = temp_dir("early-stop");
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
            .arg("--data-dir")
            .arg(&data)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the server");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        lines.next().expect("a first line").expect("text");
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        let status = child.wait().expect("wait");
        assert!(
            status.success(),
            "attempt {attempt}: a SIGTERM right after start ended the process with {status:?}"
        );
    }
}
