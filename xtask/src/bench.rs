//! `cargo xtask bench`: release builds of the server with the `load-testing` feature (one
//! per global allocator compared) and of the benchmark binary, the packaged module, then
//! one run of `gold-box-bench`, which prints the figures and writes `docs/BENCHMARKS.md`.
//! The measuring code is in `bench/`.
//!
//! These builds go to their own target directory, [`BUILD_DIR`], so the binary of
//! `cargo xtask run` or a plain `cargo build --release` (target/release/) is never one
//! with the load-testing endpoint.

use crate::package::{self, workspace_root};
use crate::process::{run, run_cargo, step};
use crate::tools;
use std::fs;
use std::path::PathBuf;

/// The benchmark's own target directory.
const BUILD_DIR: &str = "target/bench-build";

/// The builds of the server under test: the allocator's name, the cargo features, and
/// where the binary is kept for the run (a copy: each build replaces the one binary of
/// [`BUILD_DIR`]). The first is the default build (jemalloc, see server/Cargo.toml),
/// measured by every group; the others by the memory group only, beside it.
const SERVERS: [(&str, &[&str], &str); 3] = [
    (
        "jemalloc",
        &["--features", "load-testing"],
        "target/bench/gold-box-server",
    ),
    (
        "glibc",
        &["--no-default-features", "--features", "load-testing"],
        "target/bench/gold-box-server-glibc",
    ),
    (
        "mimalloc",
        &[
            "--no-default-features",
            "--features",
            "load-testing,mimalloc",
        ],
        "target/bench/gold-box-server-mimalloc",
    ),
];

/// The heading of the section at the end of `docs/BENCHMARKS.md` that is measured by hand
/// (a first run on an empty machine, the .wasm's size by build step): `gold-box-bench`
/// does not write it, so it is carried over from the previous report.
const KEPT_SECTION: &str = "## Build: the first run and the .wasm's size by step";

/// Builds everything and runs the benchmarks; `extra` goes to the benchmark binary
/// (`--quick` for a short trial that does not write the report, `--only memory` for the
/// memory group alone).
pub fn bench(extra: &[String]) -> Result<(), String> {
    let wasm_tools = package::ensure_tools()?;
    tools::ensure_browser()?;
    let dist = package::package(&wasm_tools)?;
    let wasm = dist.join("gold-box/wasm/gold_box_wasm_bg.wasm");
    let (raw, gzipped) = package::wasm_sizes(&wasm)?;

    let root = workspace_root();
    let mut servers = Vec::new();
    for (allocator, features, copy) in SERVERS {
        step(&format!(
            "building the server for release with the load-testing endpoint ({allocator})"
        ));
        let mut args = vec!["build", "--release", "-p", "gold-box-server-bin"];
        args.extend(features);
        args.extend(["--target-dir", BUILD_DIR]);
        run_cargo(&args)?;
        let server = root.join(copy);
        copy_binary(
            &root.join(BUILD_DIR).join("release/gold-box-server"),
            &server,
        )?;
        servers.push((allocator, server));
    }
    step("building the benchmarks for release");
    run_cargo(&[
        "build",
        "--release",
        "-p",
        "gold-box-bench",
        "--target-dir",
        BUILD_DIR,
    ])?;

    step("running the benchmarks (minutes; every load is bounded and stops by itself)");
    let bench = root.join(BUILD_DIR).join("release/gold-box-bench");
    let (default_allocator, default_server) = &servers[0];
    let mut args: Vec<String> = vec![
        "--server".into(),
        default_server.display().to_string(),
        "--allocator".into(),
        (*default_allocator).into(),
        "--module-dir".into(),
        dist.display().to_string(),
        "--wasm-raw".into(),
        raw.to_string(),
        "--wasm-gzipped".into(),
        gzipped.to_string(),
        "--report".into(),
        root.join("docs/BENCHMARKS.md").display().to_string(),
        "--command".into(),
        command_line(extra),
    ];
    for (allocator, server) in &servers[1..] {
        args.push("--compare".into());
        args.push(format!("{allocator}={}", server.display()));
    }
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

/// The command named in the report.
fn command_line(extra: &[String]) -> String {
    std::iter::once("cargo xtask bench".to_owned())
        .chain(extra.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn copy_binary(from: &PathBuf, to: &PathBuf) -> Result<(), String> {
    if let Some(dir) = to.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))
}
