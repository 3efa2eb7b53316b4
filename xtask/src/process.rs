//! Running commands: announced before they run, with a clear error when they fail.

use std::path::Path;
use std::process::{Command, Stdio};

/// Prints what the xtask is about to do.
pub fn step(message: &str) {
    println!("\n==> {message}");
}

/// Runs `program args`, inheriting the terminal; fails with the command line.
pub fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let status = Command::new(program)
        .args(args)
        .current_dir(crate::package::workspace_root())
        .status()
        .map_err(|e| format!("cannot start `{program}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed ({status})", args.join(" ")))
    }
}

/// Runs the cargo that runs this xtask.
pub fn run_cargo(args: &[&str]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    run(&cargo, args)
}

/// The trimmed standard output of a command, or `None` if it cannot run or fails.
pub fn output(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Runs a long-lived program in the foreground and returns its exit as a result.
pub fn run_in_foreground(binary: &Path, args: &[String]) -> Result<(), String> {
    let status = Command::new(binary)
        .args(args)
        .current_dir(crate::package::workspace_root())
        .status()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    // Ctrl-C reaches the server too; a server stopped by a signal ended normally.
    if status.success() || status.code().is_none() {
        Ok(())
    } else {
        Err(format!("{} exited with {status}", binary.display()))
    }
}
