//! The built web client at `/`: files under `--static-dir` only (a symlink
//! that leads out of it is not served), no dotfile or dot-directory, and
//! `index.html` for any other path (client-side routes), all with the
//! client's Content-Security-Policy.

use std::path::{Component, Path, PathBuf};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

/// What the built client needs (index.html, /assets/*.js and *.css, an SVG
/// favicon, `data:` images in its CSS, its socket and REST calls to its own
/// origin) and nothing more: no inline script, no plugin, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The static files service for the router's fallback.
pub fn service(
    dir: &Path,
) -> impl Service<Request, Response = Response, Error = std::convert::Infallible, Future: Send>
+ Clone
+ Send
+ Sync
+ 'static {
    let root = std::fs::canonicalize(dir).ok();
    if root.is_none() {
        tracing::warn!(dir = %dir.display(), "static directory not found: / serves nothing");
    }
    let files = ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html")));
    let files = SetResponseHeaderLayer::if_not_present(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    )
    .layer(files);
    middleware::from_fn_with_state(root, refuse_outside).layer(files)
}

/// 404 for a path with a dot segment, or one that resolves outside the root.
async fn refuse_outside(
    State(root): State<Option<PathBuf>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(root) = root else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(relative) = relative_path(request.uri().path()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // A path that does not exist falls back to index.html; one that does
    // must stay inside the root once symlinks are resolved.
    if let Ok(real) = tokio::fs::canonicalize(root.join(&relative)).await
        && !real.starts_with(&root)
    {
        return StatusCode::NOT_FOUND.into_response();
    }
    next.run(request).await
}

/// The URL path as a relative file path; `None` for a segment that starts
/// with a dot (`.env`, `.git/`, `..`), that is not valid UTF-8 once
/// percent-decoded, or that holds a separator or a NUL.
fn relative_path(path: &str) -> Option<PathBuf> {
    let mut relative = PathBuf::new();
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        let decoded = percent_decode(segment)?;
        if decoded.starts_with('.') || decoded.contains(['/', '\\', '\0']) {
            return None;
        }
        let mut components = Path::new(&decoded).components();
        match (components.next(), components.next()) {
            (Some(Component::Normal(_)), None) => relative.push(&decoded),
            _ => return None,
        }
    }
    Some(relative)
}

fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_and_encoded_separators_are_refused() {
        for bad in [
            "/.env",
            "/.git/config",
            "/assets/.hidden",
            "/%2e%2e/etc/passwd",
            "/..",
            "/a%2Fb",
            "/a%00b",
            "/%ff",
        ] {
            assert_eq!(relative_path(bad), None, "{bad}");
        }
        assert_eq!(
            relative_path("/assets/index-1.js"),
            Some(PathBuf::from("assets/index-1.js"))
        );
        assert_eq!(relative_path("/"), Some(PathBuf::new()));
        assert_eq!(relative_path("/a%20b.txt"), Some(PathBuf::from("a b.txt")));
    }
}
