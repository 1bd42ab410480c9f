//! A gate in front of apalis' fetch: the worker polls apalis only when a cheap probe says a task
//! of its queue is due.
//!
//! Why: apalis-sqlite's fetch filters on `run_at IS NULL OR run_at <= now` and orders by
//! `priority DESC, run_at`, so SQLite walks its whole pending-task index of the queue when no
//! task is due. With 100,000 pending renewal tasks (one per managed certificate, due weeks
//! ahead) that is about 8 ms per poll, two polls a second: 2 % of a core while idle. The probe
//! ([`crate::JobDatabase::task_due`]) is an index range seek on `(job_type, status, run_at)` and
//! costs microseconds whatever the queue's size. The worker still polls apalis every
//! [`FALLBACK`] on its own, so a probe that fails or misses something delays a task, never loses
//! it.
//!
//! apalis also needs polls while tasks run and just after: a finished task is acknowledged
//! (`Done`) by the worker's next poll, not at once. So while any task of the worker runs, and for
//! two intervals after one finished ([`Activity`]), the gate opens every interval as an ungated
//! worker would; otherwise a done task would stay `Running` until the fallback poll, and a crash
//! in between would run it again.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, watch};

/// Whether a task of the named queue is due now. `true` on doubt (an error): polling apalis
/// once too often costs one fetch, skipping a due task would delay it.
pub type DueProbe =
    Arc<dyn Fn(&'static str) -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// How often a gated worker polls apalis even when the probe says nothing is due.
pub const FALLBACK: Duration = Duration::from_secs(60);

/// Intervals the gate stays open after a task finished, so apalis' poll acknowledges it.
const SETTLE_TICKS: u8 = 2;

/// Tasks of one queue's workers: running now, and finished so far.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    running: AtomicUsize,
    finished: AtomicU64,
}

impl Activity {
    /// Counts a task as running until the returned guard drops (also when it panics or is
    /// cancelled).
    pub(crate) fn start(self: &Arc<Self>) -> Running {
        self.running.fetch_add(1, Ordering::SeqCst);
        Running(self.clone())
    }
}

/// A running task ([`Activity::start`]).
pub(crate) struct Running(Arc<Activity>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.finished.fetch_add(1, Ordering::SeqCst);
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Every `interval`, wakes `gate` when a task of `queue` runs or finished lately
/// ([`Activity`]), or else when `probe` says one is due; until `shutdown` turns true (or its
/// sender is dropped).
pub(crate) async fn run(
    queue: &'static str,
    probe: DueProbe,
    activity: Arc<Activity>,
    interval: Duration,
    gate: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seen_finished = activity.finished.load(Ordering::SeqCst);
    let mut settling = 0u8;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        let finished = activity.finished.load(Ordering::SeqCst);
        if activity.running.load(Ordering::SeqCst) > 0 || finished != seen_finished {
            seen_finished = finished;
            settling = SETTLE_TICKS;
        }
        let busy = settling > 0;
        settling = settling.saturating_sub(1);
        if busy || probe(queue).await {
            gate.notify_one();
        }
    }
}
