//! `xtask-bindgen INPUT.wasm OUT_DIR OUT_NAME`: what `wasm-bindgen --target web
//! --no-typescript --remove-name-section --remove-producers-section` does, through
//! wasm-bindgen's own library (wasm-bindgen-cli-support) at the version of the
//! `wasm-bindgen` crate (both pinned in the workspace's Cargo.toml).
//!
//! Why not the CLI: packaging needs only this one step, and `cargo install
//! wasm-bindgen-cli` also builds its test runner's web server, HTTP client, compression
//! and logging: 150 crates against 43 here, 108 s of CPU against 47 s (both at opt-level
//! 0, measured side by side), on the critical path of a newcomer's first `cargo xtask run`
//! (docs/BENCHMARKS.md, "The first run").
//!
//! The test command still installs the CLI, for `wasm-bindgen-test-runner`. Built at
//! opt-level 0 (the workspace's `build-tools` profile): it processes one small .wasm in
//! under a second either way. The output is byte for byte the CLI's with the same flags:
//! every option below is set as the CLI sets it (`omit_default_module_path` and
//! `reference_types` differ between the library's defaults and the CLI's).

use std::path::PathBuf;
use std::process::ExitCode;
use wasm_bindgen_cli_support::Bindgen;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, out_dir, out_name] = args.as_slice() else {
        eprintln!("usage: xtask-bindgen INPUT.wasm OUT_DIR OUT_NAME");
        return ExitCode::FAILURE;
    };
    match generate(PathBuf::from(input), PathBuf::from(out_dir), out_name) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask-bindgen: error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn generate(input: PathBuf, out_dir: PathBuf, out_name: &str) -> Result<(), String> {
    let mut bindgen = Bindgen::new();
    bindgen.web(true).map_err(|e| format!("{e:#}"))?;
    #[allow(deprecated)] // Set as the CLI sets it (false unless asked for).
    bindgen.reference_types(false);
    bindgen
        .input_path(&input)
        .out_name(out_name)
        .typescript(false)
        .demangle(true)
        .remove_name_section(true)
        .remove_producers_section(true)
        .omit_default_module_path(false)
        .generate(&out_dir)
        .map_err(|e| format!("{} -> {}: {e:#}", input.display(), out_dir.display()))
}
