//! Configuration: command-line flags with environment fallbacks (`--help`
//! lists them all). Secrets are never printed: `Debug` of [`ServerConfig`]
//! redacts them.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Real-time support-chat server (Socket.IO /chat + REST)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub server: ServerConfig,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a JWT signed with the configured secret (HS256).
    Token(TokenArgs),
    /// Run the database migrations and exit.
    Migrate,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The user id (`sub` claim).
    #[arg(long)]
    pub sub: String,
    /// customer, agent or admin.
    #[arg(long, default_value = "customer")]
    pub role: String,
    /// Display name (`name` claim).
    #[arg(long)]
    pub name: Option<String>,
    /// Tenant (`tenant` claim); absent means `default`.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Lifetime of the token in seconds.
    #[arg(long, default_value_t = 86_400)]
    pub ttl_seconds: u64,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Parser)]
pub struct ServerConfig {
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "0.0.0.0", global = true)]
    pub host: IpAddr,
    /// Port to listen on (0: any free port; the bound one is logged).
    #[arg(long, env = "PORT", default_value_t = 3001, global = true)]
    pub port: u16,
    /// sqlite://path?mode=rwc or postgres://user:pass@host/db
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://switchboard.db?mode=rwc",
        global = true
    )]
    pub database_url: String,
    /// redis://host:port/?protocol=resp3 — share rooms and broadcasts with
    /// the other nodes through Redis (>= 7). Unset: a single node.
    #[arg(long, env = "REDIS_URL", global = true)]
    pub redis_url: Option<String>,
    /// SQLite `synchronous` pragma: NORMAL survives a crash of the process,
    /// FULL also a power loss.
    #[arg(
        long,
        env = "SQLITE_SYNCHRONOUS",
        default_value = "NORMAL",
        global = true
    )]
    pub sqlite_synchronous: String,
    /// HS256 secret. Without it (and without a public key) the server runs
    /// in development mode with a random secret.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true, global = true)]
    pub jwt_secret: Option<String>,
    /// PEM public key for RS256 or ES256 tokens.
    #[arg(long, env = "JWT_PUBLIC_KEY_FILE", global = true)]
    pub jwt_public_key_file: Option<PathBuf>,
    /// HS256, RS256 or ES256 (default: HS256 with a secret, from the key type with a key file).
    #[arg(long, env = "JWT_ALGORITHM", global = true)]
    pub jwt_algorithm: Option<String>,
    /// Required `iss` claim, when set.
    #[arg(long, env = "JWT_ISSUER", global = true)]
    pub jwt_issuer: Option<String>,
    /// Required `aud` claim, when set.
    #[arg(long, env = "JWT_AUDIENCE", global = true)]
    pub jwt_audience: Option<String>,
    /// Clock leeway for `exp` and `nbf`.
    #[arg(long, env = "JWT_LEEWAY_SECONDS", default_value_t = 30, global = true)]
    pub jwt_leeway_seconds: u64,
    /// Allowed CORS origins, comma separated. Unset: any origin in development mode, none otherwise.
    #[arg(long, env = "CORS_ORIGINS", value_delimiter = ',', global = true)]
    pub cors_origins: Option<Vec<String>>,
    /// Longest message, in characters, after trimming.
    #[arg(
        long,
        env = "MESSAGE_MAX_LENGTH",
        default_value_t = 4000,
        global = true
    )]
    pub message_max_length: usize,
    /// send-message rate per user (messages per second).
    #[arg(
        long,
        env = "SEND_RATE_PER_SECOND",
        default_value_t = 10,
        global = true
    )]
    pub send_rate_per_second: u32,
    /// send-message burst per user.
    #[arg(long, env = "SEND_BURST", default_value_t = 20, global = true)]
    pub send_burst: u32,
    /// typing events per second per socket; the excess is dropped.
    #[arg(
        long,
        env = "TYPING_RATE_PER_SECOND",
        default_value_t = 5,
        global = true
    )]
    pub typing_rate_per_second: u32,
    /// Largest websocket message accepted, in bytes (larger closes the socket).
    #[arg(long, env = "WS_MAX_MESSAGE_SIZE", default_value_t = 64 * 1024, global = true)]
    pub ws_max_message_size: usize,
    /// Largest HTTP long-polling payload accepted, in bytes.
    #[arg(long, env = "MAX_PAYLOAD", default_value_t = 64 * 1024, global = true)]
    pub max_payload: u64,
    /// Directory of the built web client served at `/`.
    #[arg(
        long,
        env = "STATIC_DIR",
        default_value = "web-client/dist",
        global = true
    )]
    pub static_dir: PathBuf,
    /// Serve /metrics (Prometheus text format).
    #[arg(long, env = "METRICS_ENABLED", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub metrics_enabled: bool,
    /// Log format.
    #[arg(
        long,
        env = "LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
    /// Development mode: dev token endpoint, permissive CORS, random secret when none is configured.
    #[arg(long, env = "SWITCHBOARD_DEV", global = true)]
    pub dev: bool,
    /// Every this many seconds, agents get a fresh `stats-update` even
    /// without a change on this node (another node may have died).
    #[arg(
        long,
        env = "STATS_REFRESH_SECONDS",
        default_value_t = 30,
        global = true
    )]
    pub stats_refresh_seconds: u64,
    /// How long graceful shutdown waits for in-flight work before giving up.
    #[arg(
        long,
        env = "SHUTDOWN_TIMEOUT_SECONDS",
        default_value_t = 10,
        global = true
    )]
    pub shutdown_timeout_seconds: u64,
    /// Connections of the read pool (REST lists and history pages, stats):
    /// on SQLite read-only connections beside the single writer, so a slow
    /// read never waits in front of a message.
    #[arg(long, env = "DATABASE_READERS", default_value_t = 4, global = true)]
    pub database_readers: u32,
    /// PostgreSQL: connections of the write pool.
    #[arg(
        long,
        env = "DATABASE_MAX_CONNECTIONS",
        default_value_t = 16,
        global = true
    )]
    pub database_max_connections: u32,
    /// PostgreSQL: a read of the read pool running longer than this is
    /// cancelled (`statement_timeout`), and its connection given back.
    #[arg(long, env = "READ_TIMEOUT_MS", default_value_t = 5000, global = true)]
    pub read_timeout_ms: u64,
    /// SQLite: how often `PRAGMA optimize` refreshes the planner statistics
    /// (also once at start-up).
    #[arg(
        long,
        env = "SQLITE_OPTIMIZE_SECONDS",
        default_value_t = 3600,
        global = true
    )]
    pub sqlite_optimize_seconds: u64,
}

impl ServerConfig {
    /// Development mode is on when asked for, and whenever no key is configured.
    pub fn dev_mode(&self) -> bool {
        self.dev || (self.jwt_secret.is_none() && self.jwt_public_key_file.is_none())
    }
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &redact_url(&self.database_url))
            .field("redis", &self.redis_url.as_deref().map(redact_url))
            .field(
                "jwt_secret",
                &self.jwt_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("jwt_public_key_file", &self.jwt_public_key_file)
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_audience", &self.jwt_audience)
            .field("cors_origins", &self.cors_origins)
            .field("message_max_length", &self.message_max_length)
            .field("dev", &self.dev_mode())
            .finish_non_exhaustive()
    }
}

/// `postgres://user:secret@host/db` -> `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/chat"),
            "postgres://app:***@db:5432/chat"
        );
        assert_eq!(
            redact_url("sqlite://switchboard.db?mode=rwc"),
            "sqlite://switchboard.db?mode=rwc"
        );
    }

    #[test]
    fn no_key_means_development_mode() {
        let cli = Cli::parse_from(["switchboard"]);
        assert!(cli.server.dev_mode());
        let cli = Cli::parse_from(["switchboard", "--jwt-secret", "x"]);
        assert!(!cli.server.dev_mode());
    }
}
