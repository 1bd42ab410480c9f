//! Serving a router on a listener with limits: every HTTP listener (API, admin console,
//! http-01) goes through [`serve`], and the tls-alpn-01 responder through [`Acceptor`].
//!
//! axum's own `serve` bounds nothing: a client that sends its request head one byte at a time,
//! or opens connections and says nothing, holds a socket and a task for as long as it likes
//! (Slowloris). Here each connection is driven by hyper's HTTP/1.1 server under a watchdog that
//! knows what the connection is doing ([`connection`]):
//!
//! - until its request head is complete (from accept, after a TLS handshake, or from the first
//!   byte of a kept-alive connection's next request) it has `header_timeout`;
//! - from the complete head to the end of the answer, `request_timeout`;
//! - between requests on a kept-alive connection, `idle_timeout`.
//!
//! When the time is up the connection is closed. At most `max_connections` connections are open
//! per listener; beyond that the listener stops accepting, so new connections wait in the
//! kernel's accept queue until one closes (the timeouts bound how long that is) instead of being
//! refused.

mod accept;
mod connection;
mod tls;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use accept::{Accepted, Acceptor};
pub use tls::TlsFiles;

/// The timeouts and the connection limit of one listener (`[server] header_timeout`,
/// `request_timeout`, `idle_timeout`, `max_connections`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// For the TLS handshake, and then for a complete request head.
    pub header_timeout: Duration,
    /// From a complete request head to the end of its answer.
    pub request_timeout: Duration,
    /// Between two requests on a kept-alive connection.
    pub idle_timeout: Duration,
    /// Connections open at once; more wait to be accepted.
    pub max_connections: usize,
}

/// Serves `router` on `listener` over HTTP/1.1 (in TLS when `tls` is given) within `limits`
/// until `stop` resolves; then stops accepting, lets every request in flight finish (each is
/// bounded by `request_timeout`) and returns when all connections are closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    tls: Option<Arc<TlsFiles>>,
    stop: impl Future<Output = ()>,
) {
    let acceptor = Acceptor::new(listener, limits.max_connections);
    let (stopping, stop_rx) = watch::channel(false);
    let mut stop = pin!(stop);
    let mut connections = JoinSet::new();
    while let Some(accepted) = acceptor.accept(stop.as_mut()).await {
        while let Some(done) = connections.try_join_next() {
            log_panic(done);
        }
        let Accepted { tcp, peer, permit } = accepted;
        let (router, tls, stop) = (router.clone(), tls.clone(), stop_rx.clone());
        connections.spawn(async move {
            // Held until the connection is closed: its slot under `max_connections`.
            let _permit = permit;
            let Some(tls) = tls else {
                return connection::drive(tcp, peer, router, limits, stop).await;
            };
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.server_config());
            match tokio::time::timeout(limits.header_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => connection::drive(stream, peer, router, limits, stop).await,
                Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
    // Closing the listener now refuses new connections instead of leaving them queued.
    drop(acceptor);
    let _ = stopping.send(true);
    while let Some(done) = connections.join_next().await {
        log_panic(done);
    }
}

/// Logs a connection task that panicked (a finished one says nothing).
pub fn log_panic(done: Result<(), tokio::task::JoinError>) {
    if let Err(error) = done
        && error.is_panic()
    {
        tracing::error!(%error, "a connection task panicked");
    }
}
