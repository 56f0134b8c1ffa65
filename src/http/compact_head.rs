//! Copy the head of a Socket.IO request out of hyper's read buffer.
//!
//! hyper parses a request's URI and header values as slices of the
//! connection's read buffer (16 KiB after the first reads), axum's router
//! keeps a clone of that URI in the extensions (`OriginalUri`), and
//! engineioxide keeps the request's `Parts` for as long as the socket
//! lives. One slice would so pin the whole buffer of every connected
//! socket (heaptrack: 16 KiB of the ~36 KiB of heap an idle socket held).
//! Copied here, each value costs its own length, and only the headers
//! the server reads are kept: a socket that never joins a namespace must
//! not pin a 380 KB header for its `connect_timeout`. A head larger than
//! `--socket-header-max-bytes` is refused with 431 before any of that.

use axum::extract::{OriginalUri, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Where socketioxide serves Engine.IO (its default `req_path`, which
/// `startup` keeps). Other requests do not outlive their response.
const ENGINE_IO_PATH: &str = "/socket.io/";

/// The headers read on `/socket.io/` after this layer: the token
/// (`realtime::connection::token_of`), the websocket handshake
/// (engineioxide), the polling body's type, and what a log or a handler
/// may want to know of the peer. Add a header here before reading it.
const KEPT: [HeaderName; 10] = [
    header::AUTHORIZATION,
    header::HOST,
    header::ORIGIN,
    header::UPGRADE,
    header::CONNECTION,
    header::SEC_WEBSOCKET_KEY,
    header::SEC_WEBSOCKET_VERSION,
    header::SEC_WEBSOCKET_PROTOCOL,
    header::CONTENT_TYPE,
    header::CONTENT_LENGTH,
];

/// Middleware: on `/socket.io/`, 431 for a head over `max_bytes`, else
/// the request with its URI and kept headers in allocations of their own;
/// any other request as it is.
pub async fn compact_head(
    State(max_bytes): State<usize>,
    request: Request,
    next: Next,
) -> Response {
    match prepare(request, max_bytes) {
        Ok(request) => next.run(request).await,
        Err(status) => status.into_response(),
    }
}

fn prepare(request: Request, max_bytes: usize) -> Result<Request, StatusCode> {
    if !request.uri().path().starts_with(ENGINE_IO_PATH) {
        return Ok(request);
    }
    if head_size(&request) > max_bytes {
        return Err(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    }
    Ok(compact(request))
}

/// The request line's URI and every header line, as sent.
fn head_size(request: &Request) -> usize {
    let headers: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    request.uri().to_string().len() + headers
}

fn compact(request: Request) -> Request {
    let (mut parts, body) = request.into_parts();
    parts.uri = copy_uri(&parts.uri);
    if let Some(OriginalUri(original)) = parts.extensions.get_mut::<OriginalUri>() {
        *original = copy_uri(original);
    }
    parts.headers = copy_headers(&parts.headers);
    Request::from_parts(parts, body)
}

fn copy_uri(uri: &Uri) -> Uri {
    // A URI hyper accepted parses again; keep the original if not.
    Uri::try_from(uri.to_string()).unwrap_or_else(|_| uri.clone())
}

fn copy_headers(headers: &HeaderMap) -> HeaderMap {
    let kept = |(name, _): &(&HeaderName, &HeaderValue)| KEPT.contains(name);
    // Sized for what is kept: the map lives as long as the socket, and a
    // map sized for every name of KEPT costs about 1 KiB per socket.
    let mut copy = HeaderMap::with_capacity(headers.iter().filter(kept).count());
    for (name, value) in headers.iter().filter(kept) {
        let mut fresh = HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone());
        fresh.set_sensitive(value.is_sensitive());
        copy.append(name.clone(), fresh);
    }
    copy
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{Body, Bytes};

    /// A request whose URI and header value are slices of one buffer, as
    /// hyper parses them.
    fn parsed_like_hyper(buffer: &Bytes) -> Request {
        let uri = Uri::from_maybe_shared(buffer.slice(0..37)).unwrap();
        let key = HeaderValue::from_maybe_shared(buffer.slice(38..)).unwrap();
        let mut request = Request::builder()
            .uri(uri.clone())
            .header("sec-websocket-key", key)
            .header("authorization", "Bearer a")
            .header("authorization", "Bearer b")
            .header("cookie", "a=1")
            .header("x-padding", "x".repeat(1000))
            .body(Body::empty())
            .unwrap();
        request.extensions_mut().insert(OriginalUri(uri));
        request
    }

    fn inside(buffer: &Bytes, bytes: &[u8]) -> bool {
        buffer.as_ptr_range().contains(&bytes.as_ptr())
    }

    #[test]
    fn keeps_the_headers_read_and_the_uri_in_buffers_of_their_own() {
        let buffer =
            Bytes::from_static(b"/socket.io/?EIO=4&transport=websocket dGhlIHNhbXBsZSBub25jZQ==");
        let request = parsed_like_hyper(&buffer);
        assert!(inside(
            &buffer,
            request.headers()["sec-websocket-key"].as_bytes()
        ));

        assert!(head_size(&request) > 1000);
        assert_eq!(
            prepare(parsed_like_hyper(&buffer), 1000).unwrap_err(),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );
        let compacted = prepare(request, 16 * 1024).unwrap();

        let uri = "/socket.io/?EIO=4&transport=websocket";
        assert_eq!(compacted.uri(), uri);
        let OriginalUri(original) = compacted.extensions().get().unwrap();
        assert_eq!(original, uri);
        let key = &compacted.headers()["sec-websocket-key"];
        assert_eq!(key, "dGhlIHNhbXBsZSBub25jZQ==");
        let tokens: Vec<_> = compacted
            .headers()
            .get_all("authorization")
            .iter()
            .collect();
        assert_eq!(tokens, ["Bearer a", "Bearer b"]);
        assert!(compacted.headers().get("cookie").is_none());
        assert!(compacted.headers().get("x-padding").is_none());

        assert!(!inside(&buffer, key.as_bytes()));
        let paths = [compacted.uri().path(), original.path()];
        assert!(paths.iter().all(|path| !inside(&buffer, path.as_bytes())));
    }

    #[test]
    fn leaves_other_requests_alone() {
        let buffer = Bytes::from_static(b"/api/chat/sessions x");
        let uri = Uri::from_maybe_shared(buffer.slice(0..18)).unwrap();
        let request = Request::builder()
            .uri(uri)
            .header(
                "authorization",
                HeaderValue::from_maybe_shared(buffer.slice(19..)).unwrap(),
            )
            .body(Body::empty())
            .unwrap();

        let same = prepare(request, 1).unwrap();

        assert!(inside(&buffer, same.uri().path().as_bytes()));
        assert!(inside(&buffer, same.headers()["authorization"].as_bytes()));
    }
}
