//! The pooled HTTP client to upstreams: kept-alive connections, connect and response-header
//! deadlines, and the mapping of failures to 502 / 504.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::error::Reject;

/// Client to every upstream; one pool per upstream authority.
#[derive(Clone, Debug)]
pub struct UpstreamClient {
    client: Client<HttpConnector, Full<Bytes>>,
    response_timeout: Duration,
}

impl UpstreamClient {
    /// A client with the given connect and response-header deadlines.
    pub fn new(connect_timeout: Duration, response_timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(connect_timeout));
        connector.set_nodelay(true);
        connector.set_keepalive(Some(Duration::from_secs(60)));
        let client = Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(256)
            // A hostile upstream's giant response head is refused, not buffered.
            .http1_max_buf_size(64 * 1024)
            .build(connector);
        Self {
            client,
            response_timeout,
        }
    }

    /// Sends one request; waits at most the response deadline for the response head.
    /// Never retries: a `tools/call` may not be idempotent.
    pub async fn send(&self, request: Request<Full<Bytes>>) -> Result<Response<Incoming>, Reject> {
        match tokio::time::timeout(self.response_timeout, self.client.request(request)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(error)) => {
                tracing::warn!(error = %error_chain(&error), connect = error.is_connect(), "upstream request failed");
                Err(Reject::UpstreamUnavailable)
            }
            Err(_) => {
                tracing::warn!(timeout = ?self.response_timeout, "upstream response timed out");
                Err(Reject::UpstreamTimeout)
            }
        }
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
