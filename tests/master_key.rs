//! The master key end to end: a wrong key stops start-up with both fingerprints, `scaivault
//! rotate-master-key` re-seals everything (resuming after an interruption), and the SQLite files
//! and key file are private to the service's user.
//!
//! Fingerprints are computed here with openssl (HMAC-SHA256 of the label, first 8 bytes), not
//! with the service's code.

#[macro_use]
mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use common::{Db, openssl};
use scaivault_testkit::{PebbleOptions, Service, ServiceOptions, free_port};
use serde_json::json;

/// Bounds every awaited state; reached only when something is broken.
const DEADLINE: Duration = Duration::from_secs(90);

const BINARY: &str = env!("CARGO_BIN_EXE_scaivault");

/// A fresh 32-byte key file at `path`.
fn write_key(path: &Path) -> Vec<u8> {
    let key: [u8; 32] = rand::random();
    std::fs::write(path, key).expect("write key");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    key.to_vec()
}

/// The fingerprint of the key in `path`: the first 16 hex digits of HMAC-SHA256(key, label).
fn fingerprint(path: &Path) -> String {
    let key = std::fs::read(path).expect("read key");
    let hexkey = format!("hexkey:{}", hex::encode(key));
    let out = openssl(
        &["dgst", "-sha256", "-mac", "HMAC", "-macopt", &hexkey],
        "scaivault master key check v1",
    );
    let digest = out.split_whitespace().last().expect("digest");
    digest[..16].to_owned()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Runs the binary with `args`, and `env` (the runner's own SCAIVAULT_* removed), to its end.
async fn run_binary(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = tokio::process::Command::new(BINARY);
    cmd.args(args).kill_on_drop(true);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("SCAIVAULT_") {
            cmd.env_remove(&key);
        }
    }
    for (key, value) in env {
        cmd.env(key, value);
    }
    tokio::time::timeout(DEADLINE, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("scaivault {args:?} still running after {DEADLINE:?}"))
        .expect("run scaivault")
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `scaivault serve` on the service's configuration with `env`, expected to refuse to start.
async fn serve_refuses(service: &Service, env: &[(&str, &str)]) -> String {
    let config = service.config_path().display().to_string();
    let out = run_binary(&["serve", "--config", &config], env).await;
    assert!(!out.status.success(), "serve must refuse: {}", text(&out));
    let client = service.client();
    assert!(
        client
            .try_raw(reqwest::Method::GET, "/healthz", None)
            .await
            .is_err(),
        "nothing listens after the refusal"
    );
    text(&out)
}

/// `scaivault rotate-master-key` on the service's configuration.
async fn rotate(service: &Service, new_key: &Path, env: &[(&str, &str)]) -> Output {
    let config = service.config_path().display().to_string();
    let new_key = new_key.display().to_string();
    run_binary(
        &[
            "rotate-master-key",
            "--config",
            &config,
            "--new-key-file",
            &new_key,
        ],
        env,
    )
    .await
}

/// Points the service's `master_key_file` at `new_key` in its configuration file.
fn use_key(service: &Service, new_key: &Path) {
    let path = service.config_path();
    let config = std::fs::read_to_string(path).expect("read config");
    let old = service.data_dir().join("master.key").display().to_string();
    assert!(config.contains(&old), "{config}");
    let config = config.replace(&old, &new_key.display().to_string());
    std::fs::write(path, config).expect("write config");
}

async fn put_secret(service: &Service, path: &str, value: &str) {
    let (status, body) = service
        .client()
        .put(&format!("/v1/secrets/{path}"), &json!({ "value": value }))
        .await;
    assert_eq!(status, 201, "{body}");
}

async fn assert_secret(service: &Service, path: &str, value: &str) {
    let (status, body) = service.client().get(&format!("/v1/secrets/{path}")).await;
    assert_eq!(status, 200, "{path}: {body}\n{}", service.log_tail());
    assert_eq!(body["value"], value, "{path}");
}

async fn a_different_key_stops_start_up(db: Db) {
    let (opts, _pg) = common::options(db);
    let mut service = Service::start(opts).await;
    put_secret(&service, "app/db-password", "hunter2-original").await;
    service.terminate().await;

    let original = service.data_dir().join("master.key");
    let other = service.data_dir().join("other.key");
    write_key(&other);
    let other_path = other.display().to_string();
    let refused = serve_refuses(
        &service,
        &[("SCAIVAULT_SECURITY__MASTER_KEY_FILE", &other_path)],
    )
    .await;
    assert!(
        refused.contains(&other_path),
        "names the key file: {refused}"
    );
    assert!(
        refused.contains(&fingerprint(&other)),
        "shows the key's fingerprint: {refused}"
    );
    assert!(
        refused.contains(&fingerprint(&original)),
        "shows the expected fingerprint: {refused}"
    );

    // A missing key file is not replaced by a new key that could open nothing.
    let missing = service.data_dir().join("missing.key");
    let refused = serve_refuses(
        &service,
        &[(
            "SCAIVAULT_SECURITY__MASTER_KEY_FILE",
            &missing.display().to_string(),
        )],
    )
    .await;
    assert!(
        refused.contains(&fingerprint(&original)),
        "names the key to restore: {refused}"
    );
    assert!(!missing.exists(), "no key file created");

    // A database from before check values existed: the key is judged by a sealed value, then
    // its check value is recorded.
    let store = scaivault_store::connect(&service.database_url())
        .await
        .expect("open the store");
    store
        .update_meta(&[], &["master_key_check"])
        .await
        .expect("forget the check value");
    let refused = serve_refuses(
        &service,
        &[("SCAIVAULT_SECURITY__MASTER_KEY_FILE", &other_path)],
    )
    .await;
    assert!(refused.contains(&fingerprint(&other)), "{refused}");
    assert_eq!(
        store.get_meta("master_key_check").await.expect("meta"),
        None,
        "a wrong key records nothing"
    );
    service.restart().await;
    assert_secret(&service, "app/db-password", "hunter2-original").await;
    let check = store
        .get_meta("master_key_check")
        .await
        .expect("meta")
        .expect("recorded again");
    assert!(check.starts_with(&fingerprint(&original)), "{check}");
}
on_both_backends!(a_different_key_stops_start_up);

/// What a webhook receiver saw of one request.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
}

/// Records every request on 127.0.0.1, answering 200.
async fn receiver() -> (
    String,
    Arc<Mutex<Vec<Received>>>,
    tokio::task::JoinHandle<()>,
) {
    let port = free_port(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .expect("bind the receiver");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = seen.clone();
    let app = Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
        let recorded = recorded.clone();
        async move {
            recorded
                .lock()
                .expect("lock")
                .push(Received { headers, body });
            StatusCode::OK
        }
    });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://127.0.0.1:{port}/hooks"), seen, task)
}

async fn issue_valid(service: &Service, account_id: &str) -> String {
    let done = common::issue_http01(&service.client(), account_id, DEADLINE).await;
    assert_eq!(done["status"], "valid", "{done}\n{}", service.log_tail());
    done["certificate_id"]
        .as_str()
        .expect("certificate")
        .to_owned()
}

async fn certificate_key(service: &Service, certificate_id: &str) -> String {
    let answer = service
        .client()
        .raw(
            reqwest::Method::GET,
            &format!("/v1/pki/certificates/{certificate_id}/key"),
            None,
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.contains("PRIVATE KEY"), "{}", answer.body);
    answer.body
}

async fn rotation_keeps_everything(db: Db) {
    const WEBHOOK_SECRET: &str = "whsec-rotation-0123456789abcdef";
    let pebble = PebbleOptions {
        nonce_reject_percent: Some(0),
        ..Default::default()
    };
    let env = common::issuing(
        db,
        pebble,
        &[("SCAIVAULT_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true")],
    )
    .await;
    let mut service = env.service;
    put_secret(&service, "app/db-password", "hunter2-before-rotation").await;
    put_secret(&service, "dns/tsig", "c2NhaXZhdWx0LXRzaWctc2VjcmV0LTAxMjM=").await;
    let (status, provider) = service
        .client()
        .post(
            "/v1/pki/dns-providers",
            &json!({
                "name": "bind",
                "type": "rfc2136",
                "config": {
                    "nameserver": "127.0.0.1:53",
                    "tsig_key_name": "scaivault.",
                    "tsig_algorithm": "hmac-sha256",
                    "tsig_secret_path": "dns/tsig",
                },
            }),
        )
        .await;
    assert_eq!(status, 201, "{provider}");
    let provider_id = provider["id"].as_str().expect("provider id").to_owned();
    let first = issue_valid(&service, &env.account_id).await;
    let first_key = certificate_key(&service, &first).await;
    let (url, received, _receiver) = receiver().await;
    let (status, webhook) = service
        .client()
        .post(
            "/v1/webhooks",
            &json!({ "url": url, "events": ["certificate.issued"], "secret": WEBHOOK_SECRET }),
        )
        .await;
    assert_eq!(status, 201, "{webhook}");
    service.terminate().await;

    let old_key = service.data_dir().join("master.key");
    let new_key = service.data_dir().join("rotated/new.key");
    let out = rotate(&service, &new_key, &[]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(mode(&new_key), 0o600, "a created key file is private");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&fingerprint(&new_key)),
        "{}",
        text(&out)
    );
    // The database is now sealed under the new key only.
    let refused = serve_refuses(&service, &[]).await;
    assert!(refused.contains(&fingerprint(&new_key)), "{refused}");
    assert!(refused.contains(&fingerprint(&old_key)), "{refused}");

    use_key(&service, &new_key);
    service.restart().await;
    assert_secret(&service, "app/db-password", "hunter2-before-rotation").await;
    assert_secret(&service, "dns/tsig", "c2NhaXZhdWx0LXRzaWctc2VjcmV0LTAxMjM=").await;
    let (status, body) = service
        .client()
        .get(&format!("/v1/pki/dns-providers/{provider_id}"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(certificate_key(&service, &first).await, first_key);
    // The account's key signs a new order; the webhook's secret signs its event.
    let second = issue_valid(&service, &env.account_id).await;
    certificate_key(&service, &second).await;
    let deadline = Instant::now() + DEADLINE;
    let delivery = loop {
        let found = received
            .lock()
            .expect("lock")
            .iter()
            .find(|r| String::from_utf8_lossy(&r.body).contains(&second))
            .cloned();
        if let Some(found) = found {
            break found;
        }
        assert!(
            Instant::now() < deadline,
            "no delivery for {second}\n{}",
            service.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let body = std::str::from_utf8(&delivery.body).expect("UTF-8 body");
    let out = openssl(&["dgst", "-sha256", "-hmac", WEBHOOK_SECRET], body);
    let expected = format!("sha256={}", out.split_whitespace().last().expect("digest"));
    assert_eq!(
        delivery.headers["x-scaivault-signature"]
            .to_str()
            .expect("header"),
        expected
    );
}
on_both_backends!(rotation_keeps_everything);

async fn an_interrupted_rotation_resumes(db: Db) {
    const SECRETS: usize = 130;
    let (opts, _pg) = common::options(db);
    let mut service = Service::start(opts).await;
    for i in 0..SECRETS {
        put_secret(&service, &format!("bulk/s{i:03}"), &format!("value-{i}")).await;
    }
    service.terminate().await;

    let new_key = service.data_dir().join("new.key");
    write_key(&new_key);
    let out = rotate(&service, &new_key, &[("SV_TEST_ROTATE_STOP_AFTER", "60")]).await;
    assert_eq!(
        out.status.code(),
        Some(86),
        "stopped midway: {}",
        text(&out)
    );
    let refused = serve_refuses(&service, &[]).await;
    assert!(refused.contains("unfinished"), "{refused}");
    assert!(refused.contains(&fingerprint(&new_key)), "{refused}");

    let out = rotate(&service, &new_key, &[]).await;
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let resealed: usize = stdout
        .split("Re-sealed ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("how many were re-sealed: {stdout}"));
    assert!(
        resealed > 0 && resealed < SECRETS,
        "the rerun re-seals only what the first run left: {stdout}"
    );
    use_key(&service, &new_key);
    service.restart().await;
    for i in 0..SECRETS {
        assert_secret(&service, &format!("bulk/s{i:03}"), &format!("value-{i}")).await;
    }
}
on_both_backends!(an_interrupted_rotation_resumes);

/// Runs the binary under `umask 022`, so that files the service leaves to the umask would be
/// group- and world-readable.
fn umask_022_wrapper(dir: &Path) -> PathBuf {
    let script = dir.join("scaivault-umask-022");
    std::fs::write(
        &script,
        format!("#!/bin/sh\numask 022\nexec '{BINARY}' \"$@\"\n"),
    )
    .expect("write wrapper");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    script
}

#[tokio::test]
async fn data_files_are_private() {
    let wrapper_dir = tempfile::tempdir().expect("tempdir");
    // Relative paths: under the service's working directory, its (harness) data directory.
    let opts = ServiceOptions::new(umask_022_wrapper(wrapper_dir.path()))
        .set_str("database", "url", "sqlite://data/db/scaivault.db")
        .set_str("security", "master_key_file", "keys/master.key");
    let mut service = Service::start(opts).await;
    put_secret(&service, "app/x", "y").await;
    let data = service.data_dir().join("data/db");
    assert_eq!(mode(&service.data_dir().join("data")), 0o700);
    assert_eq!(mode(&data), 0o700);
    for file in ["scaivault.db", "scaivault.db-wal", "scaivault.db-shm"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    assert_eq!(mode(&service.data_dir().join("keys")), 0o700);
    assert_eq!(mode(&service.data_dir().join("keys/master.key")), 0o600);

    // An existing database left readable by others is made private at the next start.
    service.terminate().await;
    std::fs::set_permissions(
        data.join("scaivault.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    service.restart().await;
    for file in ["scaivault.db", "scaivault.db-wal", "scaivault.db-shm"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
}
