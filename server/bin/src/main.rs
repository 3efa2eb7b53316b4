//! The `gold-box-server` binary: command line, logging, start, and a clean stop on
//! SIGINT or SIGTERM.

use clap::Parser;
use gold_box_server::secrets::TokenSource;
use gold_box_server::{Config, spawn};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

/// jemalloc (the default feature), with its options compiled in from
/// `JEMALLOC_SYS_WITH_MALLOC_CONF` in .cargo/config.toml: its background thread hands freed
/// memory back to the system within seconds even while the server sits idle, and with no
/// per-thread caches and 16 KB slabs for the 1 to 8 KB classes neither idle threads nor
/// its own metadata keep the memory of clients that have gone, or of a burst of requests;
/// the reason is beside the feature in Cargo.toml, the figures in docs/BENCHMARKS.md
/// ("Memory after repeated floods").
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// mimalloc, for the benchmark's comparison (`--no-default-features --features mimalloc`).
#[cfg(all(feature = "mimalloc", not(feature = "jemalloc")))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The allocator this binary was built with (logged at `debug`).
const ALLOCATOR_NAME: &str = if cfg!(feature = "jemalloc") {
    "jemalloc"
} else if cfg!(feature = "mimalloc") {
    "mimalloc"
} else {
    "system malloc"
};

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    // `Targets` rather than `EnvFilter`: the same `level` and `target=level` directives,
    // without span and field filters, which were never documented here and which brought
    // the regex engines into the build (about 20 s of a newcomer's first build).
    let filter: Targets = config.log.parse().unwrap_or_else(|e| {
        eprintln!(
            "gold-box-server: bad --log filter `{}`: {e}; using `info`",
            config.log
        );
        Targets::new().with_default(tracing::Level::INFO)
    });
    // Logs go to stderr, so stdout carries only what the operator needs (URL, token).
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_target(false)
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal()),
        )
        .with(filter)
        .init();
    tracing::debug!("allocator: {ALLOCATOR_NAME}");

    // The handlers are installed before anything is printed: a stop that comes as soon as
    // the banner is out must still be a clean one, not the signal's default (exit at once).
    let stop_signal = match StopSignal::install() {
        Ok(signal) => signal,
        Err(error) => {
            eprintln!("gold-box-server: cannot listen for SIGINT/SIGTERM: {error}");
            return ExitCode::FAILURE;
        }
    };
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
        stop_signal.received().await;
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

/// SIGINT and SIGTERM, listened for from the moment it is installed.
struct StopSignal {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl StopSignal {
    #[cfg(unix)]
    fn install() -> std::io::Result<StopSignal> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(StopSignal {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    #[cfg(not(unix))]
    fn install() -> std::io::Result<StopSignal> {
        Ok(StopSignal {})
    }

    #[cfg(unix)]
    async fn received(mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }

    #[cfg(not(unix))]
    async fn received(self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// What the GM needs, on stdout. A token is printed only when this start generated it;
/// a kept or configured one is named by where it lives, so that restarts under a service
/// manager do not copy it into a log. A closed stdout (a supervisor that read the first
/// line and went away) must not stop the server, so write errors are ignored.
fn print_connection_details(server: &gold_box_server::ServerHandle) {
    let url = server.public_url();
    let manifest = if server.module_loaded() {
        format!("{url}/module.json")
    } else {
        "(module not packaged: run `cargo xtask package`)".to_owned()
    };
    let secrets = server.secrets();
    let text = format!(
        "Gold Box server {} listening on {}\nManifest URL: {manifest}\nServer URL:   {url}\nToken:        {}\nAdmin token:  {}\n",
        gold_box_server::SERVER_VERSION,
        server.addr(),
        shown(
            &secrets.client_source,
            secrets.client.expose(),
            "--token / GOLD_BOX_TOKEN"
        ),
        shown(
            &secrets.admin_source,
            secrets.admin.expose(),
            "--admin-token / GOLD_BOX_ADMIN_TOKEN"
        ),
    );
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

fn shown(source: &TokenSource, token: &str, option: &str) -> String {
    match source {
        TokenSource::Generated(_) => token.to_owned(),
        TokenSource::Kept(path) => format!("kept in {}", path.display()),
        TokenSource::Configured => format!("as configured ({option})"),
    }
}
