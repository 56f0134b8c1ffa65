//! Refusing an upload without losing the answer. A server that answers
//! before reading the whole body (401 from the headers, 404, 409, or 413
//! at the limit) and then closes while body bytes are still arriving makes
//! the kernel reset the connection, and a client still writing its body
//! (a browser, Node's fetch) sees the reset, not the answer (RFC 9112
//! §9.6). So the body of an upload, dropped unread, is read on and thrown
//! away in the background for a bounded number of bytes and time (what
//! nginx calls a lingering close): nothing of it is kept, and past the
//! bounds the connection closes anyway.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use futures_util::StreamExt;
use http_body::{Frame, SizeHint};

/// How long a refused body is read on, at most.
const DRAIN_FOR: Duration = Duration::from_secs(10);

/// An upload's body that, dropped before its end, drains the rest (up to
/// `cap` bytes in all) in the background.
pub struct Drained {
    inner: Option<Body>,
    read: u64,
    cap: u64,
    ended: bool,
}

impl Drained {
    /// Wraps the request's body; `cap` bounds the bytes read in all.
    pub fn wrap(request: Request, cap: u64) -> Request {
        request.map(|body| {
            Body::new(Self {
                inner: Some(body),
                read: 0,
                cap,
                ended: false,
            })
        })
    }
}

impl HttpBody for Drained {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.read += data.len() as u64;
                }
            }
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => this.ended = true,
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(SizeHint::default, HttpBody::size_hint)
    }
}

impl Drop for Drained {
    fn drop(&mut self) {
        let Some(body) = self.inner.take() else {
            return;
        };
        if self.ended || body.is_end_stream() || self.read >= self.cap {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let left = self.cap - self.read;
        runtime.spawn(async move {
            let mut stream = body.into_data_stream();
            let mut read = 0u64;
            let _ = tokio::time::timeout(DRAIN_FOR, async {
                while let Some(Ok(chunk)) = stream.next().await {
                    read += chunk.len() as u64;
                    if read >= left {
                        break;
                    }
                }
            })
            .await;
        });
    }
}
