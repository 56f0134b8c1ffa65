//! Configuration: command-line flags with environment fallbacks (`--help`
//! lists them all). Secrets are never printed: `Debug` of [`ServerConfig`]
//! redacts them.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::chat::Role;
use crate::chat::attachments::AttachmentConfig;
use crate::chat::routing::RoutingMode;

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
    /// The `role` claim.
    #[arg(long, value_enum, ignore_case = true, default_value = "customer")]
    pub role: Role,
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

/// SQLite's `synchronous` pragma.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "UPPER")]
pub enum SqliteSynchronous {
    Off,
    Normal,
    Full,
    Extra,
}

impl SqliteSynchronous {
    /// The pragma's value, as SQLite spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "OFF",
            Self::Normal => "NORMAL",
            Self::Full => "FULL",
            Self::Extra => "EXTRA",
        }
    }
}

/// The one algorithm tokens must be signed with.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "UPPER")]
pub enum JwtAlgorithm {
    HS256,
    RS256,
    ES256,
}

/// The shortest HS256 secret the server accepts (RFC 7518 §3.2: a key of
/// at least the hash's size, 256 bits).
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Clone, Parser)]
pub struct ServerConfig {
    /// Address to listen on [default: 0.0.0.0; 127.0.0.1 in development mode].
    #[arg(long, env = "HOST", global = true)]
    pub host: Option<IpAddr>,
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
        value_enum,
        ignore_case = true,
        default_value = "NORMAL",
        global = true
    )]
    pub sqlite_synchronous: SqliteSynchronous,
    /// HS256 secret, at least 32 bytes (`openssl rand -base64 48`). Without
    /// it (and without a public key) the server runs in development mode
    /// with a random secret, unless --require-key.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true, global = true)]
    pub jwt_secret: Option<String>,
    /// PEM public key for RS256 or ES256 tokens.
    #[arg(long, env = "JWT_PUBLIC_KEY_FILE", global = true)]
    pub jwt_public_key_file: Option<PathBuf>,
    /// The token algorithm (default: HS256 with a secret, from the key type with a key file).
    #[arg(
        long,
        env = "JWT_ALGORITHM",
        value_enum,
        ignore_case = true,
        global = true
    )]
    pub jwt_algorithm: Option<JwtAlgorithm>,
    /// Required `iss` claim, when set.
    #[arg(long, env = "JWT_ISSUER", global = true)]
    pub jwt_issuer: Option<String>,
    /// Required `aud` claim, when set.
    #[arg(long, env = "JWT_AUDIENCE", global = true)]
    pub jwt_audience: Option<String>,
    /// Clock leeway for `exp` and `nbf`.
    #[arg(long, env = "JWT_LEEWAY_SECONDS", default_value_t = 30, global = true)]
    pub jwt_leeway_seconds: u64,
    /// Allowed CORS origins, comma separated. Unset: loopback origins
    /// (http://localhost:*, http://127.0.0.1:*, http://[::1]:*) in development mode, none otherwise.
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
    /// Every other client event (join, leave, mark-read, close…), per
    /// socket, checked before any database work; the excess is `rate_limited`.
    #[arg(
        long,
        env = "EVENT_RATE_PER_SECOND",
        default_value_t = 20,
        global = true
    )]
    pub event_rate_per_second: u32,
    /// Burst of those events per socket.
    #[arg(long, env = "EVENT_BURST", default_value_t = 40, global = true)]
    pub event_burst: u32,
    /// Sessions a user may open per second (`POST /api/chat/sessions`).
    #[arg(long, env = "OPEN_RATE_PER_SECOND", default_value_t = 1, global = true)]
    pub open_rate_per_second: u32,
    /// Burst of session openings per user.
    #[arg(long, env = "OPEN_BURST", default_value_t = 5, global = true)]
    pub open_burst: u32,
    /// Session rooms one socket may be in at once (`join-session` past it:
    /// `rate_limited`).
    #[arg(
        long,
        env = "MAX_ROOMS_PER_SOCKET",
        default_value_t = 200,
        global = true
    )]
    pub max_rooms_per_socket: usize,
    /// The most messages one catch-up (`join-session` with
    /// `lastMessageId`) returns; `hasMore` says when more follow.
    #[arg(long, env = "CATCH_UP_LIMIT", default_value_t = 500, global = true)]
    pub catch_up_limit: u64,
    /// While messages come in steadily (the writer's batches begin less
    /// than twice this apart), the writer waits this long for more before
    /// it stores a batch: fewer, larger transactions. With 1, at 2,000
    /// msg/s about 30% less CPU for about 2 ms more latency (bench/README.md,
    /// "Fourth pass"). 0: never waits.
    #[arg(long, env = "MESSAGE_LINGER_MS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=100), global = true)]
    pub message_linger_ms: u64,
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
    /// Development mode: dev token endpoint, loopback CORS, 127.0.0.1 by
    /// default, random secret when none is configured.
    #[arg(long, env = "SWITCHBOARD_DEV", global = true)]
    pub dev: bool,
    /// Refuse to start without JWT_SECRET or JWT_PUBLIC_KEY_FILE unless
    /// --dev is given (the container image sets it).
    #[arg(long, env = "REQUIRE_JWT_KEY", value_parser = BoolishValueParser::new(), global = true)]
    pub require_key: bool,
    /// A client must send its request headers within this many seconds.
    #[arg(
        long,
        env = "HEADER_READ_TIMEOUT_SECONDS",
        default_value_t = 10,
        global = true
    )]
    pub header_read_timeout_seconds: u64,
    /// A request body must arrive whole within this many seconds.
    #[arg(
        long,
        env = "BODY_READ_TIMEOUT_SECONDS",
        default_value_t = 30,
        global = true
    )]
    pub body_read_timeout_seconds: u64,
    /// Open connections per client address (0: no limit). Behind a proxy
    /// the client address is read from X-Forwarded-For (--trusted-proxies).
    #[arg(
        long,
        env = "MAX_CONNECTIONS_PER_IP",
        default_value_t = 256,
        global = true
    )]
    pub max_connections_per_ip: usize,
    /// Addresses or networks (10.0.0.0/8) of reverse proxies whose
    /// X-Forwarded-For is believed, comma separated. Unset: the peer address
    /// is the client's.
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',', global = true)]
    pub trusted_proxies: Vec<IpNet>,
    /// Largest request head (URI and headers) on /socket.io/, in bytes;
    /// larger is 431.
    #[arg(
        long,
        env = "SOCKET_HEADER_MAX_BYTES",
        default_value_t = 16 * 1024,
        global = true
    )]
    pub socket_header_max_bytes: usize,
    /// Seconds an Engine.IO connection may stay without joining a namespace.
    #[arg(
        long,
        env = "CONNECT_TIMEOUT_SECONDS",
        default_value_t = 10,
        global = true
    )]
    pub connect_timeout_seconds: u64,
    /// Send Strict-Transport-Security (only behind TLS).
    #[arg(long, env = "HSTS", value_parser = BoolishValueParser::new(), global = true)]
    pub hsts: bool,
    /// Serve /metrics on this address only (e.g. 127.0.0.1:9090), not on the main port.
    #[arg(long, env = "METRICS_ADDR", global = true)]
    pub metrics_addr: Option<SocketAddr>,
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
    /// REST reads (lists, pages, stats) handled at once; the others wait
    /// their turn without using the CPU the chat needs. Default: the CPUs
    /// this process may run on, at most --database-readers.
    #[arg(long, env = "READ_CONCURRENCY", global = true)]
    pub read_concurrency: Option<usize>,
    /// A REST read waits, after its turn, until no socket event is being
    /// handled, for at most this long: the chat's writes go first, and a
    /// dashboard read in a loop cannot take the CPU a message needs (0: no
    /// waiting).
    #[arg(long, env = "READ_YIELD_MS", default_value_t = 20, global = true)]
    pub read_yield_ms: u64,
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
    /// Routing mode of tenants that never changed their settings
    /// (docs/protocol.md §8): `manual` (agents take sessions) or `auto`.
    #[arg(long, env = "ROUTING", value_enum, ignore_case = true, default_value_t = RoutingMode::Manual, global = true)]
    pub routing: RoutingMode,
    /// `defaultMaxChats` of tenants that never set it: the chats an agent
    /// is given at most by auto-assignment (1..100).
    #[arg(long, env = "AGENT_MAX_CHATS", default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=100), global = true)]
    pub agent_max_chats: u16,
    /// `reassignAfterOfflineSeconds` of tenants that never set it: how long
    /// an offline agent keeps their chats before auto mode moves them.
    #[arg(long, env = "REASSIGN_AFTER_OFFLINE_SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u32).range(0..=86_400), global = true)]
    pub reassign_after_offline_seconds: u32,
    /// How often each node sweeps: auto-assignment repair, offline
    /// reassignment, business-hours changes, dead nodes.
    #[arg(long, env = "ROUTING_SWEEP_MS", default_value_t = 2000, global = true)]
    pub routing_sweep_ms: u64,
    /// A node whose heartbeat is older than this is dead: its agents are
    /// offline (it beats every third of it).
    #[arg(
        long,
        env = "NODE_TIMEOUT_SECONDS",
        default_value_t = 15,
        global = true
    )]
    pub node_timeout_seconds: u64,
    /// A session an agent sent back to the queue is not auto-assigned to
    /// them again for this long while someone else could take it.
    #[arg(
        long,
        env = "REQUEUE_HOLD_SECONDS",
        default_value_t = 60,
        global = true
    )]
    pub requeue_hold_seconds: u64,
    #[command(flatten)]
    pub attachments: AttachmentConfig,
    #[command(flatten)]
    pub integrations: crate::webhooks::config::IntegrationConfig,
}

impl ServerConfig {
    /// Development mode is on when asked for, and whenever no key is configured.
    pub fn dev_mode(&self) -> bool {
        self.dev || !self.has_key()
    }

    fn has_key(&self) -> bool {
        self.jwt_secret.is_some() || self.jwt_public_key_file.is_some()
    }

    /// The address to listen on: HOST when set, else every interface in
    /// production and loopback only in development mode (docs/protocol.md §1).
    pub fn listen_addr(&self) -> SocketAddr {
        let default = if self.dev_mode() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        };
        SocketAddr::new(self.host.unwrap_or(default), self.port)
    }

    /// Start-up checks of the key settings; each error says how to fix it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        // clap reads an empty variable as unset: `JWT_SECRET=` must not
        // quietly mean development mode.
        let env_secret_blank = std::env::var_os("JWT_SECRET").is_some_and(|v| v.is_empty());
        let secret = match &self.jwt_secret {
            Some(secret) => Some(secret.as_str()),
            None if env_secret_blank => Some(""),
            None => None,
        };
        if let Some(secret) = secret
            && secret.trim().len() < MIN_SECRET_BYTES
        {
            return Err(ConfigError::ShortSecret);
        }
        match (&self.jwt_public_key_file, self.jwt_algorithm) {
            (Some(_), Some(JwtAlgorithm::HS256)) => return Err(ConfigError::PublicKeyWithHs256),
            (None, Some(JwtAlgorithm::RS256 | JwtAlgorithm::ES256)) if self.has_key() => {
                return Err(ConfigError::SecretWithPublicKeyAlgorithm);
            }
            _ => {}
        }
        if self.require_key && !self.has_key() && !self.dev {
            return Err(ConfigError::KeyRequired);
        }
        Ok(())
    }
}

/// An address (`10.0.0.9`) or a network (`10.0.0.0/8`, `fd00::/8`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for IpNet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|e| format!("{s}: {e}"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s}: the prefix must be 0 to {max}"))?,
        };
        Ok(Self { addr, prefix })
    }
}

/// A configuration the server refuses to start with.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes (not counting surrounding \
         whitespace); generate one with `openssl rand -base64 48`"
    )]
    ShortSecret,
    #[error(
        "JWT_PUBLIC_KEY_FILE is set with JWT_ALGORITHM=HS256: a public key verifies RS256 or \
         ES256 tokens; set JWT_ALGORITHM to RS256 or ES256 (or leave it unset)"
    )]
    PublicKeyWithHs256,
    #[error(
        "JWT_ALGORITHM is RS256 or ES256 but only JWT_SECRET is set: give the public key with \
         JWT_PUBLIC_KEY_FILE, or use HS256"
    )]
    SecretWithPublicKeyAlgorithm,
    #[error(
        "no JWT key configured and this deployment requires one (REQUIRE_JWT_KEY / \
         --require-key): set JWT_SECRET (generate it with `openssl rand -base64 48`) or \
         JWT_PUBLIC_KEY_FILE, or pass --dev explicitly for a development server"
    )]
    KeyRequired,
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
            .field("attachments_store", &self.attachments.attachments_store)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("metrics_addr", &self.metrics_addr)
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

    fn server(args: &[&str]) -> ServerConfig {
        Cli::parse_from(std::iter::once("switchboard").chain(args.iter().copied())).server
    }

    const GOOD: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn secrets_under_32_bytes_are_refused_with_a_way_to_make_one() {
        for short in [
            "",
            "   ",
            "a",
            "0123456789abcdef0123456789abcde",
            &format!(" {} ", &GOOD[1..]),
        ] {
            let err = server(&["--jwt-secret", short]).validate().unwrap_err();
            assert!(matches!(err, ConfigError::ShortSecret), "{short:?}");
            assert!(err.to_string().contains("openssl rand -base64 48"));
        }
        assert!(server(&["--jwt-secret", GOOD]).validate().is_ok());
        assert!(server(&["--jwt-secret", "a", "--dev"]).validate().is_err());
    }

    #[test]
    fn a_public_key_with_hs256_is_refused() {
        let config = server(&["--jwt-public-key-file", "k.pem", "--jwt-algorithm", "hs256"]);
        assert!(matches!(
            config.validate(),
            Err(ConfigError::PublicKeyWithHs256)
        ));
        let config = server(&["--jwt-secret", GOOD, "--jwt-algorithm", "RS256"]);
        assert!(matches!(
            config.validate(),
            Err(ConfigError::SecretWithPublicKeyAlgorithm)
        ));
    }

    #[test]
    fn require_key_refuses_no_key_unless_dev_is_explicit() {
        assert!(matches!(
            server(&["--require-key"]).validate(),
            Err(ConfigError::KeyRequired)
        ));
        assert!(server(&["--require-key", "--dev"]).validate().is_ok());
        assert!(
            server(&["--require-key", "--jwt-secret", GOOD])
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn development_mode_listens_on_loopback_unless_host_is_set() {
        assert_eq!(server(&[]).listen_addr().to_string(), "127.0.0.1:3001");
        assert_eq!(
            server(&["--jwt-secret", GOOD, "--dev"])
                .listen_addr()
                .ip()
                .to_string(),
            "127.0.0.1"
        );
        assert_eq!(
            server(&["--jwt-secret", GOOD]).listen_addr().to_string(),
            "0.0.0.0:3001"
        );
        assert_eq!(
            server(&["--host", "0.0.0.0"]).listen_addr().to_string(),
            "0.0.0.0:3001"
        );
    }

    #[test]
    fn trusted_proxies_are_addresses_or_networks() {
        let config = server(&["--trusted-proxies", "10.0.0.0/8,192.168.1.7,fd00::/8"]);
        let trusted = |ip: &str| {
            let ip = ip.parse().unwrap();
            config.trusted_proxies.iter().any(|net| net.contains(ip))
        };
        assert!(trusted("10.200.3.4"));
        assert!(trusted("192.168.1.7"));
        assert!(!trusted("192.168.1.8"));
        assert!(trusted("fd12::1"));
        assert!(trusted("::ffff:10.0.0.1"));
        assert!(!trusted("11.0.0.1"));
        assert!("10.0.0.0/33".parse::<IpNet>().is_err());
    }

    #[test]
    fn enumerated_settings_parse_case_insensitively() {
        let config = server(&["--sqlite-synchronous", "full", "--jwt-algorithm", "es256"]);
        assert_eq!(config.sqlite_synchronous, SqliteSynchronous::Full);
        assert_eq!(config.jwt_algorithm, Some(JwtAlgorithm::ES256));
        let cli = Cli::parse_from(["switchboard", "token", "--sub", "a", "--role", "Agent"]);
        let Some(Command::Token(args)) = cli.command else {
            panic!("token")
        };
        assert_eq!(args.role, Role::Agent);
    }
}
