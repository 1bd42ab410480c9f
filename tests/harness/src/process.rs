//! A peer running as a child process whose output goes to a log file.
//!
//! The log file (stdout and stderr interleaved) is what a failing test shows, so every peer keeps
//! one in its temporary directory. The child is killed and waited for on drop so that no peer
//! outlives its test and no zombie is left behind.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

/// Proxy settings are removed from every peer's environment: a peer talking to another peer on
/// loopback must never be routed through a proxy of the machine running the tests.
const PROXY_VARS: &[&str] = &[
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
];

/// How many lines of a peer's log a panic message shows.
pub(crate) const LOG_TAIL_LINES: usize = 60;

pub(crate) struct ChildProcess {
    name: String,
    child: Option<Child>,
    /// The exit status once reaped, so later calls still see the process as exited.
    exited: Option<ExitStatus>,
    log_path: PathBuf,
}

impl ChildProcess {
    /// Spawns `cmd` with stdin closed and stdout/stderr appended to `log_path`.
    ///
    /// Panics with the `scripts/test` hint when the program does not exist.
    pub(crate) fn spawn(name: &str, mut cmd: Command, log_path: &Path) -> Self {
        let log = open_log(log_path);
        let log_err = log
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot clone log file handle for {name}: {e}"));
        for var in PROXY_VARS {
            cmd.env_remove(var);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err));
        let child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                crate::missing_peer(name, &cmd.get_program().to_string_lossy())
            }
            Err(e) => panic!("cannot start {name} ({cmd:?}): {e}"),
        };
        Self {
            name: name.to_owned(),
            child: Some(child),
            exited: None,
            log_path: log_path.to_owned(),
        }
    }

    /// The process id, or `None` once the process has been reaped.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `Some(status)` when the process has exited (it is reaped then), `None` while it runs.
    pub(crate) fn try_exit(&mut self) -> Option<ExitStatus> {
        let Some(child) = self.child.as_mut() else {
            return self.exited;
        };
        match child.try_wait() {
            Ok(Some(status)) => {
                self.child = None;
                self.exited = Some(status);
                Some(status)
            }
            Ok(None) => None,
            Err(e) => panic!("cannot query the state of {}: {e}", self.name),
        }
    }

    /// Panics with the log tail when the process has already exited: used inside readiness
    /// loops so that a peer that dies at start-up fails the test at once.
    pub(crate) fn assert_running(&mut self, waiting_for: &str) {
        if let Some(status) = self.try_exit() {
            panic!(
                "{} exited ({status}) while waiting for {waiting_for}\n{}",
                self.name,
                self.log_report()
            );
        }
    }

    /// SIGKILLs the process (if still running) and reaps it.
    pub(crate) fn kill(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = child.kill();
        let status = child.wait().ok();
        self.exited = status;
        status
    }

    /// Writes a marker line into the log, e.g. between two runs of the same service.
    pub(crate) fn mark_log(log_path: &Path, line: &str) {
        let mut log = open_log(log_path);
        let _ = writeln!(log, "{line}");
    }

    pub(crate) fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// "--- last lines of <log> ---" followed by the tail, for panic messages.
    pub(crate) fn log_report(&self) -> String {
        log_report(&self.name, &self.log_path)
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn open_log(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("cannot open log file {}: {e}", path.display()))
}

/// The last [`LOG_TAIL_LINES`] lines of a log file, framed for a panic message.
pub(crate) fn log_report(name: &str, path: &Path) -> String {
    let text = std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(|e| format!("(cannot read {}: {e})", path.display()));
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n");
    format!(
        "--- last {LOG_TAIL_LINES} lines of {name}'s log {} ---\n{tail}\n--- end of {name}'s log ---",
        path.display()
    )
}
