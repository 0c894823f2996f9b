//! The accept loop: connection caps, deadlines, HTTP/1.1 + h2c (and TLS) on one port, graceful drain.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use super::ConnectionLimits;
use crate::gateway::Gateway;

/// The HTTP server settings for both listeners.
fn builder(gateway: &Gateway) -> auto::Builder<TokioExecutor> {
    let server = gateway.server_config();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(server.timeouts.header_read)
        .max_buf_size(server.max_header_bytes.max(8192))
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(server.max_concurrent_streams)
        .max_header_list_size(u32::try_from(server.max_header_bytes).unwrap_or(u32::MAX))
        .max_send_buf_size(1024 * 1024)
        .keep_alive_interval(Some(Duration::from_secs(30)));
    builder
}

/// Serves the public listener until `shutdown` resolves, then drains open connections for
/// at most `shutdown_grace`. `limits` are shared by every shard's listener.
pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    limits: Arc<ConnectionLimits>,
    shutdown: impl Future<Output = ()>,
) {
    let server = gateway.server_config().clone();
    let builder = Arc::new(builder(&gateway));
    let graceful = GracefulShutdown::new();
    let open_connections = gateway.metrics().open_connections();
    // Every connection task, so the ones still open when the grace period ends can be closed.
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(error) => {
                // EMFILE and friends: back off instead of spinning on the accept loop.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let slot = match limits.acquire(peer.ip()) {
            Ok(slot) => slot,
            Err(refused) => {
                gateway.metrics().refused_connection(refused.label());
                tracing::debug!(%peer, reason = refused.label(), "connection refused");
                drop(stream);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            gateway: Arc::clone(&gateway),
            builder: Arc::clone(&builder),
            watcher: graceful.watcher(),
            peer,
        };
        let gauge = open_connections.clone();
        gauge.inc();
        tasks.spawn(async move {
            // Drop guards: they also run when the task is aborted at the end of a drain.
            let _slot = slot;
            let _open = crate::upstream::OnClose::new(move || {
                gauge.dec();
            });
            connection.run(stream).await;
        });
    }
    drop(listener);
    tracing::info!(grace = ?server.timeouts.shutdown_grace, "draining connections");
    if tokio::time::timeout(server.timeouts.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            open = tasks.len(),
            "shutdown grace period over; closing remaining connections"
        );
    }
    tasks.shutdown().await;
}

/// One accepted connection on its way to hyper.
struct Connection {
    gateway: Arc<Gateway>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    watcher: hyper_util::server::graceful::Watcher,
    peer: std::net::SocketAddr,
}

impl Connection {
    async fn run(self, stream: tokio::net::TcpStream) {
        let timeouts = &self.gateway.server_config().timeouts;
        // hyper-util reads the first bytes (HTTP/1 or h2 preface?) without a deadline; a
        // connection that says nothing must not hold its slot for ever.
        let local = stream.local_addr().ok();
        let mut probe = [0u8; 1];
        let spoke = tokio::time::timeout(timeouts.header_read, stream.peek(&mut probe)).await;
        if !matches!(spoke, Ok(Ok(n)) if n > 0) {
            return;
        }
        let Some(tls) = self.gateway.tls() else {
            let info = Arc::new(ConnInfo {
                peer: self.peer,
                local,
                tls: false,
                client_identity: None,
            });
            return self.serve(stream, info).await;
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.config());
        let stream = match tokio::time::timeout(timeouts.tls_handshake, acceptor.accept(stream)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => return self.handshake_failed("handshake_failed", &error.to_string()),
            Err(_) => return self.handshake_failed("handshake_timeout", "no complete handshake in time"),
        };
        let client_identity = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|leaf| self.gateway.client_identity(leaf));
        let info = Arc::new(ConnInfo {
            peer: self.peer,
            local,
            tls: true,
            client_identity,
        });
        self.serve(stream, info).await;
    }

    /// A refused or abandoned handshake (bad client certificate, old protocol, scanner):
    /// logged, counted and audited, since a refused client certificate is a failed login.
    fn handshake_failed(&self, reason: &'static str, detail: &str) {
        tracing::info!(peer = %self.peer, reason, detail, "TLS handshake failed");
        self.gateway.metrics().tls_handshake_failure();
        // Scanners and idle sockets fail handshakes all day; a refused client certificate is a
        // failed login and is audited.
        if !(detail.contains("certificate") || detail.contains("certificates")) {
            return;
        }
        let mut event = crate::telemetry::AuditEvent::new("tls_handshake", "deny", reason);
        event.peer_ip = Some(self.peer.ip());
        event.detail = Some(detail);
        self.gateway.audit().record(&event);
    }

    async fn serve<I>(self, io: I, info: Arc<ConnInfo>)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let gateway = self.gateway;
        let peer = self.peer;
        let service = service_fn(move |request| {
            let (gateway, info) = (Arc::clone(&gateway), Arc::clone(&info));
            async move { Ok::<_, std::convert::Infallible>(gateway.handle(request, info).await) }
        });
        let connection = self.builder.serve_connection(TokioIo::new(io), service);
        if let Err(error) = self.watcher.watch(connection.into_owned()).await {
            tracing::debug!(%peer, %error, "connection ended with an error");
        }
    }
}

/// What the connection tells every request on it.
#[derive(Debug)]
pub struct ConnInfo {
    pub peer: std::net::SocketAddr,
    /// The listener address the connection came in on (for the server's own origins).
    pub local: Option<std::net::SocketAddr>,
    /// The connection is TLS (`X-Forwarded-Proto: https`).
    pub tls: bool,
    /// The verified client certificate's identity (mTLS), per `[auth.mtls].subject_from`.
    pub client_identity: Option<String>,
}
