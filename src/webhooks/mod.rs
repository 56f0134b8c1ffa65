//! Delivering the webhook outbox (docs/protocol.md §10) over HTTP: which
//! addresses may be called ([`address`]), the Standard Webhooks signature
//! ([`sign`]), and the workers every node runs ([`worker`]).

pub mod address;
pub mod config;
pub mod sign;
pub mod worker;

use std::time::Duration;

/// How deliveries are attempted.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// Seconds to wait before each retry; its length is the number of
    /// retries.
    pub schedule: Vec<u64>,
    /// An attempt that has not answered 2xx by then failed.
    pub timeout: Duration,
    /// Allow loopback, private, link-local and unique-local addresses.
    pub allow_private: bool,
    /// Requests in flight from this node.
    pub concurrency: usize,
    /// Requests in flight from this node to one endpoint.
    pub per_endpoint: usize,
    /// Ended deliveries are kept this long.
    pub retention: Duration,
}

/// `5,300,1800`: seconds, comma-separated.
pub fn parse_schedule(raw: &str) -> Result<Vec<u64>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<u64>()
                .map_err(|_| format!("{s:?} is not a number of seconds"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_are_seconds() {
        assert_eq!(parse_schedule("5, 300,1800").unwrap(), vec![5, 300, 1800]);
        assert_eq!(parse_schedule("").unwrap(), Vec::<u64>::new());
        assert!(parse_schedule("5,soon").is_err());
    }
}
