//! `AppState`: everything the handlers share, small and in one place.

use crate::ai::AiEngine;
use crate::ai_lock::AiLock;
use crate::clients::Clients;
use crate::config::Config;
use crate::kept_turns::KeptTurns;
use crate::metrics::Metrics;
use crate::module_package::ModulePackage;
use crate::rolls::RollRegistry;
use crate::secrets::Secrets;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The server's shared state. Handlers get it as `State<Arc<AppState>>`.
#[derive(Debug)]
pub struct AppState {
    pub config: Config,
    /// The AI provider and the turn's limits.
    pub engine: AiEngine,
    pub secrets: Secrets,
    /// Origins allowed to open `/ws` and to call `/api/*` from a browser.
    pub allowed_origins: Vec<String>,
    /// `Host` header values this server answers to.
    pub allowed_hosts: Vec<String>,
    /// The URL the server hands out in the manifest.
    pub public_url: String,
    /// The module to serve at `/module.json` and `/module.zip`, when it was built.
    pub module: Option<ModulePackage>,
    pub clients: Clients,
    /// Finished turns' conversations, for regenerating a narration under review.
    pub kept_turns: KeptTurns,
    /// One AI turn at a time, server-wide.
    pub ai: Arc<AiLock>,
    /// Pending roll requests and their tombstones.
    pub rolls: Arc<RollRegistry>,
    pub metrics: Metrics,
    /// Each client's latest AI turn, for `connected.turn`.
    pub turn_fates: crate::turn_fates::TurnFates,
    /// Tokens spent this session, their prices and the budget.
    pub usage: crate::usage::UsageMeter,
    /// A random id of this server start (`connected.instance`, and the roll ids' prefix),
    /// so that ids from before a restart never name a request of this one.
    pub instance: String,
    /// Flips to `true` when the server starts shutting down.
    pub shutdown: watch::Receiver<bool>,
    /// Every running AI turn, so that a stop waits for each to report its end.
    pub turn_tasks: TaskTracker,
    /// Every connection task, so that a stop waits for each socket to be closed
    /// (axum's graceful shutdown does not wait for upgraded WebSockets).
    pub connection_tasks: TaskTracker,
    /// Cancelled once the turns have reported their end at a stop: every connection
    /// then writes what it has queued and closes with 1001.
    pub closing_connections: CancellationToken,
    next_connection_id: AtomicU64,
}

impl AppState {
    pub fn new(
        config: Config,
        engine: AiEngine,
        secrets: Secrets,
        allowed_hosts: Vec<String>,
        public_url: String,
        module: Option<ModulePackage>,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let instance = instance_id();
        AppState {
            allowed_origins: config.allowed_origins(),
            secrets,
            allowed_hosts,
            public_url,
            module,
            clients: Clients::new(config.client_limits()),
            kept_turns: KeptTurns::new(
                config.regenerate_keep_turns,
                std::time::Duration::from_millis(config.regenerate_keep_ms),
            ),
            ai: Arc::default(),
            rolls: Arc::new(RollRegistry::new(
                config.roll_tombstone_ttl(),
                config.max_roll_tombstones,
                &instance,
            )),
            metrics: Metrics::new(),
            turn_fates: Default::default(),
            usage: crate::usage::UsageMeter::new(
                config.usage.clone(),
                engine.provider_name(),
                engine.model_name(),
            ),
            shutdown,
            turn_tasks: TaskTracker::new(),
            connection_tasks: TaskTracker::new(),
            closing_connections: CancellationToken::new(),
            instance,
            config,
            engine,
            next_connection_id: AtomicU64::new(1),
        }
    }

    /// A connection id never used before in this process.
    pub fn next_connection_id(&self) -> u64 {
        self.next_connection_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Whether an AI turn is running.
    pub fn ai_busy(&self) -> bool {
        self.ai.is_busy()
    }

    /// Whether a browser origin is on the allow-list.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        let origin = origin.trim_end_matches('/');
        self.allowed_origins
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(origin))
    }
}

/// Eight hex digits from the OS's randomness (from the clock, should that fail).
fn instance_id() -> String {
    let mut bytes = [0u8; 4];
    if getrandom::fill(&mut bytes).is_err() {
        bytes = crate::now_ms().to_le_bytes()[..4]
            .try_into()
            .unwrap_or_default();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
