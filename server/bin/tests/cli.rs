//! The `gold-box-server` binary as a user runs it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BINARY: &str = env!("CARGO_BIN_EXE_gold-box-server");

#[test]
fn help_lists_every_option_with_its_environment_variable() {
    let output = Command::new(BINARY)
        .arg("--help")
        .output()
        .expect("run --help");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for (option, variable) in [
        ("--host", "GOLD_BOX_HOST"),
        ("--port", "GOLD_BOX_PORT"),
        ("--foundry-origin", "GOLD_BOX_FOUNDRY_ORIGINS"),
        ("--token", "GOLD_BOX_TOKEN"),
        ("--admin-token", "GOLD_BOX_ADMIN_TOKEN"),
        ("--data-dir", "GOLD_BOX_DATA_DIR"),
        ("--module-dir", "GOLD_BOX_MODULE_DIR"),
        ("--public-url", "GOLD_BOX_PUBLIC_URL"),
        ("--roll-timeout-ms", "GOLD_BOX_ROLL_TIMEOUT_MS"),
        ("--max-frame-bytes", "GOLD_BOX_MAX_FRAME_BYTES"),
    ] {
        assert!(help.contains(option), "--help lacks {option}");
        assert!(help.contains(variable), "--help lacks {variable}");
    }
}

#[test]
fn a_bad_option_value_is_refused_with_its_name() {
    let output = Command::new(BINARY)
        .args(["--port", "seventy"])
        .output()
        .expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--port"), "{stderr}");
}

/// Starts the binary on a free port and returns the lines it printed up to the token.
fn first_start(data_dir: &std::path::Path, env: &[(&str, &str)]) -> Vec<String> {
    let mut child = Command::new(BINARY)
        .args(["--port", "0", "--module-dir", "/nonexistent"])
        .env("GOLD_BOX_DATA_DIR", data_dir)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start");
    let stdout = child.stdout.take().expect("stdout");
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .take_while(|line| !line.starts_with("Admin token"))
        .collect();
    child.kill().ok();
    child.wait().ok();
    lines
}

fn token_line(lines: &[String]) -> String {
    lines
        .iter()
        .find_map(|l| l.strip_prefix("Token:"))
        .map(|t| t.trim().to_owned())
        .expect("a Token line")
}

#[test]
fn a_token_is_generated_on_first_start_kept_and_printed_only_when_generated() {
    let dir = std::env::temp_dir().join(format!("gold-box-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let first = first_start(&dir, &[]);
    assert!(
        first.iter().any(|l| l.contains("listening on 127.0.0.1:")),
        "{first:?}"
    );
    let token = token_line(&first);
    assert_eq!(token.len(), 48);
    let saved = dir.join("token");
    assert_eq!(
        std::fs::read_to_string(&saved).expect("saved").trim(),
        token
    );
    let second = first_start(&dir, &[]);
    assert_eq!(
        token_line(&second),
        format!("kept in {}", saved.display()),
        "a kept token is named by its file, never printed again"
    );
    assert!(second.iter().all(|l| !l.contains(&token)), "{second:?}");
    let configured = first_start(&dir, &[("GOLD_BOX_TOKEN", "from-env")]);
    assert_eq!(
        token_line(&configured),
        "as configured (--token / GOLD_BOX_TOKEN)"
    );
    assert!(configured.iter().all(|l| !l.contains("from-env")));
    std::fs::remove_dir_all(&dir).ok();
}

/// The README's configuration table is the same list as `--help`: every option, with
/// its environment variable and its default.
#[test]
fn every_option_is_in_the_readme_configuration_table() {
    let readme = include_str!("../../../README.md");
    let output = Command::new(BINARY)
        .arg("--help")
        .output()
        .expect("run --help");
    let help = String::from_utf8_lossy(&output.stdout);
    let mut checked = 0;
    for block in help.split("\n      --").skip(1) {
        let flag = block.split([' ', '\n']).next().unwrap_or_default();
        let row = readme
            .lines()
            .find(|line| line.starts_with(&format!("| `--{flag}` |")))
            .unwrap_or_else(|| panic!("README.md has no configuration row for --{flag}"));
        if let Some(variable) = block
            .split("[env: ")
            .nth(1)
            .and_then(|rest| rest.split(['=', ']']).next())
        {
            assert!(
                row.contains(variable),
                "the README row for --{flag} lacks {variable}"
            );
        }
        if let Some(default) = block
            .split("[default: ")
            .nth(1)
            .and_then(|rest| rest.split(']').next())
        {
            assert!(
                row.contains(&format!("`{default}`")),
                "the README row for --{flag} lacks its default {default}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} options found in --help");
}

/// A supervisor may read the first line and close the pipe: the server goes on serving.
#[test]
fn a_closed_stdout_does_not_stop_the_server() {
    let dir = std::env::temp_dir().join(format!("gold-box-cli-stdout-{}", std::process::id()));
    let mut child = Command::new(BINARY)
        .args([
            "--port",
            "0",
            "--module-dir",
            "/nonexistent",
            "--token",
            "t1",
            "--admin-token",
            "a1",
        ])
        .arg("--data-dir")
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("first line");
    assert!(first.contains("listening on 127.0.0.1:"), "{first}");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let still_running = child.try_wait().expect("status").is_none();
    child.kill().ok();
    child.wait().ok();
    std::fs::remove_dir_all(&dir).ok();
    assert!(still_running, "the server stopped when its stdout closed");
}
