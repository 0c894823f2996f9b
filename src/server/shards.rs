//! Shards: with `worker_threads = N > 1`, N threads each run a single-threaded runtime with its
//! own listener on the public address (`SO_REUSEPORT`: the kernel spreads new connections over
//! them), nginx's worker model. A connection lives and dies on one thread: no work stealing,
//! no cross-thread wake-ups on the hot path (measured: 1.28× the requests per second of a
//! 2-worker work-stealing runtime on 2 cores, README.md, Benchmark). Connection caps, the config,
//! the state store and the upstream pools are shared; a pool hands each shard the connections
//! it opened itself when it has any (see `upstream::pool`).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{oneshot, watch};

use super::ConnectionLimits;
use crate::gateway::Gateway;

/// Shard 0's listener: first a plain bind as a probe, so a port another process (another
/// gateway with shards) already holds is "address in use" as ever, not silently shared; then
/// the shareable listener.
pub fn first_listener(address: SocketAddr) -> std::io::Result<TcpListener> {
    if address.port() != 0 {
        drop(std::net::TcpListener::bind(address)?);
    }
    shared_listener(address)
}

/// A listener on `address` that other shards can share (`SO_REUSEPORT`); needs a runtime.
pub fn shared_listener(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if address.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.bind(address)?;
    socket.listen(1024)
}

/// The extra shards, running.
#[derive(Debug)]
pub struct Shards {
    /// Resolves once a shard has drained its connections.
    drained: Vec<oneshot::Receiver<()>>,
    /// Lets the shards drop their runtimes: only once every shard has drained, since a
    /// connection a shard opened to an upstream may still serve another shard's request.
    release: watch::Sender<bool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Shards {
    /// Waits until every shard has drained (call after shard 0 has), then lets them stop and
    /// joins their threads.
    pub async fn finish(self) {
        for drained in self.drained {
            let _ = drained.await;
        }
        let _ = self.release.send(true);
        let threads = self.threads;
        let _ = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        })
        .await;
    }
}

/// Starts shards 1..count on `address` (already bound by shard 0, so a port 0 is resolved),
/// each serving until `stopped` turns true. Fails, with every started shard stopped, when one
/// cannot build its runtime or bind.
pub fn spawn(
    count: usize,
    address: SocketAddr,
    gateway: &Arc<Gateway>,
    limits: &Arc<ConnectionLimits>,
    stopped: &watch::Receiver<bool>,
) -> std::io::Result<Shards> {
    let (release, released) = watch::channel(false);
    let mut shards = Shards {
        drained: Vec::with_capacity(count.saturating_sub(1)),
        release,
        threads: Vec::with_capacity(count.saturating_sub(1)),
    };
    for shard in 1..count {
        let (gateway, limits, stopped) = (Arc::clone(gateway), Arc::clone(limits), stopped.clone());
        let mut released = released.clone();
        let (bound_tx, bound_rx) = std::sync::mpsc::channel::<std::io::Result<()>>();
        let (drained_tx, drained_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("portcullis-shard-{shard}"))
            .spawn(move || {
                crate::upstream::shard::enter(shard);
                let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(runtime) => runtime,
                    Err(error) => return drop(bound_tx.send(Err(error))),
                };
                runtime.block_on(async move {
                    let listener = match shared_listener(address) {
                        Ok(listener) => listener,
                        Err(error) => return drop(bound_tx.send(Err(error))),
                    };
                    let _ = bound_tx.send(Ok(()));
                    let mut stopped = stopped;
                    let stop = async move {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    };
                    super::serve(listener, gateway, limits, stop).await;
                    let _ = drained_tx.send(());
                    // Keep this runtime (and the upstream connections it drives) alive until
                    // every shard has drained; a dropped sender (start failed) also releases.
                    let _ = released.wait_for(|release| *release).await;
                });
            })?;
        shards.threads.push(thread);
        // Dropped without a word: the thread died before binding.
        bound_rx
            .recv()
            .unwrap_or_else(|_| Err(std::io::Error::other("shard thread ended before binding")))
            .map_err(|e| std::io::Error::new(e.kind(), format!("shard {shard} cannot listen on {address}: {e}")))?;
        shards.drained.push(drained_rx);
    }
    Ok(shards)
}
