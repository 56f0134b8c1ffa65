//! The service status of a tenant (docs/protocol.md §3 `ServiceStatus`):
//! open within business hours, how many agents are routable, and the
//! tenant's offline message.

use chrono::Utc;
use sea_orm::ConnectionTrait;
use serde::Serialize;

use super::settings::{self, Defaults};
use crate::error::AppResult;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStatus {
    /// Within business hours (always true without them).
    pub open: bool,
    #[schema(minimum = 0)]
    pub available_agents: i64,
    #[schema(required)]
    pub offline_message: Option<String>,
}

pub async fn status(
    db: &impl ConnectionTrait,
    defaults: &Defaults,
    tenant: &str,
) -> AppResult<ServiceStatus> {
    let settings = settings::load(db, defaults, tenant).await?;
    Ok(ServiceStatus {
        open: settings
            .business_hours
            .as_ref()
            .is_none_or(|hours| hours.is_open(Utc::now())),
        available_agents: super::sql::available_count(db, tenant).await?,
        offline_message: settings.offline_message,
    })
}
