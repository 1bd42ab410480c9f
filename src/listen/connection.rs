//! One HTTP/1.1 connection under a watchdog that closes it when the phase it is in (waiting for a
//! request head, answering a request, idle between requests) has lasted too long.
//!
//! hyper has a header-read timeout of its own, but it runs from the moment hyper starts waiting
//! for a head, so it cannot tell a slow head from an idle kept-alive connection. The phase is
//! tracked here instead: the first byte read on an idle connection starts a head, the service
//! being called ends it, and the answer's body being dropped (hyper drops it once written) ends
//! the request.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use http::{Request, Response};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;
use tokio::time::Instant;
use tower::ServiceExt;

use super::Limits;

/// What a connection is doing, and since when.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Reading a request head (from accept, or from the first byte after an idle spell).
    Head(Instant),
    /// Between the complete head and the end of the answer.
    Request(Instant),
    /// Kept alive, waiting for the next request.
    Idle(Instant),
}

impl Phase {
    /// When this phase runs out, and what the connection was doing then (for the log).
    fn deadline(self, limits: &Limits) -> (Instant, &'static str) {
        match self {
            Phase::Head(since) => (since + limits.header_timeout, "request head too slow"),
            Phase::Request(since) => (since + limits.request_timeout, "request too slow"),
            Phase::Idle(since) => (since + limits.idle_timeout, "idle too long"),
        }
    }
}

/// The phase, shared by the stream (first byte), the service (head complete) and the answer's
/// body (request done); the watchdog holds the receiving end.
type PhaseCell = Arc<watch::Sender<Phase>>;

/// Serves `router` on one connection until the client closes it, a phase runs out, or `stop`
/// is raised (then the request in flight, if any, finishes and the connection closes).
pub async fn drive<IO>(
    io: IO,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (phase, mut watchdog) = watch::channel(Phase::Head(Instant::now()));
    let phase = Arc::new(phase);
    let service = Service {
        router,
        phase: phase.clone(),
    };
    let stream = TokioIo::new(Watched { io, phase });
    let connection = hyper::server::conn::http1::Builder::new()
        // The watchdog below is the header timeout; hyper's would need a timer and would also
        // cut idle connections short.
        .header_read_timeout(None)
        .serve_connection(stream, service);
    let mut connection = pin!(connection);
    let mut stopping = false;
    loop {
        let (deadline, reason) = watchdog.borrow_and_update().deadline(&limits);
        tokio::select! {
            done = connection.as_mut() => {
                if let Err(error) = done {
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
                return;
            }
            () = tokio::time::sleep_until(deadline) => {
                // Only if the phase did not move on meanwhile (the loop re-reads it).
                if watchdog.borrow().deadline(&limits).0 <= Instant::now() {
                    tracing::debug!(%peer, reason, "closing the connection");
                    return;
                }
            }
            // The senders live in `connection`, which outlives this loop: never an error.
            _ = watchdog.changed() => {}
            _ = stop.wait_for(|stop| *stop), if !stopping => {
                // Closes the connection now if idle, else after the answer in flight.
                connection.as_mut().graceful_shutdown();
                stopping = true;
            }
        }
    }
}

/// The connection's stream: reports the first byte of a new request.
struct Watched<IO> {
    io: IO,
    phase: PhaseCell,
}

impl<IO: AsyncRead + Unpin> AsyncRead for Watched<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut this.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.phase.send_if_modified(|phase| match phase {
                Phase::Idle(_) => {
                    *phase = Phase::Head(Instant::now());
                    true
                }
                Phase::Head(_) | Phase::Request(_) => false,
            });
        }
        read
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Watched<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// The router as hyper's service: marks the request's start, and its end when the answer's body
/// is dropped.
#[derive(Clone)]
struct Service {
    router: Router,
    phase: PhaseCell,
}

impl hyper::service::Service<Request<Incoming>> for Service {
    type Response = Response<Answer>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        self.phase.send_replace(Phase::Request(Instant::now()));
        let done = Done(self.phase.clone());
        let router = self.router.clone();
        Box::pin(async move {
            let response = router.oneshot(request.map(Body::new)).await?;
            Ok(response.map(|body| Answer { body, _done: done }))
        })
    }
}

/// Ends the request (the connection goes idle) when dropped.
struct Done(PhaseCell);

impl Drop for Done {
    fn drop(&mut self) {
        self.0.send_replace(Phase::Idle(Instant::now()));
    }
}

/// An answer's body, carrying the [`Done`] that ends its request.
struct Answer {
    body: Body,
    _done: Done,
}

impl hyper::body::Body for Answer {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
