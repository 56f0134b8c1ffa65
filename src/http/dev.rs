//! `POST /api/dev/token`: demo tokens, in development mode only (the route
//! does not exist otherwise).

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use socketioxide::adapter::Adapter;

use super::JsonBody;
use crate::app::AppState;
use crate::chat::input::{Fields, parse_id};
use crate::chat::{MAX_TENANT_CHARS, Role, is_valid_tenant};
use crate::error::{AppError, AppResult};

/// Demo tokens last a day.
const TTL_SECONDS: u64 = 86_400;

pub fn router<A: Adapter>() -> Router<AppState<A>> {
    Router::new().route("/api/dev/token", post(mint_token::<A>))
}

async fn mint_token<A: Adapter>(
    State(app): State<AppState<A>>,
    JsonBody(body): JsonBody,
) -> AppResult<Json<Value>> {
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
    Ok(Json(json!({ "token": token })))
}
