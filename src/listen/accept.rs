//! Accepting connections under a limit: a slot is taken before `accept`, so beyond the limit
//! connections wait in the kernel's accept queue rather than costing a task each.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Pause after a failed `accept` (e.g. out of file descriptors), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A listener that hands out at most `max_connections` connections at a time.
pub struct Acceptor {
    listener: TcpListener,
    slots: Arc<Semaphore>,
}

/// One accepted connection and its slot; dropping the permit frees the slot.
pub struct Accepted {
    pub tcp: TcpStream,
    pub peer: SocketAddr,
    pub permit: OwnedSemaphorePermit,
}

impl Acceptor {
    pub fn new(listener: TcpListener, max_connections: usize) -> Self {
        Self {
            listener,
            slots: Arc::new(Semaphore::new(max_connections)),
        }
    }

    /// The next connection once a slot is free, with `TCP_NODELAY` set; `None` once `stop`
    /// resolves (the caller must not poll `stop` again after that).
    pub async fn accept(&self, mut stop: Pin<&mut impl Future<Output = ()>>) -> Option<Accepted> {
        loop {
            if self.slots.available_permits() == 0 {
                tracing::debug!(
                    listen = ?self.listener.local_addr().ok(),
                    "connection limit reached; new connections wait to be accepted"
                );
            }
            let permit = tokio::select! {
                () = stop.as_mut() => return None,
                permit = self.slots.clone().acquire_owned() => {
                    permit.expect("the semaphore is never closed")
                }
            };
            let accepted = tokio::select! {
                () = stop.as_mut() => return None,
                accepted = self.listener.accept() => accepted,
            };
            match accepted {
                Ok((tcp, peer)) => {
                    // A response written in more than one piece must not wait for the client's
                    // delayed ACK (40 ms on Linux) under Nagle's algorithm.
                    if let Err(error) = tcp.set_nodelay(true) {
                        tracing::debug!(%error, "could not set TCP_NODELAY");
                    }
                    return Some(Accepted { tcp, peer, permit });
                }
                Err(error) => {
                    tracing::warn!(listen = ?self.listener.local_addr().ok(), %error, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            }
        }
    }
}
