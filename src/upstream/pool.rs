//! A lean HTTP/1.1 connection pool, one per upstream route. A request leases an idle
//! connection (or opens one within `upstream_connect`), and the lease goes back to the pool
//! when the response body has been read to its end; a body abandoned halfway takes its
//! connection with it, so a half-read response can never desync the next request. No
//! background task per request and no shared map on the hot path. With several shards, a
//! request takes a connection its own shard opened (the connection's task runs on that
//! thread), and another shard's only when no new one may be opened.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::uri::Authority;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::route::Upstream;
use crate::error::Reject;
use rustls::pki_types::ServerName;

/// Idle connections kept per upstream.
const MAX_IDLE: usize = 256;
/// Largest response head accepted from an upstream (a hostile one is refused, not buffered).
const MAX_RESPONSE_HEAD: usize = 64 * 1024;

/// A connection: its request sender, the shard whose thread runs it, and its share of the
/// upstream's connection cap.
#[derive(Debug)]
struct Sender {
    send: SendRequest<Full<Bytes>>,
    shard: usize,
    _permit: OwnedSemaphorePermit,
}

/// Connections to one upstream.
#[derive(Debug)]
pub struct ConnPool {
    authority: Authority,
    connect_timeout: Duration,
    idle: Mutex<Vec<Sender>>,
    /// Caps open connections to this upstream (busy and idle), so a flood of concurrent
    /// requests cannot exhaust file descriptors.
    permits: Arc<Semaphore>,
    /// For `https://` upstreams: TLS config and the name the certificate must carry.
    tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
}

/// A connection in use; [`Lease::release`] returns it once its response is complete.
#[derive(Debug)]
pub struct Lease {
    sender: Option<Sender>,
    pool: Arc<ConnPool>,
}

impl Lease {
    /// Returns the connection to the pool (its response must have been read to the end).
    pub fn release(mut self) {
        if let Some(sender) = self.sender.take()
            && !sender.send.is_closed()
        {
            let mut idle = self.pool.idle.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < MAX_IDLE {
                idle.push(sender);
            }
        }
    }
}

impl ConnPool {
    /// A pool for the upstream at `authority` with at most `max_connections` open.
    pub fn new(upstream: &Upstream, connect_timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            authority: upstream.authority.clone(),
            connect_timeout,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(upstream.max_connections)),
            tls: upstream.tls.clone(),
        })
    }

    /// Sends one request and waits for the response head. A request that never left the
    /// gateway (the pooled connection had just closed) is sent once more on a fresh
    /// connection; a request that was written is never retried.
    pub async fn send(self: &Arc<Self>, request: Request<Full<Bytes>>) -> Result<(Response<Incoming>, Lease), Reject> {
        let mut request = request;
        loop {
            let (mut sender, fresh) = match self.checkout().await {
                Some(sender) => (sender, false),
                // Boxed: connecting (TCP, TLS, handshake) is rare and its future large; inline
                // it would weigh on every request's future.
                None => (Box::pin(self.connect()).await?, true),
            };
            match sender.send.try_send_request(request).await {
                Ok(response) => {
                    return Ok((
                        response,
                        Lease {
                            sender: Some(sender),
                            pool: Arc::clone(self),
                        },
                    ));
                }
                Err(mut error) => match error.take_message() {
                    Some(unsent) if !fresh => request = unsent,
                    _ => {
                        tracing::warn!(error = %error.error(), upstream = %self.authority, "upstream request failed");
                        return Err(Reject::UpstreamUnavailable);
                    }
                },
            }
        }
    }

    /// The most recently used idle connection of this shard that is still open and ready;
    /// another shard's when this one has none and the cap allows no new connection.
    async fn checkout(&self) -> Option<Sender> {
        let shard = super::shard::current();
        loop {
            let mut sender = {
                let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
                match idle.iter().rposition(|s| s.shard == shard) {
                    Some(at) => idle.remove(at),
                    None if self.permits.available_permits() == 0 => idle.pop()?,
                    None => return None,
                }
            };
            if sender.send.is_closed() {
                continue;
            }
            // A connection released the moment its body ended may need its task to run once
            // before it takes the next request.
            if sender.send.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    async fn connect(&self) -> Result<Sender, Reject> {
        // Waiting for a free slot counts against the connect deadline.
        let started = tokio::time::Instant::now();
        let permit = match tokio::time::timeout(self.connect_timeout, Arc::clone(&self.permits).acquire_owned()).await {
            Ok(Ok(permit)) => permit,
            _ => {
                tracing::warn!(upstream = %self.authority, "upstream connection limit reached");
                return Err(Reject::UpstreamUnavailable);
            }
        };
        let left = self.connect_timeout.saturating_sub(started.elapsed());
        let host = self.authority.host().trim_start_matches('[').trim_end_matches(']');
        let address = (host, self.authority.port_u16().unwrap_or(80));
        let stream = self.within(left, "connect", "", TcpStream::connect(address)).await?;
        let _ = stream.set_nodelay(true);
        let send = match &self.tls {
            None => self.handshake(stream).await?,
            Some((config, name)) => {
                let connector = tokio_rustls::TlsConnector::from(Arc::clone(config));
                let left = self.connect_timeout.saturating_sub(started.elapsed());
                let stream = self
                    .within(
                        left,
                        "TLS handshake",
                        " (certificate?)",
                        connector.connect(name.clone(), stream),
                    )
                    .await?;
                self.handshake(stream).await?
            }
        };
        Ok(Sender {
            send,
            shard: super::shard::current(),
            _permit: permit,
        })
    }

    /// One connection step within `left`: a failure (logged with `hint`) or a timeout is
    /// logged and refused with 502.
    async fn within<T, E: std::fmt::Display>(
        &self,
        left: Duration,
        step: &str,
        hint: &str,
        future: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, Reject> {
        match tokio::time::timeout(left, future).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                tracing::warn!(%error, upstream = %self.authority, "upstream {step} failed{hint}");
                Err(Reject::UpstreamUnavailable)
            }
            Err(_) => {
                tracing::warn!(upstream = %self.authority, "upstream {step} timed out");
                Err(Reject::UpstreamUnavailable)
            }
        }
    }

    /// HTTP/1.1 over an open stream; the connection runs in its own task.
    async fn handshake<I>(&self, io: I) -> Result<SendRequest<Full<Bytes>>, Reject>
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (send, connection) = http1::Builder::new()
            .max_buf_size(MAX_RESPONSE_HEAD)
            .handshake(TokioIo::new(io))
            .await
            .map_err(|error| {
                tracing::warn!(%error, upstream = %self.authority, "upstream handshake failed");
                Reject::UpstreamUnavailable
            })?;
        let authority = self.authority.clone();
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, upstream = %authority, "upstream connection ended");
            }
        });
        Ok(send)
    }
}
