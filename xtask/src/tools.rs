//! Installing what a fresh machine lacks: the wasm32 target (rustup), `wasm-opt` from the
//! npm package `binaryen` (npm), and, for the tests only, `wasm-bindgen-cli` at exactly the
//! version of the `wasm-bindgen` crate in Cargo.lock (cargo install; its
//! `wasm-bindgen-test-runner`), `wasm-pack` (cargo install) and Debian's Chromium with its
//! driver. Packaging generates the JS glue with the workspace's own `xtask-bindgen`
//! (wasm-bindgen's library), built here by [`build_bindgen`]. The tools go into a folder of
//! their own, one subfolder per tool and version (see [`tools_dir`]), so that nothing
//! global is changed and worktrees share them. Each step says what it does, and a step
//! that cannot be done says how to do it by hand.

use crate::package::workspace_root;
use crate::process::{Out, output, run_cmd, step};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The wasm-pack version the browser tests of the core run with (`wasm-pack test`).
pub const WASM_PACK_VERSION: &str = "0.15.1";
/// The npm package `binaryen` whose `wasm-opt` shrinks the release .wasm. It is binaryen
/// compiled to WebAssembly and run by node, so it installs from the npm registry alone.
pub const BINARYEN_VERSION: &str = "132.0.0";
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Where the installed tools live: `$GOLD_BOX_TOOLS_DIR`, else
/// `$XDG_CACHE_HOME/gold-box/tools`, else `~/.cache/gold-box/tools`, else `target/tools`.
pub fn tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("GOLD_BOX_TOOLS_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    match cache_home() {
        Some(cache) => cache.join("gold-box/tools"),
        None => workspace_root().join("target/tools"),
    }
}

/// `$XDG_CACHE_HOME`, else `~/.cache`.
fn cache_home() -> Option<PathBuf> {
    dir_from_env_or_home("XDG_CACHE_HOME", ".cache")
}

/// The folder a non-empty environment variable names, else `~/<in_home>`.
pub fn dir_from_env_or_home(variable: &str, in_home: &str) -> Option<PathBuf> {
    std::env::var_os(variable)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|d| !d.is_empty())
                .map(|home| PathBuf::from(home).join(in_home))
        })
}

/// The cargo profile of the build tools xtask compiles itself (the workspace Cargo.toml).
const BUILD_TOOLS_PROFILE: &str = "build-tools";

/// Builds `xtask-bindgen` (wasm-bindgen's JS glue generation, at the `wasm-bindgen`
/// crate's version through the lock file) and returns its path. A few seconds once built;
/// on a first run about 45 s of CPU, beside the other builds.
pub fn build_bindgen(out: &Out) -> Result<PathBuf, String> {
    out.step(&format!(
        "building xtask-bindgen, wasm-bindgen's JS glue generation (cargo build --profile {BUILD_TOOLS_PROFILE})"
    ));
    run_cmd(
        Command::new(crate::process::cargo()).args([
            "build",
            "--package",
            "xtask-bindgen",
            "--profile",
            BUILD_TOOLS_PROFILE,
        ]),
        out,
    )?;
    Ok(workspace_root()
        .join("target")
        .join(BUILD_TOOLS_PROFILE)
        .join("xtask-bindgen"))
}

/// The version of the `wasm-bindgen` crate the workspace is locked to; the CLI that
/// processes the .wasm must be exactly this one.
pub fn wasm_bindgen_version() -> Result<String, String> {
    let lock = fs::read_to_string(workspace_root().join("Cargo.lock"))
        .map_err(|e| format!("cannot read Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"wasm-bindgen\"" {
            let version = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = \""))
                .and_then(|v| v.strip_suffix('"'));
            if let Some(version) = version {
                return Ok(version.to_owned());
            }
        }
    }
    Err("Cargo.lock has no `wasm-bindgen` package".into())
}

pub fn ensure_wasm_target(out: &Out) -> Result<(), String> {
    let installed = output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if installed.lines().any(|line| line.trim() == WASM_TARGET) {
        return Ok(());
    }
    out.step(&format!(
        "installing the Rust target {WASM_TARGET} (rustup)"
    ));
    run_cmd(
        Command::new("rustup").args(["target", "add", WASM_TARGET]),
        out,
    )
    .map_err(|e| format!("{e}\n  install it by hand: rustup target add {WASM_TARGET}"))
}

/// `wasm-bindgen` (with `wasm-bindgen-test-runner` beside it) at the locked version, for
/// the browser tests (`wasm-pack test` takes both from here): ours if installed, else one on PATH or in wasm-pack's cache of that very version, else
/// installed now.
pub fn ensure_wasm_bindgen(out: &Out) -> Result<PathBuf, String> {
    let version = wasm_bindgen_version()?;
    let root = tools_dir().join(format!("wasm-bindgen-{version}"));
    let ours = root.join("bin/wasm-bindgen");
    let wanted = format!("wasm-bindgen {version}");
    if reports_version(&ours, &wanted) {
        return Ok(ours);
    }
    let wasm_pack_cache = cache_home().map(|cache| {
        cache
            .join(".wasm-pack")
            .join(format!("wasm-bindgen-cargo-install-{version}/wasm-bindgen"))
    });
    let elsewhere = find_on_path("wasm-bindgen")
        .into_iter()
        .chain(wasm_pack_cache)
        .find(|p| {
            reports_version(p, &wanted) && p.with_file_name("wasm-bindgen-test-runner").is_file()
        });
    if let Some(found) = elsewhere {
        return Ok(found);
    }
    out.step(&format!(
        "installing wasm-bindgen-cli {version}, the version of the wasm-bindgen crate \
         (cargo install into {}; a few minutes, once)",
        root.display()
    ));
    // Without the default `rustls-tls` feature: the test runner only speaks plain HTTP to
    // a local WebDriver, and rustls with ring is a good part of the install's build.
    cargo_install(
        "wasm-bindgen-cli",
        &version,
        &["--no-default-features"],
        &root,
        out,
    )?;
    if reports_version(&ours, &wanted) {
        Ok(ours)
    } else {
        Err(format!(
            "{} does not report `{wanted}` after the install",
            ours.display()
        ))
    }
}

/// `wasm-pack` for the core's browser tests (`wasm-pack test`); building the module does
/// not need it.
pub fn ensure_wasm_pack(out: &Out) -> Result<PathBuf, String> {
    let root = tools_dir().join(format!("wasm-pack-{WASM_PACK_VERSION}"));
    let ours = root.join("bin/wasm-pack");
    let wanted = format!("wasm-pack {WASM_PACK_VERSION}");
    if reports_version(&ours, &wanted) {
        return Ok(ours);
    }
    if let Some(on_path) = find_on_path("wasm-pack").filter(|p| reports_version(p, &wanted)) {
        return Ok(on_path);
    }
    out.step(&format!(
        "installing wasm-pack {WASM_PACK_VERSION} for the browser tests \
         (cargo install into {}; a few minutes, once)",
        root.display()
    ));
    cargo_install("wasm-pack", WASM_PACK_VERSION, &[], &root, out)?;
    if reports_version(&ours, &wanted) {
        Ok(ours)
    } else {
        Err(format!(
            "{} does not report `{wanted}` after the install",
            ours.display()
        ))
    }
}

/// `wasm-opt` from the npm package `binaryen`, or `None` (with a note saying why) when
/// npm is missing or the install fails: the module then ships without that step.
pub fn ensure_wasm_opt(out: &Out) -> Option<PathBuf> {
    let root = tools_dir().join(format!("binaryen-{BINARYEN_VERSION}"));
    let ours = root.join("node_modules/.bin/wasm-opt");
    let major = BINARYEN_VERSION.split('.').next().unwrap_or_default();
    let wanted = format!("wasm-opt version {major}");
    let matches = |path: &Path| {
        output(&path.display().to_string(), &["--version"])
            .is_some_and(|text| text.starts_with(&wanted))
    };
    if matches(&ours) {
        return Some(ours);
    }
    if output("npm", &["--version"]).is_none() || output("node", &["--version"]).is_none() {
        println!(
            "xtask: note: node and npm are needed for wasm-opt (npm package binaryen \
             {BINARYEN_VERSION}); packaging the .wasm without it (about 3 times larger)"
        );
        return None;
    }
    out.step(&format!(
        "installing wasm-opt (npm package binaryen {BINARYEN_VERSION} into {})",
        root.display()
    ));
    let installed = fs::create_dir_all(&root)
        .map_err(|e| format!("cannot create {}: {e}", root.display()))
        .and_then(|()| {
            run_cmd(
                Command::new("npm").args([
                    "install",
                    "--prefix",
                    &root.display().to_string(),
                    "--no-save",
                    "--no-audit",
                    "--no-fund",
                    "--no-package-lock",
                    &format!("binaryen@{BINARYEN_VERSION}"),
                ]),
                out,
            )
        });
    match installed {
        Ok(()) if matches(&ours) => Some(ours),
        Ok(()) => {
            println!(
                "xtask: note: {} does not report `{wanted}`; packaging the .wasm without wasm-opt",
                ours.display()
            );
            None
        }
        Err(error) => {
            println!(
                "xtask: note: {error}; packaging the .wasm without wasm-opt \
                 (by hand: npm install --prefix {} binaryen@{BINARYEN_VERSION})",
                root.display()
            );
            None
        }
    }
}

/// `cargo install CRATE --version VERSION --root ROOT`, with `--locked` first. A crate's
/// published lock file can name a dependency version the registry no longer serves (a
/// yanked or withdrawn release); then the install resolves afresh, at the same version
/// of the tool. The tools are built at `opt-level = 0`: they process one small .wasm
/// (wasm-bindgen takes 0.6 s on the core instead of 0.15 s, byte for byte the same
/// output), and their first build is what a newcomer waits for (wasm-bindgen-cli: 130 s of
/// CPU instead of 297 s at `opt-level = 1`, docs/BENCHMARKS.md).
fn cargo_install(
    krate: &str,
    version: &str,
    extra: &[&str],
    root: &Path,
    out: &Out,
) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let root_arg = root.display().to_string();
    let args = ["install", krate, "--version", version, "--root", &root_arg];
    let install = || {
        let mut command = Command::new(&cargo);
        command
            .args(args)
            .args(extra)
            .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0");
        command
    };
    if run_cmd(install().arg("--locked"), out).is_ok() {
        return Ok(());
    }
    out.note(&format!(
        "`cargo install {krate} --locked` failed; installing {krate} {version} with \
         dependencies resolved afresh"
    ));
    run_cmd(&mut install(), out).map_err(|e| {
        format!(
            "{e}\n  install it by hand: cargo install {krate} --version {version} --root {root_arg}"
        )
    })
}

fn reports_version(path: &Path, wanted: &str) -> bool {
    path.is_file()
        && output(&path.display().to_string(), &["--version"])
            .is_some_and(|text| text.lines().next().unwrap_or_default().trim() == wanted)
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// What the browser tests need: Debian's Chromium and its WebDriver.
pub fn ensure_browser() -> Result<(), String> {
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        return Ok(());
    }
    step("installing Chromium and ChromeDriver (Debian packages chromium, chromium-driver)");
    apt_install(&["chromium", "chromium-driver"]).map_err(|e| {
        format!("{e}\n  install them by hand: apt-get install chromium chromium-driver")
    })?;
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        Ok(())
    } else {
        Err(format!(
            "{CHROMIUM} or {CHROMEDRIVER} is still missing after the install"
        ))
    }
}

fn apt_install(packages: &[&str]) -> Result<(), String> {
    if output("apt-get", &["--version"]).is_none() {
        return Err("apt-get is not available on this machine".into());
    }
    let is_root = output("id", &["-u"]).as_deref() == Some("0");
    let (program, prefix): (&str, Vec<&str>) = if is_root {
        ("apt-get", vec![])
    } else if output("sudo", &["-n", "true"]).is_some() {
        ("sudo", vec!["-n", "apt-get"])
    } else {
        return Err("installing packages needs root (or password-less sudo)".into());
    };
    let mut update = prefix.clone();
    update.extend(["update", "-q"]);
    run_cmd(Command::new(program).args(&update), &Out::Terminal)?;
    let mut install = prefix;
    install.extend(["install", "-y", "-q"]);
    install.extend(packages);
    run_cmd(Command::new(program).args(&install), &Out::Terminal)
}
