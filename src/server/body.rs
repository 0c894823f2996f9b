//! `GatewayBody`: the one response body type the gateway serves (public and admin listener),
//! either a complete body it made itself or an upstream body streamed through
//! [`crate::upstream::ProxyBody`].

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body::{Body, Frame, SizeHint};

use crate::upstream::{BoxError, ProxyBody};

/// A response body.
#[derive(Debug)]
pub enum GatewayBody {
    /// A complete body (taken on first poll).
    Full(Option<Bytes>),
    /// An upstream body streamed through.
    Proxy(Box<ProxyBody>),
    /// Chunks a task of the gateway sends (the dashboard's event stream); ends when it stops.
    Feed(tokio::sync::mpsc::Receiver<Bytes>),
}

impl GatewayBody {
    /// A complete body.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        Self::Full(Some(bytes.into()))
    }

    /// A body streamed from `feed`.
    pub fn feed(feed: tokio::sync::mpsc::Receiver<Bytes>) -> Self {
        Self::Feed(feed)
    }

    /// An empty body.
    pub fn empty() -> Self {
        Self::Full(None)
    }
}

impl Body for GatewayBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            Self::Full(bytes) => Poll::Ready(bytes.take().filter(|b| !b.is_empty()).map(|b| Ok(Frame::data(b)))),
            Self::Proxy(proxy) => Pin::new(proxy.as_mut()).poll_frame(cx),
            Self::Feed(feed) => feed.poll_recv(cx).map(|chunk| chunk.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Full(bytes) => bytes.as_ref().is_none_or(Bytes::is_empty),
            Self::Proxy(proxy) => proxy.is_end_stream(),
            Self::Feed(_) => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Self::Proxy(proxy) => proxy.size_hint(),
            Self::Feed(_) => SizeHint::default(),
        }
    }
}

/// A complete JSON response.
pub fn json_response(status: StatusCode, body: Bytes) -> Response<GatewayBody> {
    let mut response = Response::new(GatewayBody::full(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `Cache-Control: no-store` and `Pragma: no-cache`: answers that carry credentials (RFC 6749
/// §5.1) are never stored by a cache on the way.
pub fn no_store(headers: &mut http::HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}
