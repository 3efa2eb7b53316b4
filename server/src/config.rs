//! The server's configuration: one clap definition that is the command line, the
//! environment variables and the documented defaults at once.
//!
//! Every limit the server enforces (sizes, times, counts) is a named option here, so
//! that the README's configuration table and `--help` are the same list.

use clap::Parser;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The Foundry origins allowed when none is configured: Foundry's default port on
/// this machine.
pub const DEFAULT_FOUNDRY_ORIGINS: [&str; 2] = ["http://localhost:30000", "http://127.0.0.1:30000"];

/// Gold Box companion server: lets an AI take a turn at a Foundry VTT table.
#[derive(Debug, Clone, Parser)]
#[command(name = "gold-box-server", version, about, long_about = None)]
pub struct Config {
    /// Address to listen on. Keep the default unless Foundry runs on another machine.
    #[arg(long, env = "GOLD_BOX_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "GOLD_BOX_PORT", default_value_t = 8787)]
    pub port: u16,

    /// The URL Foundry reaches this server at; the manifest's URLs are built from it.
    /// Defaults to http://HOST:PORT.
    #[arg(long, env = "GOLD_BOX_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// An origin (scheme://host:port) Foundry is served from; repeat for several.
    /// Each one adds to http://localhost:30000 and http://127.0.0.1:30000.
    #[arg(
        long = "foundry-origin",
        env = "GOLD_BOX_FOUNDRY_ORIGINS",
        value_delimiter = ','
    )]
    pub foundry_origins: Vec<String>,

    /// The shared secret a GM enters in the module's settings. Generated and saved in
    /// the data directory on first start when not given.
    #[arg(long, env = "GOLD_BOX_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// The secret for /metrics and /api/metrics (never the same as the client token).
    /// Generated and saved in the data directory on first start when not given.
    #[arg(long, env = "GOLD_BOX_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Where the server keeps its generated tokens.
    #[arg(long, env = "GOLD_BOX_DATA_DIR", default_value = "gold-box-data")]
    pub data_dir: PathBuf,

    /// The directory holding the packaged module (`gold-box/` with module.json), as
    /// `cargo xtask package` writes it.
    #[arg(long, env = "GOLD_BOX_MODULE_DIR", default_value = "dist")]
    pub module_dir: PathBuf,

    /// How long a connection may take to send `connect`, in milliseconds.
    #[arg(long, env = "GOLD_BOX_HANDSHAKE_TIMEOUT_MS", default_value_t = 5_000)]
    pub handshake_timeout_ms: u64,

    /// How often clients should ping, in milliseconds (sent in `connected`).
    #[arg(long, env = "GOLD_BOX_HEARTBEAT_MS", default_value_t = 15_000)]
    pub heartbeat_ms: u64,

    /// How long the server waits for a roll result, in milliseconds.
    #[arg(long, env = "GOLD_BOX_ROLL_TIMEOUT_MS", default_value_t = 30_000)]
    pub roll_timeout_ms: u64,

    /// How long resolved and expired roll ids are remembered, so that a late or repeated
    /// result is answered `duplicate` or `expired` (at least 10 minutes in production).
    #[arg(
        long,
        env = "GOLD_BOX_ROLL_TOMBSTONE_TTL_MS",
        default_value_t = 600_000
    )]
    pub roll_tombstone_ttl_ms: u64,

    /// The most resolved and expired roll ids remembered at once; the oldest are
    /// forgotten first (bounds memory under a flood of requests).
    #[arg(long, env = "GOLD_BOX_MAX_ROLL_TOMBSTONES", default_value_t = 100_000)]
    pub max_roll_tombstones: usize,

    /// Turn output frames kept for a client whose socket dropped, delivered in order when
    /// it reconnects; a turn that would overflow it fails.
    #[arg(long, env = "GOLD_BOX_TURN_OUTPUT_QUEUE_FRAMES", default_value_t = 256)]
    pub turn_output_queue_frames: usize,

    /// How long a disconnected client's undelivered turn output is kept after its turn ended.
    #[arg(long, env = "GOLD_BOX_TURN_OUTPUT_TTL_MS", default_value_t = 600_000)]
    pub turn_output_ttl_ms: u64,

    /// Context frames (chat_message, dice_roll, combat_context) kept per client for the
    /// AI's next turn; older ones are dropped.
    #[arg(long, env = "GOLD_BOX_MAX_CONTEXT_FRAMES", default_value_t = 50)]
    pub max_context_frames: usize,

    /// Largest WebSocket text frame accepted, in bytes; a larger one is answered with
    /// PAYLOAD_TOO_LARGE and close 1009.
    #[arg(long, env = "GOLD_BOX_MAX_FRAME_BYTES", default_value_t = 64 * 1024)]
    pub max_frame_bytes: usize,

    /// Largest HTTP request body accepted, in bytes (413 above).
    #[arg(long, env = "GOLD_BOX_MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,

    /// Frames that may wait to be written to one connection before it is closed as
    /// too slow.
    #[arg(long, env = "GOLD_BOX_SEND_QUEUE_FRAMES", default_value_t = 256)]
    pub send_queue_frames: usize,

    #[command(flatten)]
    pub ai: crate::ai::AiConfig,

    /// Log filter (tracing's EnvFilter syntax), e.g. `info` or `gold_box_server=debug`.
    #[arg(long, env = "GOLD_BOX_LOG", default_value = "info")]
    pub log: String,
}

impl Config {
    /// Parses options the way the command line does (the program name is supplied), so
    /// tests configure the server exactly as a user would.
    pub fn from_args<I, T>(args: I) -> Result<Config, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let argv = std::iter::once(std::ffi::OsString::from("gold-box-server"))
            .chain(args.into_iter().map(Into::into));
        Config::try_parse_from(argv)
    }

    /// Every allowed Foundry origin: the defaults plus the configured ones, without
    /// trailing slashes.
    pub fn allowed_origins(&self) -> Vec<String> {
        let mut origins: Vec<String> = DEFAULT_FOUNDRY_ORIGINS
            .iter()
            .map(|s| s.to_string())
            .collect();
        for origin in &self.foundry_origins {
            let origin = origin.trim().trim_end_matches('/').to_owned();
            if !origin.is_empty() && !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        origins
    }

    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_millis(self.handshake_timeout_ms)
    }

    pub fn roll_timeout(&self) -> Duration {
        Duration::from_millis(self.roll_timeout_ms)
    }

    pub fn roll_tombstone_ttl(&self) -> Duration {
        Duration::from_millis(self.roll_tombstone_ttl_ms)
    }

    pub fn turn_output_ttl(&self) -> Duration {
        Duration::from_millis(self.turn_output_ttl_ms)
    }

    /// A connection's send queue: room for its own frames plus a full turn-output
    /// backlog delivered at once on reconnect.
    pub fn connection_queue_frames(&self) -> usize {
        self.send_queue_frames.max(1) + self.turn_output_queue_frames
    }
}
