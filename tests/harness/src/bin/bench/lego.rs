//! lego runs for the benchmarks: one `lego run` process per certificate, several at once, and
//! the static web server that answers Pebble's http-01 requests from lego's `--http.webroot`
//! (lego's own `--http` server binds the one http-01 port, so only one process could use it).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Longest one lego process may take.
const LEGO_TIMEOUT: Duration = Duration::from_secs(180);

/// How lego proves control and where it keeps its account and certificates.
#[derive(Debug, Clone)]
pub struct Lego {
    pub binary: PathBuf,
    pub directory_url: String,
    /// PEM of the root Pebble's HTTPS listener uses.
    pub ca_pem: PathBuf,
    /// `--path`: account and certificates, shared by every run (the first registers).
    pub path: PathBuf,
    /// Challenge flags (`--http --http.webroot DIR` or `--dns rfc2136 ...`).
    pub challenge: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl Lego {
    /// One `lego run` for `name`: the time from spawn to a successful exit.
    pub async fn run(&self, name: &str) -> Result<Duration, String> {
        let mut cmd = tokio::process::Command::new(&self.binary);
        cmd.current_dir(&self.path)
            .env("LEGO_CA_CERTIFICATES", &self.ca_pem)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .args(["--server", &self.directory_url])
            .args(["--accept-tos", "--email", "bench@example.test"])
            .arg("--path")
            .arg(&self.path)
            .args(["--key-type", "ec256"])
            .args(&self.challenge)
            .args(["--domains", name, "run"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for var in [
            "http_proxy",
            "https_proxy",
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "NO_PROXY",
        ] {
            cmd.env_remove(var);
        }
        let start = Instant::now();
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.binary.display()))?;
        let out = tokio::time::timeout(LEGO_TIMEOUT, child.wait_with_output())
            .await
            .map_err(|_| format!("lego for {name} still running after {LEGO_TIMEOUT:?}"))?
            .map_err(|e| format!("waiting for lego: {e}"))?;
        let took = start.elapsed();
        let cert = self.path.join("certificates").join(format!("{name}.crt"));
        if !out.status.success() || !cert.exists() {
            return Err(format!(
                "lego for {name}: {}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(took)
    }

    /// `count` certificates (names from `name(i)`), at most `parallel` processes at a time: the
    /// wall time from the first spawn to the last exit. Any failure fails the batch.
    pub async fn batch(
        &self,
        count: usize,
        parallel: usize,
        name: impl Fn(usize) -> String,
    ) -> Result<Duration, String> {
        let gate = Arc::new(tokio::sync::Semaphore::new(parallel));
        let mut runs = tokio::task::JoinSet::new();
        let start = Instant::now();
        for i in 0..count {
            let (lego, gate, name) = (self.clone(), gate.clone(), name(i));
            runs.spawn(async move {
                let _permit = gate.acquire_owned().await.map_err(|e| e.to_string())?;
                lego.run(&name).await
            });
        }
        while let Some(done) = runs.join_next().await {
            done.map_err(|e| e.to_string())??;
        }
        Ok(start.elapsed())
    }
}

/// Serves `GET /.well-known/acme-challenge/<token>` from `<webroot>/.well-known/acme-challenge/`
/// on `127.0.0.1:port` (HTTP/1.0-style: one request per connection) until dropped.
pub struct Webroot {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Webroot {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Webroot {
    pub async fn start(webroot: &Path, port: u16) -> Result<Self, String> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| format!("webroot server on port {port}: {e}"))?;
        let dir = webroot.join(".well-known").join("acme-challenge");
        let task = tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let dir = dir.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let n = conn.read(&mut buf).await.unwrap_or(0);
                    let head = String::from_utf8_lossy(&buf[..n]);
                    let token = head
                        .split_whitespace()
                        .nth(1)
                        .and_then(|p| p.strip_prefix("/.well-known/acme-challenge/"))
                        .filter(|t| !t.contains('/') && !t.contains(".."))
                        .unwrap_or_default()
                        .to_owned();
                    let answer = match tokio::fs::read(dir.join(&token)).await {
                        Ok(body) if !token.is_empty() => {
                            let mut a = format!(
                                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                body.len()
                            )
                            .into_bytes();
                            a.extend(body);
                            a
                        }
                        _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_vec(),
                    };
                    let _ = conn.write_all(&answer).await;
                    let _ = conn.shutdown().await;
                });
            }
        });
        Ok(Self { task })
    }
}
