//! `GET /health` and `GET /metrics`.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use socketioxide::adapter::Adapter;
use utoipa::{OpenApi, ToSchema};

use crate::app::AppState;

/// This module's part of the OpenAPI document (`super::openapi`).
#[derive(OpenApi)]
#[openapi(paths(health, metrics))]
pub struct HealthApi;

#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(pattern = "^(ok|degraded)$")]
    pub status: &'static str,
    #[schema(pattern = "^(ok|unavailable)$")]
    pub database: &'static str,
    /// `local` (one node), `redis`, or `unavailable`.
    #[schema(pattern = "^(local|redis|unavailable)$")]
    pub adapter: &'static str,
    pub version: &'static str,
}

pub fn router<A: Adapter>() -> Router<AppState<A>> {
    Router::new()
        .route("/health", get(health::<A>))
        .route("/metrics", get(metrics::<A>))
}

/// 200 `ok` while the database takes writes, 503 `degraded` when it does not.
#[utoipa::path(
    get,
    path = "/health",
    tag = "health",
    responses(
        (status = 200, description = "The database takes writes (`degraded` when the Redis adapter is down)", body = Health),
        (status = 503, description = "The database is unreachable", body = Health),
    ),
)]
async fn health<A: Adapter>(State(app): State<AppState<A>>) -> Response {
    let database = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        crate::db::writable(&app.db),
    )
    .await;
    let up = matches!(database, Ok(Ok(())));
    let adapter = match &app.redis {
        None => "local",
        Some(driver) if driver.is_up() => "redis",
        Some(_) => "unavailable",
    };
    let body = Health {
        status: if up && adapter != "unavailable" {
            "ok"
        } else {
            "degraded"
        },
        database: if up { "ok" } else { "unavailable" },
        adapter,
        version: env!("CARGO_PKG_VERSION"),
    };
    let status = if up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// Prometheus metrics (OpenMetrics text); 404 when `--metrics` is off.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    responses(
        (status = 200, content_type = "application/openmetrics-text", body = String),
        (status = 404, description = "Metrics are disabled (no body)"),
    ),
)]
async fn metrics<A: Adapter>(State(app): State<AppState<A>>) -> Response {
    if !app.config.metrics_enabled {
        return StatusCode::NOT_FOUND.into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}
