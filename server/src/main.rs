//! The `gold-box-server` binary: command line, logging, start, and a clean stop on
//! SIGINT or SIGTERM.

use clap::Parser;
use gold_box_server::{Config, spawn};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    let filter = EnvFilter::try_new(&config.log).unwrap_or_else(|e| {
        eprintln!(
            "gold-box-server: bad --log filter `{}`: {e}; using `info`",
            config.log
        );
        EnvFilter::new("info")
    });
    // Logs go to stderr, so stdout carries only what the operator needs (URL, token).
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let server = match spawn(config).await {
        Ok(server) => server,
        Err(error) => {
            eprintln!("gold-box-server: {error}");
            return ExitCode::FAILURE;
        }
    };
    print_connection_details(&server);

    let stopper = server.stopper();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        let _ = stopper.send(true);
    });
    match server.wait().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("gold-box-server: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// What the GM needs, on stdout. A closed stdout (a supervisor that read the first line
/// and went away) must not stop the server, so write errors are ignored.
fn print_connection_details(server: &gold_box_server::ServerHandle) {
    let url = server.public_url();
    let manifest = if server.module_loaded() {
        format!("{url}/module.json")
    } else {
        "(module not packaged: run `cargo xtask package`)".to_owned()
    };
    let text = format!(
        "Gold Box server {} listening on {}\nManifest URL: {manifest}\nServer URL:   {url}\nToken:        {}\nAdmin token:  {}\n",
        gold_box_server::SERVER_VERSION,
        server.addr(),
        server.token(),
        server.admin_token()
    );
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}
