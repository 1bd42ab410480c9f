//! Polling for readiness instead of sleeping.
//!
//! A fixed sleep is either too short on a loaded 2-core CI machine or wastes time everywhere else;
//! polling with an overall deadline is both fast and robust.

use std::future::Future;
use std::time::{Duration, Instant};

/// Pause between two probes: short, since peers come up within tens of milliseconds.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Calls `probe` until it returns `Some`, or panics after `timeout` with `what` and the
/// diagnostics returned by `on_timeout`. `check` runs before every probe; it may panic early
/// (e.g. when the peer process has exited).
pub(crate) async fn poll_until<T, P, F, C, D>(
    what: &str,
    timeout: Duration,
    mut check: C,
    mut probe: P,
    on_timeout: D,
) -> T
where
    P: FnMut() -> F,
    F: Future<Output = Option<T>>,
    C: FnMut(),
    D: FnOnce() -> String,
{
    let deadline = Instant::now() + timeout;
    loop {
        check();
        if let Some(value) = probe().await {
            return value;
        }
        if Instant::now() >= deadline {
            panic!(
                "timed out after {timeout:?} waiting for {what}\n{}",
                on_timeout()
            );
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}
