//! CORS: the configured origins, or in development mode the loopback ones.

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use crate::config::ServerConfig;

/// CORS_ORIGINS when set; otherwise loopback origins in development mode
/// (docs/protocol.md §1), none outside it (no CORS headers at all).
pub(super) fn cors(config: &ServerConfig) -> CorsLayer {
    let origin = match &config.cors_origins {
        Some(list) => AllowOrigin::list(
            list.iter()
                .filter_map(|o| HeaderValue::from_str(o.trim()).ok())
                .collect::<Vec<_>>(),
        ),
        None if config.dev_mode() => {
            AllowOrigin::predicate(|origin, _| origin.to_str().is_ok_and(is_loopback_origin))
        }
        None => return CorsLayer::new(),
    };
    CorsLayer::new()
        .allow_origin(origin)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers(AllowHeaders::list([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("x-requested-with"),
        ]))
        .allow_credentials(true)
}

/// `http://localhost`, `http://127.0.0.1` or `http://[::1]`, with any port.
fn is_loopback_origin(origin: &str) -> bool {
    let Some(rest) = origin.strip_prefix("http://") else {
        return false;
    };
    ["localhost", "127.0.0.1", "[::1]"].iter().any(|host| {
        rest.strip_prefix(host).is_some_and(|port| {
            port.is_empty()
                || port
                    .strip_prefix(':')
                    .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_http_origins_are_loopback() {
        for yes in [
            "http://localhost:5173",
            "http://127.0.0.1:3001",
            "http://[::1]:8080",
            "http://localhost",
        ] {
            assert!(is_loopback_origin(yes), "{yes}");
        }
        for no in [
            "https://evil.example",
            "http://localhost.evil.example",
            "http://127.0.0.1.nip.io:3001",
            "http://localhost:",
            "http://localhost:80x",
            "https://localhost:5173",
            "null",
        ] {
            assert!(!is_loopback_origin(no), "{no}");
        }
    }
}
