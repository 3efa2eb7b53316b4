//! The browser tests of the wasm core, run against a real server: the server is started
//! here on a free port with test tokens, allowing the origin of the page that
//! `wasm-bindgen-test-runner` serves, and its address reaches the tests at compile time
//! (`GOLD_BOX_TEST_SERVER`, `GOLD_BOX_TEST_TOKEN`, `GOLD_BOX_TEST_ADMIN_TOKEN`).

use crate::package::workspace_root;
use crate::process::{run_cargo, step};
use crate::tools::CHROMEDRIVER;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};

const TOKEN: &str = "wasm-test-token";
const ADMIN_TOKEN: &str = "wasm-test-admin-token";

/// The server, stopped when dropped.
struct TestServer {
    child: Child,
    url: String,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

fn start_server(page_origin: &str) -> Result<TestServer, String> {
    let root = workspace_root();
    let binary = root.join("target/debug/gold-box-server");
    let data_dir = root.join("target/wasm-test-data");
    let mut child = Command::new(&binary)
        .args([
            "--port",
            "0",
            "--token",
            TOKEN,
            "--admin-token",
            ADMIN_TOKEN,
            "--foundry-origin",
            page_origin,
        ])
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("--module-dir")
        .arg(root.join("dist"))
        .env("GOLD_BOX_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let stdout = child.stdout.take().ok_or("the server has no stdout")?;
    let mut reader = BufReader::new(stdout);
    let mut first_line = String::new();
    reader
        .read_line(&mut first_line)
        .map_err(|e| format!("cannot read the server's first line: {e}"))?;
    // Keep reading, so the server never writes into a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let address = first_line
        .split_whitespace()
        .last()
        .filter(|address| address.starts_with("127.0.0.1:"))
        .ok_or_else(|| format!("unexpected first line from the server: {first_line:?}"))?;
    Ok(TestServer {
        url: format!("http://{address}"),
        child,
    })
}

/// `wasm-pack test --headless --chrome` on the wasm core, against a real server. The
/// directory of `wasm_bindgen` goes first on PATH: wasm-pack takes a `wasm-bindgen` of the
/// crate's version found there, and its `wasm-bindgen-test-runner` beside it, instead of
/// installing its own.
pub fn run(wasm_pack: &Path, wasm_bindgen: &Path) -> Result<(), String> {
    run_cargo(&["build", "--package", "gold-box-server-bin"])?;
    let runner_port = free_port()?;
    let page_origin = format!("http://127.0.0.1:{runner_port}");
    let server = start_server(&page_origin)?;
    step(&format!(
        "the core's browser tests talk to the server at {}",
        server.url
    ));
    let mut path = vec![
        wasm_bindgen
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf(),
    ];
    path.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let path = std::env::join_paths(path).map_err(|e| format!("cannot build PATH: {e}"))?;
    let status = Command::new(wasm_pack)
        .args([
            "test",
            "--headless",
            "--chrome",
            "--chromedriver",
            CHROMEDRIVER,
            "module-wasm",
        ])
        .current_dir(workspace_root())
        .env("PATH", path)
        .env(
            "WASM_BINDGEN_TEST_ADDRESS",
            format!("127.0.0.1:{runner_port}"),
        )
        .env("GOLD_BOX_TEST_SERVER", &server.url)
        .env("GOLD_BOX_TEST_TOKEN", TOKEN)
        .env("GOLD_BOX_TEST_ADMIN_TOKEN", ADMIN_TOKEN)
        .status()
        .map_err(|e| format!("cannot start wasm-pack: {e}"))?;
    drop(server);
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "`wasm-pack test --headless --chrome module-wasm` failed ({status})"
        ))
    }
}
