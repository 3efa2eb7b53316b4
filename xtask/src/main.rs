//! `cargo xtask`: the project's automation, in Rust so it runs wherever cargo does.
//!
//! - `cargo xtask run`: install what is missing, build and package the module, start
//!   the server with its defaults, and print the manifest URL and the token.
//! - `cargo xtask test`: install what is missing, then every test suite (format, lints,
//!   host tests, browser tests of the wasm core, end-to-end tests).
//! - `cargo xtask package`: build the module into `dist/gold-box/` and `dist/gold-box.zip`.
//! - `cargo xtask bench`: release builds, then the benchmarks; prints the figures and
//!   writes `docs/BENCHMARKS.md` (see `bench.rs` and the `bench/` crate).
//! - `cargo xtask setup`: only install what is missing.
//!
//! `run` builds side by side what does not depend on each other (the server, the wasm
//! core, xtask-bindgen, the install of wasm-opt), each with its output in
//! `target/xtask/`; with `XTASK_SERIAL=1` it builds them one after another.

mod bench;
mod minify;
mod package;
mod process;
mod tools;
mod wasm_tests;

use process::{Job, Out, run_cmd};
use std::process::{Command, ExitCode};
use std::sync::OnceLock;

const USAGE: &str = "\
usage: cargo xtask <command> [server options]

commands:
  run       install what is missing, package the module, start the server
            (options after `--` go to the server, e.g. `cargo xtask run -- --port 9000`)
  test      install what is missing, then run every test suite
  package   build the module into dist/gold-box/ and dist/gold-box.zip
  bench     release builds, then the benchmarks: prints the figures and writes
            docs/BENCHMARKS.md (`cargo xtask bench --quick` for a short trial)
  setup     install what is missing (wasm32 target, wasm-opt, wasm-bindgen-cli,
            wasm-pack, chromium) and build xtask-bindgen
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = match args.split_first() {
        Some((command, rest)) => (command.as_str(), rest),
        None => {
            eprint!("{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    let rest: Vec<String> = rest.iter().filter(|a| *a != "--").cloned().collect();
    let result = match command {
        "run" => run(&rest),
        "test" => test(),
        "package" => package::ensure_tools().and_then(|tools| package::package(&tools).map(|_| ())),
        "bench" => bench::bench(&rest),
        "setup" => setup(),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Builds everything and runs the server in the foreground until Ctrl-C.
fn run(server_args: &[String]) -> Result<(), String> {
    tools::ensure_wasm_target(&Out::Terminal)?;
    let bindgen = OnceLock::new();
    let wasm_opt = OnceLock::new();
    process::run_jobs(vec![
        Job {
            what: "building xtask-bindgen",
            log: "xtask-bindgen",
            work: Box::new(|out| {
                let path = tools::build_bindgen(out)?;
                let _ = bindgen.set(path);
                Ok(())
            }),
        },
        Job {
            what: "building the server (release)",
            log: "server",
            work: Box::new(|out| {
                out.step("building the server (release)");
                run_cmd(
                    Command::new(process::cargo()).args([
                        "build",
                        "--release",
                        "--package",
                        "gold-box-server-bin",
                    ]),
                    out,
                )
            }),
        },
        Job {
            what: "building the wasm core",
            log: "wasm-core",
            work: Box::new(package::build_wasm),
        },
        Job {
            what: "installing wasm-opt",
            log: "wasm-opt",
            work: Box::new(|out| {
                let _ = wasm_opt.set(tools::ensure_wasm_opt(out));
                Ok(())
            }),
        },
    ])?;
    let tools = package::WasmTools {
        bindgen: bindgen.into_inner().ok_or("xtask-bindgen was not built")?,
        wasm_opt: wasm_opt.into_inner().flatten(),
    };
    let dist = package::assemble(&tools)?;
    let binary = package::workspace_root().join("target/release/gold-box-server");
    process::step(
        "starting the server; it prints the manifest URL and the token (Ctrl-C stops it)",
    );
    show_kept_token(server_args);
    let mut args = vec!["--module-dir".to_owned(), dist.display().to_string()];
    args.extend(server_args.iter().cloned());
    process::run_in_foreground(&binary, &args)
}

/// The server prints a token only on the start that generates it (a kept one never lands
/// in a service's log); on the developer's own machine, `run` shows the kept one, so the
/// GM has it at hand every time.
fn show_kept_token(server_args: &[String]) {
    let overridden = server_args
        .iter()
        .any(|arg| arg.starts_with("--token") || arg.starts_with("--data-dir"));
    if overridden || std::env::var_os("GOLD_BOX_TOKEN").is_some() {
        return;
    }
    let data_dir = std::env::var_os("GOLD_BOX_DATA_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| package::workspace_root().join("gold-box-data"));
    if let Ok(token) = std::fs::read_to_string(data_dir.join("token")) {
        println!(
            "Token (kept in {}): {}",
            data_dir.join("token").display(),
            token.trim()
        );
    }
}

/// Installs everything the commands need.
fn setup() -> Result<(), String> {
    package::ensure_tools()?;
    tools::ensure_wasm_bindgen(&Out::Terminal)?;
    tools::ensure_wasm_pack(&Out::Terminal)?;
    tools::ensure_browser()
}

/// Every test suite, in the order that fails fastest.
fn test() -> Result<(), String> {
    let tools = package::ensure_tools()?;
    let wasm_bindgen = tools::ensure_wasm_bindgen(&Out::Terminal)?;
    let wasm_pack = tools::ensure_wasm_pack(&Out::Terminal)?;
    tools::ensure_browser()?;
    process::step("checking formatting (cargo fmt --check)");
    process::run_cargo(&["fmt", "--all", "--check"])?;
    process::step("linting (cargo clippy -D warnings)");
    process::run_cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    process::run_cargo(&[
        "clippy",
        "--package",
        "gold-box-wasm",
        "--target",
        "wasm32-unknown-unknown",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    package::package(&tools)?;
    package::check_bindgen_matches_cli(&tools, &wasm_bindgen)?;
    process::step("host tests and end-to-end tests (cargo test --workspace)");
    // xtask-bindgen has no tests; `run` and packaging build it in their own profile.
    process::run_cargo(&["test", "--workspace", "--exclude", "xtask-bindgen"])?;
    process::step("browser tests of the wasm core (wasm-pack test --headless --chrome)");
    wasm_tests::run(&wasm_pack, &wasm_bindgen)?;
    process::step("all test suites passed");
    Ok(())
}
