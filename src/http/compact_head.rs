//! Copy the head of a Socket.IO request out of hyper's read buffer.
//!
//! hyper parses a request's URI and header values as slices of the
//! connection's read buffer (16 KiB after the first reads), axum's router
//! keeps a clone of that URI in the extensions (`OriginalUri`), and
//! engineioxide keeps the request's `Parts` for as long as the socket
//! lives. One slice would so pin the whole buffer of every connected
//! socket (heaptrack: 16 KiB of the ~36 KiB of heap an idle socket held).
//! Copied here, each value costs its own length.

use axum::extract::{OriginalUri, Request};
use axum::http::{HeaderMap, HeaderValue, Uri};

/// Where socketioxide serves Engine.IO (its default `req_path`, which
/// `startup` keeps). Other requests do not outlive their response.
const ENGINE_IO_PATH: &str = "/socket.io/";

/// A Socket.IO request with its URI and header values in allocations of
/// their own; any other request as it is.
pub fn compact_head(request: Request) -> Request {
    if !request.uri().path().starts_with(ENGINE_IO_PATH) {
        return request;
    }
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
    let mut copy = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
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
            .header("cookie", "a=1")
            .header("cookie", "b=2")
            .body(Body::empty())
            .unwrap();
        request.extensions_mut().insert(OriginalUri(uri));
        request
    }

    fn inside(buffer: &Bytes, bytes: &[u8]) -> bool {
        buffer.as_ptr_range().contains(&bytes.as_ptr())
    }

    #[test]
    fn keeps_every_header_and_the_uri_in_buffers_of_their_own() {
        let buffer =
            Bytes::from_static(b"/socket.io/?EIO=4&transport=websocket dGhlIHNhbXBsZSBub25jZQ==");
        let request = parsed_like_hyper(&buffer);
        assert!(inside(
            &buffer,
            request.headers()["sec-websocket-key"].as_bytes()
        ));

        let compacted = compact_head(request);

        let uri = "/socket.io/?EIO=4&transport=websocket";
        assert_eq!(compacted.uri(), uri);
        let OriginalUri(original) = compacted.extensions().get().unwrap();
        assert_eq!(original, uri);
        let key = &compacted.headers()["sec-websocket-key"];
        assert_eq!(key, "dGhlIHNhbXBsZSBub25jZQ==");
        let cookies: Vec<_> = compacted.headers().get_all("cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);

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

        let same = compact_head(request);

        assert!(inside(&buffer, same.uri().path().as_bytes()));
        assert!(inside(&buffer, same.headers()["authorization"].as_bytes()));
    }
}
