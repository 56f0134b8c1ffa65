//! Builds the application (database, Socket.IO layer, REST router, static
//! files), binds its listener, serves it and shuts it down gracefully.

use socketioxide::adapter::Adapter;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::routing::any;
use axum::serve::ListenerExt;
use futures_util::future::BoxFuture;
use sea_orm::DatabaseConnection;
use socketioxide::{SocketIo, SocketIoBuilder};
use socketioxide_redis::{CustomRedisAdapter, RedisAdapterConfig, RedisAdapterCtr};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tower::util::MapRequestLayer;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::app::{App, AppState};
use crate::auth::{KeySource, Verifier};
use crate::config::{ServerConfig, redact_url};
use crate::error::AppError;
use crate::realtime::redis_driver::ReconnectingDriver;
use crate::shutdown::InFlight;
use crate::{db, http, realtime};

/// The server, bound and ready to serve. Not generic: the adapter (local
/// or Redis) is chosen at build time and hidden behind `close_sockets`.
pub struct Application {
    listener: TcpListener,
    router: Router,
    db: DatabaseConnection,
    in_flight: InFlight,
    close_sockets: Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>,
    grace: Duration,
}

impl Application {
    pub async fn build(config: ServerConfig) -> anyhow::Result<Self> {
        let (verifier, source) = Verifier::from_config(&config)?;
        warn_about_development_mode(&config, &source);
        let db = db::connect(&config).await?;
        db::migrate(&db.writer).await?;
        db::spawn_optimizer(&db.writer, &config);
        tracing::info!(database = %redact_url(&config.database_url), "database ready");
        let listener = bind(SocketAddr::new(config.host, config.port))?;

        match config.redis_url.clone() {
            None => {
                let parts = assemble(config, db, verifier, None, SocketIo::builder());
                realtime::register(&parts.io);
                Ok(parts.into_application(listener))
            }
            Some(url) => {
                let client = redis::Client::open(url.as_str())
                    .map_err(|e| anyhow::anyhow!("REDIS_URL {}: {e}", redact_url(&url)))?;
                let driver = tokio::time::timeout(
                    Duration::from_secs(10),
                    ReconnectingDriver::connect(&client),
                )
                .await
                .map_err(|_| {
                    anyhow::anyhow!("Redis at {} did not answer in 10 s", redact_url(&url))
                })?
                .map_err(|e| {
                    anyhow::anyhow!("cannot connect to Redis at {}: {e}", redact_url(&url))
                })?;
                let adapter =
                    RedisAdapterCtr::new_with_driver(driver.clone(), RedisAdapterConfig::new());
                let builder = SocketIo::builder()
                    .with_adapter::<CustomRedisAdapter<_, ReconnectingDriver>>(adapter);
                let parts = assemble(config, db, verifier, Some(driver), builder);
                realtime::register(&parts.io)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot start the Redis adapter: {e}"))?;
                tracing::info!(redis = %redact_url(&url), "Redis adapter ready");
                Ok(parts.into_application(listener))
            }
        }
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves; then stops accepting connections,
    /// lets events in flight finish (acks included), closes every socket,
    /// closes the database and returns.
    ///
    /// The order matters: websocket connections are upgraded out of
    /// hyper's graceful shutdown, so `serve` may return while socket events
    /// are still in their handlers. The database is closed only once they
    /// are done (or the grace period is over).
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let addr = self.local_addr()?;
        tracing::info!("listening on http://{addr}");
        let (stop_accepting, stopped) = tokio::sync::oneshot::channel::<()>();
        let mut serve = tokio::spawn(
            axum::serve(self.listener.tap_io(no_delay), self.router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .into_future(),
        );
        tokio::select! {
            result = &mut serve => {
                // The listener failed on its own: nothing left to drain.
                result??;
                return Ok(());
            }
            () = shutdown => {}
        }
        tracing::info!("shutting down: finishing events in flight");
        let _ = stop_accepting.send(());
        let grace = self.grace;
        if tokio::time::timeout(grace, self.in_flight.drain())
            .await
            .is_err()
        {
            tracing::warn!("events still in flight after {grace:?}; closing anyway");
        }
        (self.close_sockets)().await;
        match tokio::time::timeout(grace, serve).await {
            Ok(result) => result??,
            Err(_) => tracing::warn!("connections still open after shutdown; exiting"),
        }
        if let Err(err) = self.db.close().await {
            tracing::warn!(%err, "closing the database");
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Pending connections the kernel queues for `accept`: a burst of
/// handshakes beyond tokio's default 1,024 would see SYNs dropped and
/// retried after 1 s, then 3 s. (The kernel caps it at `somaxconn`.)
const LISTEN_BACKLOG: u32 = 4096;

/// Initial websocket read buffer per socket.
const WS_READ_BUFFER_SIZE: usize = 1024;

/// Binds the listener, with address reuse (a restart does not wait for
/// TIME_WAIT) and a deep accept backlog.
fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Small Socket.IO packets (an echo, then its ack) go out at once instead
/// of waiting for Nagle's algorithm and the peer's delayed ACK (~40 ms).
fn no_delay(tcp: &mut TcpStream) {
    if let Err(err) = tcp.set_nodelay(true) {
        tracing::debug!(%err, "cannot set TCP_NODELAY");
    }
}

/// What [`assemble`] built, before the namespace is registered.
struct Parts<A: Adapter> {
    io: SocketIo<A>,
    app: AppState<A>,
    router: Router,
}

impl<A: Adapter> Parts<A> {
    fn into_application(self, listener: TcpListener) -> Application {
        spawn_housekeeping(&self.app);
        let io = self.io;
        Application {
            listener,
            router: self.router,
            db: self.app.db.clone(),
            in_flight: self.app.in_flight.clone(),
            close_sockets: Box::new(move || Box::pin(async move { io.close().await })),
            grace: Duration::from_secs(self.app.config.shutdown_timeout_seconds),
        }
    }
}

/// The app state, the Socket.IO layer and the router, for any adapter.
fn assemble<A: Adapter>(
    config: ServerConfig,
    db: db::Databases,
    verifier: Verifier,
    redis: Option<ReconnectingDriver>,
    builder: SocketIoBuilder<A>,
) -> Parts<A> {
    let app: AppState<A> = Arc::new(App::new(db, verifier, config.clone(), redis));
    let (layer, io) = builder
        .with_state(app.clone())
        .max_payload(config.max_payload)
        .ws_max_message_size(config.ws_max_message_size)
        .ws_max_frame_size(config.ws_max_message_size)
        // Chat frames are small; the buffer grows for a big one. The
        // default (4 KiB per socket) is a third of an idle socket's memory.
        .ws_read_buffer_size(WS_READ_BUFFER_SIZE)
        .build_layer();
    app.set_io(io.clone());
    let router = http::router(&app)
        .route("/api/{*rest}", any(unknown_route))
        .route("/ws/{*rest}", any(unknown_route))
        .fallback_service(static_files(&config))
        .layer(layer)
        .layer(MapRequestLayer::new(http::compact_head::compact_head))
        .layer(cors(&config))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(app.clone());
    Parts { io, app, router }
}

fn warn_about_development_mode(config: &ServerConfig, source: &KeySource) {
    if !config.dev_mode() {
        return;
    }
    match source {
        KeySource::Generated(secret) => tracing::warn!(
            jwt_secret = %secret,
            "DEVELOPMENT MODE: no JWT_SECRET or JWT_PUBLIC_KEY_FILE configured; tokens are signed with \
             this random secret, POST /api/dev/token is open and CORS allows any origin. Never run \
             this in production."
        ),
        KeySource::Configured => {
            tracing::warn!(
                "DEVELOPMENT MODE (--dev): POST /api/dev/token is open and CORS allows any origin"
            )
        }
    }
}

async fn unknown_route() -> AppError {
    AppError::NotFound("no such route".into())
}

/// The built web client; unknown paths get `index.html` (client-side routes).
fn static_files(config: &ServerConfig) -> ServeDir<ServeFile> {
    let dir = &config.static_dir;
    ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html")))
}

/// CORS_ORIGINS when set; otherwise any origin in development mode, none
/// outside it (no CORS headers at all).
fn cors(config: &ServerConfig) -> CorsLayer {
    let origin = match &config.cors_origins {
        Some(list) => AllowOrigin::list(
            list.iter()
                .filter_map(|o| HeaderValue::from_str(o.trim()).ok())
                .collect::<Vec<_>>(),
        ),
        None if config.dev_mode() => AllowOrigin::mirror_request(),
        None => return CorsLayer::new(),
    };
    CorsLayer::new()
        .allow_origin(origin)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers(AllowHeaders::list([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("x-requested-with"),
        ]))
        .allow_credentials(true)
}

/// Every `--stats-refresh-seconds` (30): drop the rate limiters' idle
/// cells, and refresh the stats
/// of every tenant with staff on this node (a node that died elsewhere
/// changed the online counts without a change event here).
fn spawn_housekeeping<A: Adapter>(app: &AppState<A>) {
    let period = Duration::from_secs(app.config.stats_refresh_seconds.max(1));
    let app = Arc::downgrade(app);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(app) = app.upgrade() else { return };
            app.send_limiter.retain_recent();
            app.send_limiter.shrink_to_fit();
            app.typing_limiter.retain_recent();
            app.typing_limiter.shrink_to_fit();
            realtime::stats::refresh_local_tenants(&app);
        }
    });
}
