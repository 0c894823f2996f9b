//! Starting and stopping a whole gateway: bind both listeners, serve, reload on SIGHUP,
//! drain on SIGTERM/SIGINT. Tests start it in-process on port 0 through [`start`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{Config, Reloader};
use crate::gateway::Gateway;
use crate::upstream::RouteAuth;

/// A gateway that is serving.
#[derive(Debug)]
pub struct Running {
    /// Where the public listener is bound.
    pub addr: SocketAddr,
    /// Where the admin listener is bound.
    pub admin_addr: SocketAddr,
    /// The shared gateway (metrics, reload).
    pub gateway: Arc<Gateway>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Running {
    /// Stops accepting, drains for the grace period, and waits for the end.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        self.gateway.audit().flush();
        if let Some(spans) = &self.gateway.spans {
            spans.flush();
        }
    }
}

/// Binds both listeners and serves in the background. `path` is re-read on reload.
pub async fn start(mut config: Config, path: Option<PathBuf>) -> std::io::Result<Running> {
    for upstream in &config.upstreams {
        if upstream.auth == RouteAuth::None {
            tracing::warn!(route = %upstream.route, upstream = %upstream.name, "route is public (auth = \"none\"): every caller is anonymous");
        }
    }
    if config.audit.sink == crate::telemetry::AuditSink::Off {
        tracing::warn!("audit is off");
    }
    // `worker_threads = N > 1` (resolved by `portcullis run`): N shards, this runtime's listener
    // plus N - 1 threads of their own, all on one address (`server::shards`).
    let shard_count = config.server.worker_threads.max(1);
    let listener = bind(config.server.listen, "server.listen", shard_count > 1).await?;
    let admin_listener = bind(config.admin.listen, "admin.listen", false).await?;
    let addr = listener.local_addr()?;
    let admin_addr = admin_listener.local_addr()?;
    // Listening on port 0 (tests): the default public URL names the port actually bound.
    if config.server.public_url == format!("http://{}", config.server.listen) && config.server.listen.port() == 0 {
        config.server.public_url = format!("http://{addr}");
    }
    let reloader = Arc::new(Reloader::new(&config, path));
    let gateway = Arc::new(Gateway::new(&config, reloader)?);
    let (stop, stopped) = watch::channel(false);
    // Revocations and dynamic keys are in memory before the first request.
    crate::credentials::sync::start(
        Arc::clone(gateway.credentials()),
        crate::credentials::sync::SyncReport {
            metrics: Arc::clone(gateway.metrics()),
            audit: gateway.audit().clone(),
        },
        wait_for(stopped.clone()),
    )
    .await
    .map_err(std::io::Error::other)?;
    if let Some(monitor) = gateway.monitor() {
        let extras_of = Arc::clone(&gateway);
        monitor.start(
            Arc::new(move || extras_of.dashboard_extras()),
            wait_for(stopped.clone()),
        );
        // The last 8 days of the audit files are counted again in the background: reports
        // are complete once it is done, requests are served meanwhile.
        if let Some((files, upto)) = gateway.audit_history.clone()
            && !monitor.shared()
        {
            let monitor = Arc::clone(monitor);
            tokio::task::spawn_blocking(move || {
                let counted = monitor.rebuild(&files, upto);
                tracing::info!(counted, "audit aggregates rebuilt from the audit files");
            });
        }
    }
    if let Some(settings) = &config.server.tls {
        gateway.reload_tls(false);
        tokio::spawn(watch_certificates(
            Arc::clone(&gateway),
            settings.reload_check,
            stopped.clone(),
        ));
    }
    let admin = tokio::spawn(crate::admin::serve(
        admin_listener,
        Arc::clone(&gateway),
        config.admin.token.clone(),
        wait_for(stopped.clone()),
    ));
    let limits =
        crate::server::ConnectionLimits::new(config.server.max_connections, config.server.max_connections_per_ip);
    let shards = crate::server::shards::spawn(shard_count, addr, &gateway, &limits, &stopped)?;
    let public = Arc::clone(&gateway);
    let task = tokio::spawn(async move {
        crate::server::serve(listener, public, limits, wait_for(stopped)).await;
        let _ = admin.await;
        shards.finish().await;
    });
    tracing::info!(%addr, %admin_addr, shards = shard_count, "portcullis listening");
    Ok(Running {
        addr,
        admin_addr,
        gateway,
        stop,
        task,
    })
}

/// Polls the certificate files; new connections get a changed certificate within one period.
async fn watch_certificates(gateway: Arc<Gateway>, every: std::time::Duration, mut stopped: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => gateway.reload_tls(false),
            _ = stopped.wait_for(|stop| *stop) => return,
        }
    }
}

/// The listener for `key`; `shared` for shard 0's public listener (`server::shards`).
async fn bind(address: SocketAddr, key: &str, shared: bool) -> std::io::Result<TcpListener> {
    let bound = if shared {
        crate::server::shards::first_listener(address)
    } else {
        TcpListener::bind(address).await
    };
    bound.map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {address} ({key}): {e}")))
}

async fn wait_for(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// Serves until SIGTERM or SIGINT; SIGHUP reloads the config file.
pub async fn run_until_signal(config: Config, path: PathBuf) -> std::io::Result<()> {
    let running = start(config, Some(path)).await?;
    wait_for_signals(running).await
}

/// Reloads on SIGHUP; drains and returns on SIGTERM or SIGINT.
pub async fn wait_for_signals(running: Running) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    loop {
        tokio::select! {
            _ = hangup.recv() => {
                let gateway = Arc::clone(&running.gateway);
                let _ = tokio::task::spawn_blocking(move || gateway.reload_config()).await;
            }
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}
