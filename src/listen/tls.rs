//! TLS for the API and admin listeners from `[server] tls_cert_file` and `tls_key_file` (PEM).
//!
//! The files are looked at again (their size, modification time and inode: a renewal tool that
//! writes a new file and renames it over the old one changes the inode) at most every
//! [`RECHECK`], when a connection arrives; when either changed both are re-read, so a renewed
//! certificate is served to new connections without a restart. A pair that does not load (e.g.
//! the certificate already replaced but not yet its key) leaves the previous one in service and
//! is logged once; the next change is tried again.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// How often at most the files are looked at.
const RECHECK: Duration = Duration::from_secs(1);

/// The certificate chain and key of a listener, reloaded when the files change.
pub struct TlsFiles {
    cert: PathBuf,
    key: PathBuf,
    state: Mutex<State>,
}

struct State {
    config: Arc<ServerConfig>,
    /// The files as last looked at (whether or not they loaded).
    seen: Stamp,
    checked: Instant,
}

/// What tells a file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

/// Both files' stamps; `None` for a file that cannot be looked at.
type Stamp = [Option<FileStamp>; 2];

impl TlsFiles {
    /// Loads the pair; the error names the configuration key and the file.
    pub fn load(cert: &Path, key: &Path) -> Result<Self, String> {
        let seen = stamp(cert, key);
        let config = server_config(cert, key)?;
        Ok(Self {
            cert: cert.to_owned(),
            key: key.to_owned(),
            state: Mutex::new(State {
                config,
                seen,
                checked: Instant::now(),
            }),
        })
    }

    /// The configuration for a new connection, from the files as they are now (give or take
    /// [`RECHECK`]).
    ///
    /// Called once per connection, before its handshake: a few `stat` calls at most every
    /// second, and a read of two small files when they changed, are cheap enough to do inline.
    pub fn server_config(&self) -> Arc<ServerConfig> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.checked.elapsed() < RECHECK {
            return state.config.clone();
        }
        state.checked = Instant::now();
        // Stamped before reading: a change while reading is seen at the next look.
        let now = stamp(&self.cert, &self.key);
        if now == state.seen {
            return state.config.clone();
        }
        state.seen = now;
        match server_config(&self.cert, &self.key) {
            Ok(config) => {
                tracing::info!(
                    cert = %self.cert.display(),
                    key = %self.key.display(),
                    "server.tls_cert_file: reloaded the changed certificate and key"
                );
                state.config = config;
            }
            Err(error) => tracing::warn!(
                %error,
                "server.tls_cert_file: the changed files do not load; still serving the previous certificate"
            ),
        }
        state.config.clone()
    }
}

fn stamp(cert: &Path, key: &Path) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    [cert, key].map(|path| {
        let meta = std::fs::metadata(path).ok()?;
        Some(FileStamp {
            modified: meta.modified().ok(),
            len: meta.len(),
            inode: meta.ino(),
        })
    })
}

/// A server configuration presenting the chain in `cert` with the key in `key`, speaking
/// HTTP/1.1 (the only protocol the listeners serve).
fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, String> {
    let cert_pem =
        std::fs::read(cert).map_err(|e| format!("server.tls_cert_file {}: {e}", cert.display()))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("server.tls_cert_file {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "server.tls_cert_file {}: no PEM CERTIFICATE in the file",
            cert.display()
        ));
    }
    let key_pem =
        std::fs::read(key).map_err(|e| format!("server.tls_key_file {}: {e}", key.display()))?;
    let private_key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        format!(
            "server.tls_key_file {}: no PEM private key ({e})",
            key.display()
        )
    })?;
    // The provider is chosen here, never taken from the process-wide default.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("server.tls_cert_file: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(|e| {
            format!(
                "server.tls_cert_file {} / server.tls_key_file {}: {e}",
                cert.display(),
                key.display()
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
