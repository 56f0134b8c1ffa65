//! The integration settings (docs/protocol.md §10): flags with
//! environment fallbacks, flattened into the server's configuration.

use std::time::Duration;

use clap::Args;
use clap::builder::BoolishValueParser;

use super::WebhookConfig;

#[derive(Clone, Debug, Args)]
pub struct IntegrationConfig {
    /// Seconds before each retry of a failed webhook delivery,
    /// comma-separated; after the last the delivery is `failed`.
    #[arg(
        long,
        env = "WEBHOOK_RETRY_SCHEDULE",
        default_value = "5,300,1800,7200,18000,36000,36000",
        value_parser = super::parse_schedule,
        global = true
    )]
    pub webhook_retry_schedule: Schedule,
    /// A delivery attempt that has not answered 2xx within this many
    /// seconds failed.
    #[arg(long, env = "WEBHOOK_TIMEOUT_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300), global = true)]
    pub webhook_timeout_seconds: u64,
    /// Let webhooks reach loopback, private, link-local and unique-local
    /// addresses (a receiver on the same network; tests).
    #[arg(long, env = "WEBHOOK_ALLOW_PRIVATE_NETWORKS", value_parser = BoolishValueParser::new(), global = true)]
    pub webhook_allow_private_networks: bool,
    /// Webhook requests in flight from this node.
    #[arg(long, env = "WEBHOOK_CONCURRENCY", default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=1000), global = true)]
    pub webhook_concurrency: u16,
    /// Webhook requests in flight from this node to one endpoint.
    #[arg(long, env = "WEBHOOK_PER_ENDPOINT", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=100), global = true)]
    pub webhook_per_endpoint: u16,
    /// Ended deliveries (and their events) are deleted after this many
    /// days.
    #[arg(long, env = "WEBHOOK_RETENTION_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3650), global = true)]
    pub webhook_retention_days: u32,
    /// Server API requests per second per API key, on each node.
    #[arg(long, env = "SERVER_API_RATE_PER_SECOND", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..), global = true)]
    pub server_api_rate_per_second: u32,
    /// Server API burst per API key.
    #[arg(long, env = "SERVER_API_BURST", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..), global = true)]
    pub server_api_burst: u32,
}

/// A retry schedule, in seconds.
pub type Schedule = Vec<u64>;

impl IntegrationConfig {
    pub fn webhooks(&self) -> WebhookConfig {
        WebhookConfig {
            schedule: self.webhook_retry_schedule.clone(),
            timeout: Duration::from_secs(self.webhook_timeout_seconds),
            allow_private: self.webhook_allow_private_networks,
            concurrency: self.webhook_concurrency.into(),
            per_endpoint: self.webhook_per_endpoint.into(),
            retention: Duration::from_secs(u64::from(self.webhook_retention_days) * 86_400),
        }
    }
}
