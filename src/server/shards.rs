//! Shards: with `worker_threads = N > 1`, N threads each run a single-threaded runtime with its
//! own listener on the public address (`SO_REUSEPORT`: the kernel spreads new connections over
//! them), nginx's worker model. A connection lives and dies on one thread: no work stealing,
//! no cross-thread wake-ups on the hot path (measured: ~25 % more requests per second than a
//! 2-worker work-stealing runtime on 2 cores, bench/README.md). Connection caps, the config,
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

/// A running extra shard: resolves once its thread has drained and stopped.
pub type Done = oneshot::Receiver<()>;

/// Starts shards 1..count on `address` (already bound by shard 0, so a port 0 is resolved),
/// each serving until `stopped` turns true. Fails, with every started shard stopped, when one
/// cannot build its runtime or bind.
pub fn spawn(
    count: usize,
    address: SocketAddr,
    gateway: &Arc<Gateway>,
    limits: &Arc<ConnectionLimits>,
    stopped: &watch::Receiver<bool>,
) -> std::io::Result<Vec<Done>> {
    let mut done = Vec::with_capacity(count.saturating_sub(1));
    for shard in 1..count {
        let (gateway, limits, stopped) = (Arc::clone(gateway), Arc::clone(limits), stopped.clone());
        let (bound_tx, bound_rx) = std::sync::mpsc::channel::<std::io::Result<()>>();
        let (done_tx, done_rx) = oneshot::channel::<()>();
        std::thread::Builder::new()
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
                });
                drop(done_tx);
            })?;
        // Dropped without a word: the thread died before binding.
        bound_rx
            .recv()
            .unwrap_or_else(|_| Err(std::io::Error::other("shard thread ended before binding")))
            .map_err(|e| std::io::Error::new(e.kind(), format!("shard {shard} cannot listen on {address}: {e}")))?;
        done.push(done_rx);
    }
    Ok(done)
}
