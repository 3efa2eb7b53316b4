//! `cargo xtask bench`: release builds of the server (with the `load-testing` feature) and
//! of the benchmark binary, the packaged module, then one run of `gold-box-bench`, which
//! prints the figures and writes `docs/BENCHMARKS.md`. The measuring code is in `bench/`.

use crate::package::{self, workspace_root};
use crate::process::{run, run_cargo, step};
use crate::tools;
use std::fs;
use std::path::PathBuf;

/// Where the server binary under test is kept for the run: a copy, so that another
/// `cargo build --release -p gold-box-server` (without the feature) cannot replace it
/// mid-run.
const SERVER_COPY: &str = "target/bench/gold-box-server";

/// The heading of the section at the end of `docs/BENCHMARKS.md` that is measured by hand
/// (a first run on an empty machine, the .wasm's size by build step): `gold-box-bench`
/// does not write it, so it is carried over from the previous report.
const KEPT_SECTION: &str = "## Build: the first run and the .wasm's size by step";

/// Builds everything and runs the benchmarks; `extra` goes to the benchmark binary
/// (`--quick` for a short trial that does not write the report).
pub fn bench(extra: &[String]) -> Result<(), String> {
    let wasm_tools = package::ensure_tools()?;
    tools::ensure_browser()?;
    let dist = package::package(&wasm_tools)?;
    let wasm = dist.join("gold-box/wasm/gold_box_wasm_bg.wasm");
    let (raw, gzipped) = package::wasm_sizes(&wasm)?;

    let root = workspace_root();
    step("building the server for release with the load-testing endpoint");
    run_cargo(&[
        "build",
        "--release",
        "-p",
        "gold-box-server",
        "--features",
        "load-testing",
    ])?;
    let server = root.join(SERVER_COPY);
    copy_binary(&root.join("target/release/gold-box-server"), &server)?;
    step("building the benchmarks for release");
    run_cargo(&["build", "--release", "-p", "gold-box-bench"])?;

    step("running the benchmarks (a few minutes; every load is bounded and stops by itself)");
    let bench = root.join("target/release/gold-box-bench");
    let mut args: Vec<String> = vec![
        "--server".into(),
        server.display().to_string(),
        "--module-dir".into(),
        dist.display().to_string(),
        "--wasm-raw".into(),
        raw.to_string(),
        "--wasm-gzipped".into(),
        gzipped.to_string(),
        "--report".into(),
        root.join("docs/BENCHMARKS.md").display().to_string(),
        "--command".into(),
        "cargo xtask bench".into(),
    ];
    args.extend(extra.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let report = root.join("docs/BENCHMARKS.md");
    let kept = fs::read_to_string(&report)
        .ok()
        .and_then(|text| text.find(KEPT_SECTION).map(|at| text[at..].to_owned()));
    run(&bench.display().to_string(), &args)?;
    if let Some(kept) = kept {
        let text = fs::read_to_string(&report).unwrap_or_default();
        if !text.contains(KEPT_SECTION) {
            fs::write(&report, format!("{}\n\n{kept}", text.trim_end()))
                .map_err(|e| format!("cannot write {}: {e}", report.display()))?;
        }
    }
    Ok(())
}

fn copy_binary(from: &PathBuf, to: &PathBuf) -> Result<(), String> {
    if let Some(dir) = to.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))
}
