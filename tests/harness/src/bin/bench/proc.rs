//! What a process costs, read from `/proc/<pid>`: resident memory (`VmRSS`, sampled, and the
//! kernel's own peak `VmHWM`) and CPU time (`utime + stime` of `/proc/<pid>/stat`).
//!
//! The kernel's peak (`VmHWM`) catches spikes between samples; the sampled maximum shows that
//! the peak belongs to the measured interval and not to an earlier one.

#![allow(dead_code)] // shared by several benchmark programs, each using a part

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Clock ticks per second of `/proc/<pid>/stat` (`getconf CLK_TCK`; 100 on Linux).
pub fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// CPU seconds (user + system) the process has used so far.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces; the fields after it are fixed: state is field 3,
    // utime field 14, stime field 15 (proc(5)).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks())
}

/// A `kB` line of `/proc/<pid>/status` (`VmRSS`, `VmHWM`) in bytes.
pub fn status_bytes(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line[key.len()..]
        .trim_start_matches(':')
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// The first process whose command line contains `needle` (e.g. a peer's temporary directory,
/// which appears in its `-config` argument).
pub fn pid_with_arg(needle: &str) -> Option<u32> {
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    pids.into_iter().find(|pid| {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|c| String::from_utf8_lossy(&c).contains(needle))
            .unwrap_or(false)
    })
}

/// Samples a process's `VmRSS` every 100 ms until [`RssSampler::stop`].
pub struct RssSampler {
    pid: u32,
    max: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

/// What one measured interval cost a process.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    /// Highest sampled `VmRSS` during the interval, bytes.
    pub rss_max: u64,
    /// `VmRSS` at the end, bytes.
    pub rss_end: u64,
    /// `VmHWM` (peak RSS over the process's life) at the end, bytes.
    pub hwm: u64,
    /// CPU seconds used during the interval.
    pub cpu: f64,
}

impl RssSampler {
    pub fn start(pid: u32) -> (Self, f64) {
        let max = Arc::new(AtomicU64::new(status_bytes(pid, "VmRSS").unwrap_or(0)));
        let stop = Arc::new(AtomicBool::new(false));
        let task = {
            let (max, stop) = (max.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(rss) = status_bytes(pid, "VmRSS") {
                        max.fetch_max(rss, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        };
        let cpu0 = cpu_seconds(pid).unwrap_or(0.0);
        (
            Self {
                pid,
                max,
                stop,
                task,
            },
            cpu0,
        )
    }

    /// Stops sampling; `cpu0` is what [`RssSampler::start`] returned.
    pub async fn stop(self, cpu0: f64) -> Usage {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        let rss_end = status_bytes(self.pid, "VmRSS").unwrap_or(0);
        Usage {
            rss_max: self.max.load(Ordering::Relaxed).max(rss_end),
            rss_end,
            hwm: status_bytes(self.pid, "VmHWM").unwrap_or(0),
            cpu: cpu_seconds(self.pid).unwrap_or(0.0) - cpu0,
        }
    }
}

/// Bytes as MiB with one decimal.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
