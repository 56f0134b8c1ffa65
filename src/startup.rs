//! Builds the application (database, Socket.IO layer, REST router, static
//! files), binds its listener, serves it and shuts it down gracefully.

mod attachments;
mod cors;
mod housekeeping;
mod routing;
mod serve;
mod static_files;

use socketioxide::adapter::Adapter;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use futures_util::future::BoxFuture;
use sea_orm::DatabaseConnection;
use socketioxide::{SocketIo, SocketIoBuilder};
use socketioxide_redis::{CustomRedisAdapter, RedisAdapterConfig, RedisAdapterCtr};
use tokio::net::{TcpListener, TcpSocket};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::app::{App, AppState};
use crate::auth::{KeySource, Verifier};
use crate::chat::attachments::Attachments;
use crate::config::{ServerConfig, redact_url};
use crate::error::AppError;
use crate::redis_driver::ReconnectingDriver;
use crate::shutdown::InFlight;
use crate::{db, http, realtime};

/// The server, bound and ready to serve. Not generic: the adapter (local
/// or Redis) is chosen at build time and hidden behind `close_sockets`.
pub struct Application {
    listener: TcpListener,
    router: Router,
    limits: serve::Limits,
    /// `--metrics-addr`: its own listener and router, when set.
    metrics: Option<(TcpListener, Router)>,
    db: DatabaseConnection,
    in_flight: InFlight,
    close_sockets: Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>,
    grace: Duration,
}

impl Application {
    pub async fn build(config: ServerConfig) -> anyhow::Result<Self> {
        let (verifier, source) = Verifier::from_config(&config)?;
        warn_about_development_mode(&config, &source);
        let files = attachments::open(&config, &source)?;
        let db = db::connect(&config).await?;
        db::migrate(&db.writer).await?;
        db::spawn_optimizer(&db.writer, &config);
        tracing::info!(database = %redact_url(&config.database_url), "database ready");
        let listener = bind(config.listen_addr())?;
        let metrics_listener = match config.metrics_addr {
            Some(addr) if config.metrics_enabled => Some(bind(addr)?),
            _ => None,
        };

        match config.redis_url.clone() {
            None => {
                let parts = assemble(config, db, verifier, files, None, SocketIo::builder());
                realtime::register(&parts.io);
                parts.into_application(listener, metrics_listener).await
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
                let parts = assemble(config, db, verifier, files, Some(driver), builder);
                realtime::register(&parts.io)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot start the Redis adapter: {e}"))?;
                tracing::info!(redis = %redact_url(&url), "Redis adapter ready");
                parts.into_application(listener, metrics_listener).await
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
        let metrics = self.metrics.map(|(listener, router)| {
            if let Ok(addr) = listener.local_addr() {
                tracing::info!("metrics on http://{addr}/metrics");
            }
            tokio::spawn(axum::serve(listener, router).into_future())
        });
        // Cancelled before the sockets are closed, so that they close
        // without a reset (`serve::Tracked`).
        let stopping = tokio_util::sync::CancellationToken::new();
        let mut serve = tokio::spawn(serve::serve(
            self.listener,
            self.router,
            self.limits,
            stopping.clone(),
        ));
        tokio::select! {
            result = &mut serve => {
                // The listener failed on its own: nothing left to drain.
                result??;
                return Ok(());
            }
            () = shutdown => {}
        }
        tracing::info!("shutting down: finishing events in flight");
        stopping.cancel();
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
        if let Some(metrics) = metrics {
            metrics.abort();
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

/// What [`assemble`] built, before the namespace is registered.
struct Parts<A: Adapter> {
    io: SocketIo<A>,
    app: AppState<A>,
    router: Router,
}

impl<A: Adapter> Parts<A> {
    async fn into_application(
        self,
        listener: TcpListener,
        metrics_listener: Option<TcpListener>,
    ) -> anyhow::Result<Application> {
        housekeeping::spawn_housekeeping(&self.app);
        attachments::spawn_sweep(&self.app);
        routing::start(&self.app).await?;
        let stop_webhooks = tokio_util::sync::CancellationToken::new();
        let webhooks = self.app.webhooks.spawn(stop_webhooks.clone());
        let metrics = metrics_listener.map(|l| (l, metrics_router(&self.app)));
        let io = self.io;
        let app = self.app.clone();
        Ok(Application {
            listener,
            router: self.router,
            limits: serve::Limits::from_config(&self.app.config),
            metrics,
            db: self.app.db.clone(),
            in_flight: self.app.in_flight.clone(),
            close_sockets: Box::new(move || {
                Box::pin(async move {
                    // Attempts in flight end (within their timeout); what
                    // they leave is attempted again once its lease runs out.
                    stop_webhooks.cancel();
                    let _ = webhooks.await;
                    io.close().await;
                    // This node's agents are offline now, not when its lease runs out.
                    if let Err(err) = app.actions.leave().await {
                        tracing::warn!(code = err.code().as_str(), "presence not cleared");
                    }
                })
            }),
            grace: Duration::from_secs(self.app.config.shutdown_timeout_seconds),
        })
    }
}

/// The app state, the Socket.IO layer and the router, for any adapter.
fn assemble<A: Adapter>(
    config: ServerConfig,
    db: db::Databases,
    verifier: Verifier,
    files: Attachments,
    redis: Option<ReconnectingDriver>,
    builder: SocketIoBuilder<A>,
) -> Parts<A> {
    let app: AppState<A> = Arc::new(App::new(db, verifier, files, config.clone(), redis));
    let (layer, io) = builder
        .with_state(app.clone())
        .max_payload(config.max_payload)
        .ws_max_message_size(config.ws_max_message_size)
        .ws_max_frame_size(config.ws_max_message_size)
        // Chat frames are small; the buffer grows for a big one. The
        // default (4 KiB per socket) is a third of an idle socket's memory.
        .ws_read_buffer_size(WS_READ_BUFFER_SIZE)
        // A connection that has not joined /chat by then is closed: until
        // it does, it holds its handshake for nothing.
        .connect_timeout(Duration::from_secs(config.connect_timeout_seconds.max(1)))
        .build_layer();
    app.set_io(io.clone());
    let mut router = http::router(&app);
    if config.metrics_addr.is_some() {
        router = router.layer(middleware::from_fn(metrics_elsewhere));
    }
    let router = router
        .route("/api/{*rest}", any(unknown_route))
        .route("/ws/{*rest}", any(unknown_route))
        .fallback_service(static_files::service(&config.static_dir))
        .layer(layer)
        .layer(middleware::from_fn_with_state(
            config.socket_header_max_bytes,
            http::compact_head::compact_head,
        ))
        .layer(cors::cors(&config))
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
        .layer(hsts(&config))
        // Spans name the path, never the query: a `?token=` is a credential.
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                tracing::debug_span!(
                    "request",
                    method = %request.method(),
                    path = %request.uri().path(),
                    version = ?request.version(),
                )
            }),
        )
        .with_state(app.clone());
    Parts { io, app, router }
}

/// `--hsts`: browsers keep to HTTPS for a year (only behind TLS).
fn hsts(
    config: &ServerConfig,
) -> tower::util::Either<SetResponseHeaderLayer<HeaderValue>, tower::layer::util::Identity> {
    if config.hsts {
        tower::util::Either::Left(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        ))
    } else {
        tower::util::Either::Right(tower::layer::util::Identity::new())
    }
}

/// With `--metrics-addr`, `/metrics` is not on the public port.
async fn metrics_elsewhere(request: Request, next: Next) -> Response {
    if request.uri().path() == "/metrics" {
        return StatusCode::NOT_FOUND.into_response();
    }
    next.run(request).await
}

/// The router of `--metrics-addr`: `/metrics` alone.
fn metrics_router<A: Adapter>(app: &AppState<A>) -> Router {
    let app = app.clone();
    Router::new().route(
        "/metrics",
        get(move || async move {
            (
                [(
                    header::CONTENT_TYPE,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                )],
                app.metrics.render(),
            )
        }),
    )
}

/// Development mode says so loudly, once per line, so that no one mistakes
/// it for a production server in a log.
fn warn_about_development_mode(config: &ServerConfig, source: &KeySource) {
    if !config.dev_mode() {
        return;
    }
    let why = match source {
        KeySource::Generated(_) => "no JWT_SECRET or JWT_PUBLIC_KEY_FILE is configured",
        KeySource::Configured => "--dev was given",
    };
    let cors = if config.cors_origins.is_some() {
        "CORS_ORIGINS"
    } else {
        "loopback origins only"
    };
    let addr = config.listen_addr();
    tracing::warn!("################################################################");
    tracing::warn!("##  DEVELOPMENT MODE: {why}");
    tracing::warn!("##  anyone who can reach {addr} can mint any token (POST /api/dev/token)");
    tracing::warn!("##  CORS: {cors}; never run this in production");
    if let KeySource::Generated(secret) = source {
        tracing::warn!(jwt_secret = %secret, "##  tokens are signed with this random secret");
    }
    tracing::warn!("################################################################");
}

async fn unknown_route() -> AppError {
    AppError::NotFound("no such route".into())
}
