//! Pebble, Let's Encrypt's RFC 8555 test CA, as a child process.
//!
//! Pebble serves its ACME API and its management API over HTTPS only, so each instance gets a
//! throwaway CA (generated with rcgen) and a leaf for `localhost`/`127.0.0.1` signed by it; the
//! service under test trusts that root through `[acme] extra_roots` and the harness through its
//! own reqwest client. Certificates that Pebble *issues* chain to a different, Pebble-generated
//! root served at `/roots/0` on the management port ([`Pebble::issuer_roots_pem`]).
//!
//! Debian's pebble 2.4 reads `certificateValidityPeriod` (seconds) from its config file: the
//! binary's config struct has a `CertificateValidityPeriod uint64` field, so short-lived
//! certificates for renewal tests work with this version.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::net::free_port;
use crate::poll::poll_until;
use crate::process::ChildProcess;

const PEBBLE_BIN: &str = "/usr/bin/pebble";
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How to run one Pebble.
#[derive(Debug, Clone)]
pub struct PebbleOptions {
    /// Port on which Pebble's VA connects for http-01 (config `httpPort`); `None` = a free port,
    /// which fails validation unless the test serves http-01 there (see [`Pebble::http_port`]).
    pub http_port: Option<u16>,
    /// Port on which Pebble's VA connects for tls-alpn-01 (config `tlsPort`); `None` = a free port.
    pub tls_port: Option<u16>,
    /// `-dnsserver IP:PORT`: where the VA resolves names and looks up dns-01 TXT records (e.g. a
    /// [`crate::Bind`]'s `addr()`); `None` = the system resolver.
    pub dns_server: Option<String>,
    /// External account binding: `(kid, base64url HMAC key)` pairs; `Some` also sets
    /// `externalAccountBindingRequired`.
    pub eab_keys: Option<Vec<(String, String)>>,
    /// `certificateValidityPeriod` in seconds (Pebble's default is about 5 years).
    pub validity_period_secs: Option<u64>,
    /// `PEBBLE_WFE_NONCEREJECT`: percentage of valid nonces rejected as bad; `None` keeps
    /// Pebble's default of 5 %, which exercises the client's badNonce retry.
    pub nonce_reject_percent: Option<u8>,
    /// `PEBBLE_VA_NOSLEEP=1`: no random 0–15 s delay before validating. Default true.
    pub va_nosleep: bool,
    /// `PEBBLE_AUTHZREUSE`: percentage of valid authorizations reused; `None` = Pebble's default.
    pub authz_reuse: Option<u8>,
    /// `-strict`: upcoming breaking API changes.
    pub strict: bool,
    /// More environment for Pebble, e.g. `PEBBLE_CHAIN_LENGTH`.
    pub env: Vec<(String, String)>,
}

impl Default for PebbleOptions {
    fn default() -> Self {
        Self {
            http_port: None,
            tls_port: None,
            dns_server: None,
            eab_keys: None,
            validity_period_secs: None,
            nonce_reject_percent: None,
            va_nosleep: true,
            authz_reuse: None,
            strict: false,
            env: Vec::new(),
        }
    }
}

/// A running Pebble; killed on drop.
pub struct Pebble {
    // Field order matters: the process is killed before its directory is removed.
    process: ChildProcess,
    dir: TempDir,
    listen_port: u16,
    management_port: u16,
    http_port: u16,
    tls_port: u16,
    listener_root_pem: String,
    listener_root_pem_path: PathBuf,
    listener_cert_pem: String,
    listener_key_pem: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for Pebble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pebble")
            .field("directory_url", &self.directory_url())
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl Pebble {
    /// Starts Pebble and waits until its directory answers over TLS.
    pub async fn start(opts: PebbleOptions) -> Pebble {
        let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let dir = crate::peer_dir("scaivault-pebble-");
        let (root_pem, leaf_pem, leaf_key_pem) = listener_certificates();
        let listener_root_pem_path = write(dir.path(), "listener-root.pem", &root_pem);
        let cert_path = write(dir.path(), "listener-cert.pem", &leaf_pem);
        let key_path = write(dir.path(), "listener-key.pem", &leaf_key_pem);

        let listen_port = free_port(loopback);
        let management_port = free_port(loopback);
        let http_port = opts.http_port.unwrap_or_else(|| free_port(loopback));
        let tls_port = opts.tls_port.unwrap_or_else(|| free_port(loopback));

        let mut config = json!({
            "listenAddress": format!("127.0.0.1:{listen_port}"),
            "managementListenAddress": format!("127.0.0.1:{management_port}"),
            "certificate": cert_path,
            "privateKey": key_path,
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": opts.eab_keys.is_some(),
        });
        if let Some(keys) = &opts.eab_keys {
            let keys: serde_json::Map<String, Value> = keys
                .iter()
                .map(|(kid, key)| (kid.clone(), Value::String(key.clone())))
                .collect();
            config["externalAccountMACKeys"] = Value::Object(keys);
        }
        if let Some(secs) = opts.validity_period_secs {
            config["certificateValidityPeriod"] = json!(secs);
        }
        let config_path = write(
            dir.path(),
            "pebble-config.json",
            &serde_json::to_string_pretty(&json!({ "pebble": config })).expect("JSON"),
        );

        let mut cmd = Command::new(PEBBLE_BIN);
        cmd.arg("-config").arg(&config_path).current_dir(dir.path());
        if let Some(dns) = &opts.dns_server {
            cmd.arg("-dnsserver").arg(dns);
        }
        if opts.strict {
            cmd.arg("-strict");
        }
        if opts.va_nosleep {
            cmd.env("PEBBLE_VA_NOSLEEP", "1");
        }
        if let Some(p) = opts.nonce_reject_percent {
            cmd.env("PEBBLE_WFE_NONCEREJECT", p.to_string());
        }
        if let Some(p) = opts.authz_reuse {
            cmd.env("PEBBLE_AUTHZREUSE", p.to_string());
        }
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        if !Path::new(PEBBLE_BIN).exists() {
            crate::missing_peer("pebble", PEBBLE_BIN);
        }
        let log_path = dir.path().join("pebble.log");
        let process = ChildProcess::spawn("pebble", cmd, &log_path);

        let root = reqwest::Certificate::from_pem(root_pem.as_bytes()).expect("listener root");
        let http = reqwest::Client::builder()
            .tls_certs_only([root])
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("reqwest client for pebble");

        let mut pebble = Pebble {
            process,
            dir,
            listen_port,
            management_port,
            http_port,
            tls_port,
            listener_root_pem: root_pem,
            listener_root_pem_path,
            listener_cert_pem: leaf_pem,
            listener_key_pem: leaf_key_pem,
            http,
        };
        pebble.wait_ready().await;
        pebble
    }

    async fn wait_ready(&mut self) {
        let url = self.directory_url();
        let http = self.http.clone();
        let process = &mut self.process;
        let log_path = process.log_path().to_owned();
        poll_until(
            &format!("pebble's directory {url}"),
            START_TIMEOUT,
            || process.assert_running("its directory"),
            || {
                let (http, url) = (http.clone(), url.clone());
                async move {
                    let resp = http.get(&url).send().await.ok()?;
                    resp.status().is_success().then_some(())
                }
            },
            || crate::process::log_report("pebble", &log_path),
        )
        .await;
    }

    /// `https://127.0.0.1:PORT/dir`, the ACME directory.
    pub fn directory_url(&self) -> String {
        format!("https://127.0.0.1:{}/dir", self.listen_port)
    }

    /// `https://127.0.0.1:PORT`, the management API (roots, intermediates, certificate status).
    pub fn management_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.management_port)
    }

    /// The port Pebble's VA connects to for http-01.
    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    /// The port Pebble's VA connects to for tls-alpn-01.
    pub fn tls_port(&self) -> u16 {
        self.tls_port
    }

    /// The throwaway root that signed Pebble's HTTPS listener certificate, as a PEM file: give it
    /// to the service in `[acme] extra_roots`.
    pub fn listener_root_pem_path(&self) -> &Path {
        &self.listener_root_pem_path
    }

    /// The throwaway listener root as PEM text.
    pub fn listener_root_pem(&self) -> &str {
        &self.listener_root_pem
    }

    /// The `localhost`/`127.0.0.1` leaf of Pebble's HTTPS listener as PEM text, signed by the
    /// listener root: another loopback HTTPS peer (such as [`crate::AcmeFront`]) can serve it
    /// and be trusted through the same `[acme] extra_roots` file.
    pub fn listener_cert_pem(&self) -> &str {
        &self.listener_cert_pem
    }

    /// The private key of [`Pebble::listener_cert_pem`] (PKCS#8 PEM).
    pub fn listener_key_pem(&self) -> &str {
        &self.listener_key_pem
    }

    /// A reqwest client that trusts (only) the listener root, for talking to Pebble directly.
    pub fn http_client(&self) -> reqwest::Client {
        self.http.clone()
    }

    /// The root that issued certificates chain to (`GET /roots/0` on the management port).
    /// Pebble generates it at start, so it differs per instance.
    pub async fn issuer_roots_pem(&self) -> String {
        let url = format!("{}/roots/0", self.management_url());
        let (status, body) = self.management_get(&url).await;
        assert_eq!(status, 200, "GET {url}: {body}");
        body
    }

    /// Pebble's view of a certificate it issued: the JSON from
    /// `/cert-status-by-serial/<hex>` (`{"Status": "Valid" | "Revoked", "Serial", "Reason",
    /// "RevokedAt", "Certificate"}`), or `None` for an unknown serial. `serial_hex` may be
    /// `1A:2B:..` or plain hex in either case; leading zeros are dropped as Pebble expects.
    pub async fn cert_status_by_serial(&self, serial_hex: &str) -> Option<Value> {
        let hex: String = serial_hex
            .chars()
            .filter(|c| *c != ':')
            .collect::<String>()
            .to_ascii_lowercase();
        let hex = hex.trim_start_matches('0');
        let hex = if hex.is_empty() { "0" } else { hex };
        let url = format!("{}/cert-status-by-serial/{hex}", self.management_url());
        let (status, body) = self.management_get(&url).await;
        match status {
            200 => Some(serde_json::from_str(&body).unwrap_or_else(|e| {
                panic!("GET {url}: not JSON ({e}): {body}");
            })),
            404 => None,
            _ => panic!("GET {url}: {status} {body}"),
        }
    }

    async fn management_get(&self, url: &str) -> (u16, String) {
        let resp = self
            .http
            .get(url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}\n{}", self.process.log_report()));
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        (status, body)
    }

    /// The temporary directory holding config, certificates and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Everything Pebble has logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.process.log_path()).unwrap_or_default()
    }
}

/// A throwaway CA and a `localhost`/`127.0.0.1` leaf: (root PEM, leaf PEM, leaf key PEM).
fn listener_certificates() -> (String, String, String) {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.distinguished_name
        .push(DnType::CommonName, "ScaiVault test Pebble listener root");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).expect("self-signed CA");
    let issuer = Issuer::new(ca, ca_key);

    let leaf_key = KeyPair::generate().expect("leaf key");
    let mut leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("leaf params");
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).expect("leaf");
    (ca_cert.pem(), leaf_cert.pem(), leaf_key.serialize_pem())
}

fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path
}
