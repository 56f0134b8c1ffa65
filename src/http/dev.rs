//! `POST /api/dev/token`: demo tokens, in development mode only (the route
//! does not exist otherwise).

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;
use socketioxide::adapter::Adapter;
use utoipa::{OpenApi, ToSchema};

use super::JsonBody;
use crate::app::AppState;
use crate::chat::input::{Fields, parse_id};
use crate::chat::{MAX_TENANT_CHARS, Role, is_valid_tenant};
use crate::error::{AppError, AppResult, ErrorResponse};

/// This module's part of the OpenAPI document (`super::openapi`), served
/// only in development mode, like the route.
#[derive(OpenApi)]
#[openapi(paths(mint_token))]
pub struct DevApi;

// The body `mint_token` reads, as a type for the OpenAPI document.

/// `POST /api/dev/token`.
#[derive(Serialize, ToSchema)]
pub struct DevTokenBody {
    /// The user id (a number is taken as its decimal string).
    #[schema(value_type = String)]
    pub sub: Value,
    /// customer (default), agent or admin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 100)]
    pub name: Option<String>,
    /// Absent: `default`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 128)]
    pub tenant: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DevToken {
    /// An HS256 JWT valid for a day.
    pub token: String,
}

/// Demo tokens last a day.
const TTL_SECONDS: u64 = 86_400;

pub fn router<A: Adapter>() -> Router<AppState<A>> {
    Router::new().route("/api/dev/token", post(mint_token::<A>))
}

/// A demo token (development mode only: the route does not exist otherwise).
#[utoipa::path(
    post,
    path = "/api/dev/token",
    tag = "dev",
    request_body = DevTokenBody,
    responses((status = 200, body = DevToken), (status = 400, body = ErrorResponse)),
)]
async fn mint_token<A: Adapter>(
    State(app): State<AppState<A>>,
    JsonBody(body): JsonBody,
) -> AppResult<Json<DevToken>> {
    let fields = Fields::of(&body)?;
    let sub = match body.get("sub") {
        Some(Value::Number(n)) => n.to_string(),
        _ => fields.id("sub")?,
    };
    let role = fields.opt_str("role")?.unwrap_or("customer");
    let role = Role::from_token(role)
        .ok_or_else(|| AppError::invalid("role must be customer, agent or admin"))?;
    let name = fields.opt_text("name", 100)?;
    let tenant = fields
        .opt_str("tenant")?
        .map(|t| parse_id(t, "tenant"))
        .transpose()?;
    if tenant.as_ref().is_some_and(|t| !is_valid_tenant(t)) {
        return Err(AppError::invalid(format!(
            "tenant is longer than {MAX_TENANT_CHARS} characters"
        )));
    }
    let token = app
        .verifier
        .mint(
            &sub,
            role.as_str(),
            name.as_deref(),
            tenant.as_deref(),
            TTL_SECONDS,
        )
        .ok_or_else(|| AppError::Internal("dev tokens need an HS256 secret".into()))?;
    Ok(Json(DevToken { token }))
}
