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

/// The longest any time option may be, in milliseconds (one day): a longer wait is a
/// typo, and the bound keeps every deadline the server computes far from overflow.
pub const MAX_TIME_MS: u64 = 86_400_000;

/// A time option's parser: 1 ms to [`MAX_TIME_MS`].
fn time_ms() -> clap::builder::RangedU64ValueParser<u64> {
    clap::value_parser!(u64).range(1..=MAX_TIME_MS)
}

/// Gold Box companion server: lets an AI take a turn at a Foundry VTT table.
#[derive(Clone, Parser)]
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
    #[arg(long, env = "GOLD_BOX_HANDSHAKE_TIMEOUT_MS", default_value_t = 5_000, value_parser = time_ms())]
    pub handshake_timeout_ms: u64,

    /// How often clients should ping, in milliseconds (sent in `connected`).
    #[arg(long, env = "GOLD_BOX_HEARTBEAT_MS", default_value_t = 15_000, value_parser = time_ms())]
    pub heartbeat_ms: u64,

    /// How long a connection may stay silent (no frame, not even a ping) before it is
    /// taken for dead and closed with 4002, in milliseconds. Defaults to twice the
    /// heartbeat plus 5 seconds, so one lost ping is forgiven.
    #[arg(long, env = "GOLD_BOX_IDLE_TIMEOUT_MS", value_parser = time_ms())]
    pub idle_timeout_ms: Option<u64>,

    /// How long one write to a socket may take before the connection is closed with
    /// 4002, in milliseconds.
    #[arg(long, env = "GOLD_BOX_WRITE_TIMEOUT_MS", default_value_t = 10_000, value_parser = time_ms())]
    pub write_timeout_ms: u64,

    /// How long the server waits for a roll result, in milliseconds.
    #[arg(long, env = "GOLD_BOX_ROLL_TIMEOUT_MS", default_value_t = 30_000, value_parser = time_ms())]
    pub roll_timeout_ms: u64,

    /// How long resolved and expired roll ids are remembered, so that a late or repeated
    /// result is answered `duplicate` or `expired` (at least 10 minutes in production).
    #[arg(
        long,
        env = "GOLD_BOX_ROLL_TOMBSTONE_TTL_MS",
        default_value_t = 600_000,
        value_parser = time_ms()
    )]
    pub roll_tombstone_ttl_ms: u64,

    /// The most resolved and expired roll ids remembered at once; the oldest are
    /// forgotten first (bounds memory under a flood of requests).
    #[arg(long, env = "GOLD_BOX_MAX_ROLL_TOMBSTONES", default_value_t = 100_000)]
    pub max_roll_tombstones: usize,

    /// Session frames (turn output) kept per client until the client acknowledges them
    /// (or, for a client that does not resume, until a socket takes them); replayed in
    /// order on reconnect. A turn that would overflow it fails.
    #[arg(long, env = "GOLD_BOX_TURN_OUTPUT_QUEUE_FRAMES", default_value_t = 256)]
    pub turn_output_queue_frames: usize,

    /// How long an unacknowledged session frame is kept after the end of the turn that
    /// produced it, in milliseconds.
    #[arg(long, env = "GOLD_BOX_TURN_OUTPUT_TTL_MS", default_value_t = 600_000, value_parser = time_ms())]
    pub turn_output_ttl_ms: u64,

    /// How long the server keeps what it holds for a client that has gone (settings,
    /// context) once it has no connection, no running turn and no kept frames, in
    /// milliseconds.
    #[arg(long, env = "GOLD_BOX_CLIENT_TTL_MS", default_value_t = 600_000, value_parser = time_ms())]
    pub client_ttl_ms: u64,

    /// Context frames (chat_message, dice_roll, combat_context) kept per client for the
    /// AI's next turn; older ones are dropped.
    #[arg(long, env = "GOLD_BOX_MAX_CONTEXT_FRAMES", default_value_t = 50)]
    pub max_context_frames: usize,

    /// Context kept per client, in bytes of JSON; the oldest frames are dropped first,
    /// and a single frame over it is not kept.
    #[arg(long, env = "GOLD_BOX_MAX_CONTEXT_BYTES", default_value_t = 256 * 1024)]
    pub max_context_bytes: usize,

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

    /// On SIGINT or SIGTERM, how long the server waits for running turns to report their
    /// end and for sockets to be closed before it exits, in milliseconds.
    #[arg(long, env = "GOLD_BOX_SHUTDOWN_GRACE_MS", default_value_t = 5_000, value_parser = time_ms())]
    pub shutdown_grace_ms: u64,

    /// How many finished turns keep their conversation (the tool results: the dice
    /// rolled) so that the GM can ask for their narration again without new dice; the
    /// oldest is forgotten first.
    #[arg(long, env = "GOLD_BOX_REGENERATE_KEEP_TURNS", default_value_t = 32)]
    pub regenerate_keep_turns: usize,

    /// How long a finished turn's conversation is kept for a regeneration of its
    /// narration, in milliseconds (counted from its latest narration).
    #[arg(long, env = "GOLD_BOX_REGENERATE_KEEP_MS", default_value_t = 3_600_000, value_parser = time_ms())]
    pub regenerate_keep_ms: u64,

    #[command(flatten)]
    pub ai: crate::ai::AiConfig,

    #[command(flatten)]
    pub usage: crate::usage::UsageConfig,

    /// Log filter: a default level and `target=level` pairs, comma-separated (tracing-subscriber's `Targets` syntax), e.g. `info` or `info,gold_box_server=debug`.
    #[arg(long, env = "GOLD_BOX_LOG", default_value = "info")]
    pub log: String,
}

/// Every option but the two tokens, which are never printed (like the AI key, they
/// show as `***`).
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |token: &Option<String>| token.as_ref().map(|_| "***");
        f.debug_struct("Config")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("public_url", &self.public_url)
            .field("foundry_origins", &self.foundry_origins)
            .field("token", &hidden(&self.token))
            .field("admin_token", &hidden(&self.admin_token))
            .field("data_dir", &self.data_dir)
            .field("module_dir", &self.module_dir)
            .field("handshake_timeout_ms", &self.handshake_timeout_ms)
            .field("heartbeat_ms", &self.heartbeat_ms)
            .field("idle_timeout_ms", &self.idle_timeout_ms)
            .field("write_timeout_ms", &self.write_timeout_ms)
            .field("roll_timeout_ms", &self.roll_timeout_ms)
            .field("roll_tombstone_ttl_ms", &self.roll_tombstone_ttl_ms)
            .field("max_roll_tombstones", &self.max_roll_tombstones)
            .field("turn_output_queue_frames", &self.turn_output_queue_frames)
            .field("turn_output_ttl_ms", &self.turn_output_ttl_ms)
            .field("client_ttl_ms", &self.client_ttl_ms)
            .field("max_context_frames", &self.max_context_frames)
            .field("max_context_bytes", &self.max_context_bytes)
            .field("max_frame_bytes", &self.max_frame_bytes)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("send_queue_frames", &self.send_queue_frames)
            .field("shutdown_grace_ms", &self.shutdown_grace_ms)
            .field("regenerate_keep_turns", &self.regenerate_keep_turns)
            .field("regenerate_keep_ms", &self.regenerate_keep_ms)
            .field("ai", &self.ai)
            .field("usage", &self.usage)
            .field("log", &self.log)
            .finish()
    }
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

    /// The idle timeout: as configured, or twice the heartbeat plus 5 seconds.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(
            self.idle_timeout_ms
                .unwrap_or_else(|| self.heartbeat_ms.saturating_mul(2).saturating_add(5_000)),
        )
    }

    pub fn write_timeout(&self) -> Duration {
        Duration::from_millis(self.write_timeout_ms)
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_millis(self.shutdown_grace_ms)
    }

    /// What the client records may keep.
    pub fn client_limits(&self) -> crate::clients::Limits {
        crate::clients::Limits {
            kept_frames: self.turn_output_queue_frames.max(1),
            kept_ttl: self.turn_output_ttl(),
            context_frames: self.max_context_frames,
            context_bytes: self.max_context_bytes,
            client_ttl: Duration::from_millis(self.client_ttl_ms),
        }
    }

    /// A connection's send queue: room for its own frames plus every kept session frame
    /// replayed at once on reconnect.
    pub fn connection_queue_frames(&self) -> usize {
        self.send_queue_frames.max(1) + self.turn_output_queue_frames
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_token_appears_in_the_debug_rendering() {
        let config = Config::from_args([
            "--token",
            "client-secret-1",
            "--admin-token",
            "admin-secret-2",
            "--ai-api-key",
            "key-secret-3",
        ])
        .expect("valid");
        let printed = format!("{config:?}");
        for secret in ["client-secret-1", "admin-secret-2", "key-secret-3"] {
            assert!(!printed.contains(secret), "{printed}");
        }
        assert!(printed.contains("roll_timeout_ms"), "{printed}");
    }

    #[test]
    fn time_options_are_bounded_and_the_refusal_names_the_option() {
        for option in ["--roll-timeout-ms", "--heartbeat-ms", "--shutdown-grace-ms"] {
            let error = Config::from_args([option, "18446744073709551615"])
                .expect_err("a year-long wait is refused")
                .to_string();
            assert!(error.contains(option), "{error}");
        }
        assert!(Config::from_args(["--roll-timeout-ms", "0"]).is_err());
        assert!(Config::from_args(["--roll-timeout-ms", "86400000"]).is_ok());
    }
}
