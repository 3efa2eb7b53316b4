//! The Gold Box companion server.
//!
//! It speaks the protocol of `docs/PROTOCOL.md` to the Foundry module over `/ws` and a
//! few HTTP endpoints, runs the AI's turns, and hands out the packaged module so a GM
//! can install it by manifest URL. [`spawn`] starts it on a real port (port 0 in tests);
//! The `gold-box-server` binary (`server/bin/`, a package of its own) adds the command
//! line, logging, signal handling and the memory allocator.

pub mod ai;
pub mod ai_lock;
pub mod cancel;
pub mod clients;
pub mod config;
pub mod http;
pub mod kept_turns;
pub mod link;
pub mod metrics;
pub mod module_package;
pub mod rolls;
pub mod secrets;
pub mod state;
pub mod turn_fates;
pub mod turns;
pub mod usage;
pub mod ws;

pub use config::Config;
pub use http::app;

use axum::serve::ListenerExt;
use module_package::ModulePackage;
use secrets::Secrets;
use state::AppState;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The service name reported by `/api/health` and `/api/metrics`.
pub const SERVICE_NAME: &str = "gold-box";
/// This server's version.
pub const SERVER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Milliseconds since the Unix epoch, for the informational `timestamp` of frames.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `start + after`, or a moment about thirty years on when that would overflow: a
/// deadline computed from any option or request field never panics.
pub fn deadline_after(
    start: tokio::time::Instant,
    after: std::time::Duration,
) -> tokio::time::Instant {
    const FAR_FUTURE: std::time::Duration = std::time::Duration::from_secs(86_400 * 365 * 30);
    start
        .checked_add(after)
        .unwrap_or_else(|| start + FAR_FUTURE)
}

/// A running server.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    public_url: String,
    secrets: Secrets,
    module_loaded: bool,
    state: Arc<AppState>,
    stop: watch::Sender<bool>,
    task: JoinHandle<io::Result<()>>,
}

impl ServerHandle {
    /// The address actually bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (the loopback URL of the bound port).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }

    /// The URL handed out in the manifest.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// The token a GM enters in the module's settings.
    pub fn token(&self) -> &str {
        self.secrets.client.expose()
    }

    /// Both tokens, with where each came from.
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// The token for `/metrics` and `/api/metrics`.
    pub fn admin_token(&self) -> &str {
        self.secrets.admin.expose()
    }

    /// Whether the packaged module was found and is served.
    pub fn module_loaded(&self) -> bool {
        self.module_loaded
    }

    /// Asks `client_id`'s browser to roll, through the same path as the AI's tool, and
    /// waits for the result or the deadline (for tests and load tests).
    pub async fn request_rolls(
        &self,
        client_id: &str,
        rolls: Vec<gold_box_protocol::RollRequest>,
        timeout: std::time::Duration,
    ) -> Result<Vec<gold_box_protocol::RollOutcome>, rolls::RollFailure> {
        turns::request_rolls(&self.state, client_id, rolls, timeout).await
    }

    /// Roll requests waiting for a result, and tombstones remembered.
    pub fn roll_registry_sizes(&self) -> (usize, usize) {
        (
            self.state.rolls.pending_count(),
            self.state.rolls.tombstone_count(),
        )
    }

    /// Client records held (live, with a running turn or kept output, or gone less than
    /// `--client-ttl-ms` ago).
    pub fn client_record_count(&self) -> usize {
        self.state.clients.record_count()
    }

    /// Runs the periodic clean-up now (kept output past its TTL, records of clients
    /// gone), as the housekeeping task does every few seconds.
    pub fn sweep_now(&self) -> (usize, usize) {
        self.state.clients.sweep()
    }

    /// Stops accepting, closes every socket with 1001 and waits for the server to end.
    pub async fn shutdown(self) -> io::Result<()> {
        let _ = self.stop.send(true);
        self.task.await.map_err(io::Error::other)?
    }

    /// Waits until the server ends by itself (it does not, unless it fails).
    pub async fn wait(self) -> io::Result<()> {
        self.task.await.map_err(io::Error::other)?
    }

    /// A signal that stops the server when sent `true`, for `main`'s signal handler.
    pub fn stopper(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }
}

/// Why the server could not start.
#[derive(Debug)]
pub enum StartError {
    Secrets(secrets::SecretsError),
    Ai(String),
    Bind { addr: SocketAddr, source: io::Error },
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Secrets(e) => write!(f, "cannot load the tokens: {e}"),
            StartError::Ai(e) => write!(f, "cannot set up the AI: {e}"),
            StartError::Bind { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
        }
    }
}

impl std::error::Error for StartError {}

/// Loads the secrets and the module, binds the port and starts serving.
pub async fn spawn(config: Config) -> Result<ServerHandle, StartError> {
    let secrets = Secrets::load(
        &config.data_dir,
        config.token.as_deref(),
        config.admin_token.as_deref(),
    )
    .map_err(StartError::Secrets)?;
    let engine = ai::AiEngine::from_config(&config.ai).map_err(StartError::Ai)?;
    config.usage.validate().map_err(StartError::Ai)?;

    let addr = SocketAddr::new(config.host, config.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| StartError::Bind { addr, source })?;

    let public_url = match &config.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None if bound.ip().is_unspecified() => format!("http://127.0.0.1:{}", bound.port()),
        None => format!("http://{bound}"),
    };
    let allowed_hosts = http::host_check::allowed_hosts(bound, &public_url);

    let module = match ModulePackage::load(&config.module_dir, &public_url) {
        Ok(package) => Some(package),
        Err(error) => {
            tracing::warn!(%error, "the module is not packaged; /module.json and /module.zip answer 404");
            None
        }
    };
    let module_loaded = module.is_some();

    let (stop, stopped) = watch::channel(false);
    let state = Arc::new(AppState::new(
        config,
        engine,
        secrets.clone(),
        allowed_hosts,
        public_url.clone(),
        module,
        stopped.clone(),
    ));
    let task = tokio::spawn(run(listener, state.clone(), stopped));
    tracing::info!(%bound, %public_url, "listening");
    Ok(ServerHandle {
        addr: bound,
        public_url,
        secrets,
        module_loaded,
        state,
        stop,
        task,
    })
}

/// Serves `state`'s application on `listener` until `stopped` turns true, then stops
/// cleanly: every waiting roll fails with "the server is shutting down", every running
/// turn reports its end to its client, every socket writes what it has queued and closes
/// with 1001, all within `--shutdown-grace-ms` (twice: turns, then sockets).
pub async fn run(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    stopped: watch::Receiver<bool>,
) -> io::Result<()> {
    tokio::spawn(housekeeping(state.clone(), stopped.clone()));
    let router = app(state.clone());
    // Without TCP_NODELAY, a frame written right after another (a roll_ack, then the
    // next execute_roll) waits ~40 ms for the peer's delayed ACK.
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
    });
    let mut stop = stopped.clone();
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|stop| *stop).await;
        })
        .await;
    stop_cleanly(&state).await;
    served
}

/// The second half of a stop, after the listener closed (see [`run`]). Waiting rolls
/// were already failed by the housekeeping task at the stop signal (before axum's
/// graceful shutdown, which waits for HTTP requests that may wait on a roll).
async fn stop_cleanly(state: &AppState) {
    let grace = state.config.shutdown_grace();
    state.turn_tasks.close();
    if tokio::time::timeout(grace, state.turn_tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            turns = state.turn_tasks.len(),
            "turns still running at the end of the grace time"
        );
    }
    state.closing_connections.cancel();
    state.connection_tasks.close();
    if tokio::time::timeout(grace, state.connection_tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            connections = state.connection_tasks.len(),
            "connections still open at the end of the grace time"
        );
    }
    tracing::info!("stopped");
}

/// How often expired tombstones, stale kept output and records of clients that have
/// gone are swept away.
const HOUSEKEEPING_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

/// Periodic clean-up until the server stops.
async fn housekeeping(state: Arc<AppState>, mut stopped: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(HOUSEKEEPING_INTERVAL);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                state.rolls.tombstone_count();
                let (dropped, evicted) = state.clients.sweep();
                if dropped > 0 || evicted > 0 {
                    tracing::debug!(dropped, evicted, "swept kept output and client records");
                }
            }
            _ = stopped.wait_for(|stop| *stop) => {
                // Waiting rolls fail at once, so the turns waiting on them end and report.
                state.rolls.fail_all(rolls::RollFailure::ShuttingDown);
                return;
            }
        }
    }
}
