//! The `scaivault` binary under test, run as a child process with a generated configuration.
//!
//! Each instance gets its own data directory (SQLite file, master key, log), a free API port and
//! a known bootstrap admin token, so that tests can run in parallel and talk to it at once. The
//! data directory, configuration and ports survive [`Service::restart`], which is what
//! crash-recovery and graceful-shutdown tests need.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

use tempfile::TempDir;

use crate::client::ApiClient;
use crate::config::{ConfigToml, toml_string, toml_string_array};
use crate::net::free_port;
use crate::poll::poll_until;
use crate::process::ChildProcess;

const START_TIMEOUT: Duration = Duration::from_secs(60);
const TERMINATE_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the service keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite://<data dir>/scaivault.db`.
    Sqlite,
    /// A PostgreSQL URL, e.g. [`crate::PgDatabase::url`].
    Postgres(String),
}

/// How to run the service.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    /// The binary; integration tests pass `env!("CARGO_BIN_EXE_scaivault")`.
    pub binary: PathBuf,
    pub database: Backend,
    /// PEM files for `[acme] extra_roots`, e.g. [`crate::Pebble::listener_root_pem_path`].
    pub extra_roots: Vec<PathBuf>,
    /// Raw TOML (`[section]` headers, one-line `key = value`) merged over the defaults, see
    /// [`ConfigToml::parse`].
    pub extra_config: String,
    /// Single keys set over the defaults and `extra_config`; see [`ServiceOptions::set`].
    pub overrides: ConfigToml,
    /// Extra environment; applied after `RUST_LOG=info,scaivault=debug`, so it can override it.
    pub env: Vec<(String, String)>,
}

impl ServiceOptions {
    /// SQLite, no extra roots, default configuration.
    pub fn new(binary: impl Into<PathBuf>) -> Self {
        Self {
            binary: binary.into(),
            database: Backend::Sqlite,
            extra_roots: Vec::new(),
            extra_config: String::new(),
            overrides: ConfigToml::new(),
            env: Vec::new(),
        }
    }

    /// Uses the PostgreSQL database at `url`.
    pub fn postgres(mut self, url: impl Into<String>) -> Self {
        self.database = Backend::Postgres(url.into());
        self
    }

    /// Trusts one more root when talking to ACME servers.
    pub fn extra_root(mut self, pem_path: impl Into<PathBuf>) -> Self {
        self.extra_roots.push(pem_path.into());
        self
    }

    /// Sets one configuration key to a TOML literal, e.g.
    /// `.set("challenges", "http01_listen", r#"["127.0.0.1:5002"]"#)`.
    pub fn set(mut self, section: &str, key: &str, toml_literal: impl Into<String>) -> Self {
        self.overrides.set(section, key, toml_literal);
        self
    }

    /// Sets one configuration key to a string (quoted and escaped for TOML).
    pub fn set_str(self, section: &str, key: &str, value: &str) -> Self {
        self.set(section, key, toml_string(value))
    }

    /// Adds an environment variable for the service process.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }
}

/// A running (or stopped, between [`Service::terminate`]/[`Service::kill9`] and
/// [`Service::restart`]) service instance; killed on drop.
pub struct Service {
    // Field order matters: the process is killed before the data directory is removed.
    process: Option<ChildProcess>,
    data_dir: TempDir,
    opts: ServiceOptions,
    config: ConfigToml,
    config_path: PathBuf,
    log_path: PathBuf,
    port: u16,
    admin_token: String,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("base_url", &self.base_url())
            .field("data_dir", &self.data_dir.path())
            .field("pid", &self.pid())
            .finish_non_exhaustive()
    }
}

impl Service {
    /// Writes the configuration, starts `scaivault serve --config FILE` and waits until
    /// `GET /healthz` answers 200.
    pub async fn start(opts: ServiceOptions) -> Service {
        let data_dir = crate::peer_dir("scaivault-svc-");
        let dir = data_dir.path().to_owned();
        let port = free_port(std::net::Ipv4Addr::LOCALHOST.into());
        let admin_token = format!("svt_test_{}", hex32());

        let mut config = ConfigToml::new();
        let database_url = match &opts.database {
            Backend::Sqlite => format!("sqlite://{}", dir.join("scaivault.db").display()),
            Backend::Postgres(url) => url.clone(),
        };
        let roots: Vec<String> = opts
            .extra_roots
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        config
            .set(
                "server",
                "listen",
                toml_string(&format!("127.0.0.1:{port}")),
            )
            .set("server", "admin_listen", toml_string(""))
            .set("database", "url", toml_string(&database_url))
            .set("security", "admin_token", toml_string(&admin_token))
            .set(
                "security",
                "master_key_file",
                toml_string(&dir.join("master.key").display().to_string()),
            )
            .set("acme", "extra_roots", toml_string_array(&roots))
            // Pebble and the test CAs listen on 127.0.0.1; refusal tests set it false.
            .set("acme", "allow_private_directories", "true")
            // Tests register as many accounts as they need; the limit's own test sets it.
            .set("server", "registrations_per_minute", "0")
            .set("challenges", "http01_listen", "[]")
            .set("challenges", "tls_alpn01_listen", "[]")
            .set("dns", "resolvers", "[]")
            .set("dns", "propagation_timeout", toml_string("120s"))
            .set("dns", "propagation_interval", toml_string("2s"))
            // The provider API fakes listen on http://127.0.0.1 (a test sets false to check
            // the endpoint policy).
            .set("dns", "allow_insecure_endpoints", "true")
            .set("renewal", "before_expiry", toml_string("30d"));
        config.merge(&ConfigToml::parse(&opts.extra_config));
        config.merge(&opts.overrides);
        // A test may have replaced the bootstrap token; the client must use the effective one.
        let admin_token = config
            .get("security", "admin_token")
            .map(|v| v.trim_matches('"').to_owned())
            .unwrap_or(admin_token);

        let config_path = dir.join("scaivault.toml");
        std::fs::write(&config_path, config.render())
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", config_path.display()));

        let mut service = Service {
            process: None,
            log_path: dir.join("scaivault.log"),
            data_dir,
            opts,
            config,
            config_path,
            port,
            admin_token,
        };
        service.spawn_and_wait().await;
        service
    }

    async fn spawn_and_wait(&mut self) {
        let mut cmd = Command::new(&self.opts.binary);
        cmd.arg("serve")
            .arg("--config")
            .arg(&self.config_path)
            .current_dir(self.data_dir.path());
        // SCAIVAULT_<SECTION>__<KEY> overrides the file and unknown keys stop the service, so the
        // test runner's own SCAIVAULT_* variables (e.g. SCAIVAULT_TEST_KEEP) must not leak in.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("SCAIVAULT_") {
                cmd.env_remove(&key);
            }
        }
        cmd.env("RUST_LOG", "info,scaivault=debug");
        for (k, v) in &self.opts.env {
            cmd.env(k, v);
        }
        if !self.opts.binary.exists() {
            panic!(
                "service binary {} does not exist (pass env!(\"CARGO_BIN_EXE_scaivault\"))",
                self.opts.binary.display()
            );
        }
        let url = format!("{}/healthz", self.base_url());
        let mut http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5));
        if let Some(cert) = self.tls_cert_file() {
            // Served under TLS: trust the configured (self-signed) certificate. It is read now,
            // so a restart after the test replaced it trusts the new one.
            let pem = std::fs::read(&cert)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", cert.display()));
            let cert = reqwest::Certificate::from_pem(&pem).expect("server.tls_cert_file PEM");
            http = http.tls_certs_only([cert]);
        }
        let http = http.build().expect("reqwest client");
        let process = self
            .process
            .insert(ChildProcess::spawn("scaivault", cmd, &self.log_path));
        let log_path = self.log_path.clone();
        poll_until(
            &format!("scaivault at {url}"),
            START_TIMEOUT,
            || process.assert_running("GET /healthz"),
            || {
                let (http, url) = (http.clone(), url.clone());
                async move {
                    let resp = http.get(&url).send().await.ok()?;
                    (resp.status().as_u16() == 200).then_some(())
                }
            },
            || crate::process::log_report("scaivault", &log_path),
        )
        .await;
        if crate::keep_artifacts() {
            eprintln!(
                "SCAIVAULT_TEST_KEEP: scaivault at {} with data dir {}",
                self.base_url(),
                self.data_dir.path().display()
            );
        }
    }

    /// `http://127.0.0.1:PORT`, or `https://` when `server.tls_cert_file` is configured (the
    /// certificate must then name 127.0.0.1).
    pub fn base_url(&self) -> String {
        let scheme = if self.tls_cert_file().is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// `server.tls_cert_file` when configured.
    fn tls_cert_file(&self) -> Option<PathBuf> {
        let value = self
            .config
            .get("server", "tls_cert_file")?
            .trim_matches('"');
        (!value.is_empty()).then(|| PathBuf::from(value))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The bootstrap token (every scope).
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// A client authenticated with the admin token.
    pub fn client(&self) -> ApiClient {
        ApiClient::new(self.base_url(), Some(self.admin_token.clone()))
    }

    /// The service's database URL (`sqlite://<data dir>/scaivault.db` or the PostgreSQL URL),
    /// for tests that look at rows the API does not show (the job queue's tasks).
    pub fn database_url(&self) -> String {
        match &self.opts.database {
            Backend::Sqlite => format!(
                "sqlite://{}",
                self.data_dir.path().join("scaivault.db").display()
            ),
            Backend::Postgres(url) => url.clone(),
        }
    }

    /// The service's data directory (SQLite file, master key).
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The configuration as written.
    pub fn config(&self) -> &ConfigToml {
        &self.config
    }

    /// The process id while running.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().and_then(ChildProcess::pid)
    }

    /// Whether the process is still running (reaps it if it has exited).
    pub fn is_running(&mut self) -> bool {
        match self.process.as_mut() {
            Some(p) => p.try_exit().is_none(),
            None => false,
        }
    }

    /// Everything the service has logged so far, across restarts.
    pub fn log_text(&self) -> String {
        std::fs::read(&self.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The last lines of the log, framed for assertion messages.
    pub fn log_tail(&self) -> String {
        crate::process::log_report("scaivault", &self.log_path)
    }

    /// SIGKILL and wait: a crash, nothing persisted beyond what already was.
    pub fn kill9(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill();
        }
    }

    /// SIGTERM (graceful shutdown) and wait up to 30 s for the exit status; panics with the log
    /// tail (after killing the process) if it does not exit in time.
    pub async fn terminate(&mut self) -> ExitStatus {
        let process = self
            .process
            .as_mut()
            .expect("terminate(): the service is not running");
        if let Some(status) = process.try_exit() {
            self.process = None;
            return status;
        }
        let pid = process.pid().expect("running process has a pid");
        let sent = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap_or_else(|e| panic!("cannot run kill -TERM {pid}: {e}"));
        assert!(sent.success(), "kill -TERM {pid} failed");
        let log_path = self.log_path.clone();
        let status = poll_until(
            &format!("scaivault (pid {pid}) to exit after SIGTERM"),
            TERMINATE_TIMEOUT,
            || {},
            || {
                let status = process.try_exit();
                async move { status }
            },
            || {
                let report = crate::process::log_report("scaivault", &log_path);
                format!("(killing it now)\n{report}")
            },
        )
        .await;
        self.process = None;
        status
    }

    /// Starts the service again with the same data directory, database, configuration and
    /// ports, after [`Service::kill9`] or [`Service::terminate`]; a still running instance is
    /// terminated gracefully first. The log continues in the same file after a marker line.
    pub async fn restart(&mut self) {
        if self.is_running() {
            self.terminate().await;
        }
        ChildProcess::mark_log(&self.log_path, "===== scaivault-testkit: restart =====");
        self.spawn_and_wait().await;
    }
}

fn hex32() -> String {
    rand::random::<[u8; 16]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
