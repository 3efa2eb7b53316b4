//! Installing what a fresh machine lacks: the wasm32 target, wasm-pack (which builds
//! its matching wasm-bindgen by itself), and Debian's Chromium with its driver for the
//! browser tests. Each step says what it does, and a
//! step that cannot be done says how to do it by hand.

use crate::process::{output, run, step};
use std::path::Path;

/// The wasm-pack version the project is built and tested with.
pub const WASM_PACK_VERSION: &str = "0.15.1";
const WASM_TARGET: &str = "wasm32-unknown-unknown";
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// What building the module needs.
pub fn ensure_build_tools() -> Result<(), String> {
    ensure_wasm_target()?;
    ensure_wasm_pack()
}

fn ensure_wasm_target() -> Result<(), String> {
    let installed = output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if installed.lines().any(|line| line.trim() == WASM_TARGET) {
        return Ok(());
    }
    step(&format!(
        "installing the Rust target {WASM_TARGET} (rustup)"
    ));
    run("rustup", &["target", "add", WASM_TARGET])
        .map_err(|e| format!("{e}\n  install it by hand: rustup target add {WASM_TARGET}"))
}

fn ensure_wasm_pack() -> Result<(), String> {
    let version = output("wasm-pack", &["--version"]).unwrap_or_default();
    if version == format!("wasm-pack {WASM_PACK_VERSION}") {
        return Ok(());
    }
    step(&format!(
        "installing wasm-pack {WASM_PACK_VERSION} (cargo install; a few minutes, once). \
         Its first build then compiles the matching wasm-bindgen from crates.io (a few minutes, once)"
    ));
    run(
        "cargo",
        &["install", "wasm-pack", "--version", WASM_PACK_VERSION, "--locked"],
    )
    .map_err(|e| format!("{e}\n  install it by hand: cargo install wasm-pack --version {WASM_PACK_VERSION} --locked"))
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
    run(program, &update)?;
    let mut install = prefix;
    install.extend(["install", "-y", "-q"]);
    install.extend(packages);
    run(program, &install)
}
