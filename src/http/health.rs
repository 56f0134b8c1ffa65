//! `GET /health` and `GET /metrics`.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use socketioxide::adapter::Adapter;

use crate::app::AppState;

pub fn router<A: Adapter>() -> Router<AppState<A>> {
    Router::new()
        .route("/health", get(health::<A>))
        .route("/metrics", get(metrics::<A>))
}

/// 200 `ok` while the database takes writes, 503 `degraded` when it does not.
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
    let body = json!({
        "status": if up && adapter != "unavailable" { "ok" } else { "degraded" },
        "database": if up { "ok" } else { "unavailable" },
        "adapter": adapter,
        "version": env!("CARGO_PKG_VERSION"),
    });
    let status = if up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

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
