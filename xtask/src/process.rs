//! Running commands: announced before they run, with a clear error when they fail; and
//! running several build steps side by side, each with its output in a log file.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Prints what the xtask is about to do.
pub fn step(message: &str) {
    println!("\n==> {message}");
}

/// Where a command's output goes: the terminal, or a log file (a step running beside
/// others).
#[derive(Debug, Clone)]
pub enum Out {
    Terminal,
    Log(PathBuf),
}

impl Out {
    /// Announces a step, on the terminal or in the log.
    pub fn step(&self, message: &str) {
        match self {
            Out::Terminal => step(message),
            Out::Log(log) => append(log, &format!("\n==> {message}\n")),
        }
    }

    /// A remark that does not stop the step.
    pub fn note(&self, message: &str) {
        match self {
            Out::Terminal => println!("xtask: note: {message}"),
            Out::Log(log) => append(log, &format!("xtask: note: {message}\n")),
        }
    }
}

fn append(log: &Path, text: &str) {
    if let Ok(mut file) = OpenOptions::new().create(true).append(true).open(log) {
        let _ = file.write_all(text.as_bytes());
    }
}

/// Runs a command in the workspace root, its output to `out`; fails with the command
/// line (and, for a log, its last lines).
pub fn run_cmd(command: &mut Command, out: &Out) -> Result<(), String> {
    let line = format!(
        "{} {}",
        command.get_program().to_string_lossy(),
        command
            .get_args()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    command.current_dir(crate::package::workspace_root());
    if let Out::Log(log) = out {
        append(log, &format!("$ {line}\n"));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
        let copy = file.try_clone().map_err(|e| e.to_string())?;
        command.stdout(Stdio::from(file)).stderr(Stdio::from(copy));
    }
    let status = command
        .status()
        .map_err(|e| format!("cannot start `{line}`: {e}"))?;
    if status.success() {
        return Ok(());
    }
    let mut message = format!("`{line}` failed ({status})");
    if let Out::Log(log) = out {
        let text = fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = &lines[lines.len().saturating_sub(25)..];
        message.push_str(&format!(
            "; the end of {}:\n{}",
            log.display(),
            tail.join("\n")
        ));
    }
    Err(message)
}

/// Runs `program args`, inheriting the terminal; fails with the command line.
pub fn run(program: &str, args: &[&str]) -> Result<(), String> {
    run_cmd(Command::new(program).args(args), &Out::Terminal)
}

/// The cargo that runs this xtask.
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// Runs the cargo that runs this xtask.
pub fn run_cargo(args: &[&str]) -> Result<(), String> {
    run(&cargo(), args)
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

/// What a build step does, given where its output goes.
pub type Work<'a> = Box<dyn FnOnce(&Out) -> Result<(), String> + Send + 'a>;

/// One build step of [`run_jobs`].
pub struct Job<'a> {
    /// What it does, e.g. "building the server"; also names its log file.
    pub what: &'static str,
    pub log: &'static str,
    pub work: Work<'a>,
}

/// Runs the steps side by side (or one after another when `XTASK_SERIAL` is set), each
/// with its output in `target/xtask/<log>.log`; prints each one's time as it ends and
/// fails with the first error once all have ended.
pub fn run_jobs(jobs: Vec<Job<'_>>) -> Result<(), String> {
    let serial = std::env::var_os("XTASK_SERIAL").is_some_and(|v| !v.is_empty() && v != "0");
    let logs = crate::package::workspace_root().join("target/xtask");
    fs::create_dir_all(&logs).map_err(|e| format!("cannot create {}: {e}", logs.display()))?;
    step(&format!(
        "{} ({}; output in {}/):\n    {}",
        if serial {
            "one after another"
        } else {
            "side by side"
        },
        jobs.len(),
        logs.display(),
        jobs.iter()
            .map(|job| format!("{} ({}.log)", job.what, job.log))
            .collect::<Vec<_>>()
            .join("\n    ")
    ));
    let started = Instant::now();
    let run_one = |job: Job<'_>| -> Result<(), String> {
        let log = logs.join(format!("{}.log", job.log));
        File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let begun = Instant::now();
        let result = (job.work)(&Out::Log(log));
        println!(
            "xtask: {} {} after {:.0} s (at {:.0} s)",
            job.what,
            if result.is_ok() { "done" } else { "FAILED" },
            begun.elapsed().as_secs_f64(),
            started.elapsed().as_secs_f64()
        );
        result.map_err(|e| format!("{}: {e}", job.what))
    };
    let results: Vec<Result<(), String>> = if serial {
        jobs.into_iter().map(run_one).collect()
    } else {
        let run_one = &run_one;
        std::thread::scope(|scope| {
            let handles: Vec<_> = jobs
                .into_iter()
                .map(|job| scope.spawn(move || run_one(job)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err("a build step panicked".into()))
                })
                .collect()
        })
    };
    results.into_iter().collect()
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
