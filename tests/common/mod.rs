//! Set-up shared by the end-to-end tests: a Pebble, the service trusting Pebble's listener root,
//! on SQLite or on a fresh PostgreSQL database.

#![allow(dead_code)] // each test binary uses its own part of this module

pub mod browser;

use scaivault_testkit::{Pebble, PebbleOptions, PgDatabase, Service, ServiceOptions};

/// Which store a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A service with its peers; dropped in field order (service first).
pub struct Env {
    pub service: Service,
    pub pebble: Pebble,
    pub pg: Option<PgDatabase>,
}

/// Service options for `db`, with the database created when it is PostgreSQL.
pub fn options(db: Db) -> (ServiceOptions, Option<PgDatabase>) {
    let opts = ServiceOptions::new(env!("CARGO_BIN_EXE_scaivault"));
    match db {
        Db::Sqlite => (opts, None),
        Db::Postgres => {
            let pg = PgDatabase::create();
            (opts.postgres(pg.url()), Some(pg))
        }
    }
}

/// Starts Pebble with `pebble` options and the service on `db`, trusting Pebble's listener.
pub async fn start(db: Db, pebble: PebbleOptions) -> Env {
    let pebble = Pebble::start(pebble).await;
    let (opts, pg) = options(db);
    let service = Service::start(opts.extra_root(pebble.listener_root_pem_path())).await;
    Env {
        service,
        pebble,
        pg,
    }
}

/// The body registering a `custom` account at `pebble`.
pub fn custom_account(name: &str, pebble: &Pebble) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "provider": "custom",
        "environment": "staging",
        "email": "certs@acme.example",
        "directory_url": pebble.directory_url(),
    })
}

/// Declares `name` as two tests, one per store backend; `$body` is an `async fn(Db)`.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(super::common::Db::Sqlite).await;
            }

            #[tokio::test]
            async fn postgres() {
                super::$name(super::common::Db::Postgres).await;
            }
        }
    };
}

/// A service that can get certificates: Pebble validating against the service's http-01 and
/// tls-alpn-01 listeners, names resolved to 127.0.0.1 by a challenge test DNS server.
pub struct Issuing {
    pub service: Service,
    pub pebble: Pebble,
    pub dns: scaivault_testkit::ChallTestSrv,
    pub pg: Option<PgDatabase>,
    pub account_id: String,
}

/// Starts the peers and the service, and registers an account.
pub async fn issuing(db: Db, pebble: PebbleOptions, service_env: &[(&str, &str)]) -> Issuing {
    issuing_with(db, pebble, |mut opts, _| {
        for (key, value) in service_env {
            opts = opts.env(*key, *value);
        }
        opts
    })
    .await
}

/// [`issuing`], with the service's options completed by `configure` once Pebble runs.
pub async fn issuing_with(
    db: Db,
    pebble: PebbleOptions,
    configure: impl FnOnce(ServiceOptions, &Pebble) -> ServiceOptions,
) -> Issuing {
    let dns = scaivault_testkit::ChallTestSrv::start().await;
    let loopback = std::net::Ipv4Addr::LOCALHOST.into();
    let http_port = scaivault_testkit::free_port(loopback);
    let tls_port = scaivault_testkit::free_port(loopback);
    let pebble = Pebble::start(PebbleOptions {
        http_port: Some(http_port),
        tls_port: Some(tls_port),
        dns_server: Some(dns.dns_addr()),
        ..pebble
    })
    .await;
    let (mut opts, pg) = options(db);
    opts = opts
        .extra_root(pebble.listener_root_pem_path())
        .set(
            "challenges",
            "http01_listen",
            format!("[\"127.0.0.1:{http_port}\"]"),
        )
        .set(
            "challenges",
            "tls_alpn01_listen",
            format!("[\"127.0.0.1:{tls_port}\"]"),
        );
    let service = Service::start(configure(opts, &pebble)).await;
    let (status, account) = service
        .client()
        .post("/v1/pki/acme/accounts", &custom_account("issuer", &pebble))
        .await;
    assert_eq!(status, 201, "{account}");
    let account_id = account["id"].as_str().expect("account id").to_owned();
    Issuing {
        service,
        pebble,
        dns,
        pg,
        account_id,
    }
}

/// Random names under example.test, so no two tests share identifiers.
pub fn domains(count: usize) -> Vec<String> {
    let tag = scaivault_testkit_tag();
    (0..count)
        .map(|i| format!("host{i}.{tag}.example.test"))
        .collect()
}

fn scaivault_testkit_tag() -> String {
    use rand::Rng;
    let n: u64 = rand::rng().random();
    format!("t{n:x}")
}

/// Polls an order until it is final (valid, invalid, ...), up to `timeout`.
pub async fn wait_final(
    api: &scaivault_testkit::ApiClient,
    order_id: &str,
    timeout: std::time::Duration,
) -> serde_json::Value {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let (status, order) = api.get(&format!("/v1/pki/acme/orders/{order_id}")).await;
        assert_eq!(status, 200, "{order}");
        let state = order["status"].as_str().unwrap_or_default();
        if !matches!(state, "pending" | "ready" | "processing") {
            return order;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "order {order_id} still {state} after {timeout:?}: {order}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Verifies a chain (leaf first) against Pebble's issuing root with openssl.
pub async fn verify_chain(pebble: &Pebble, chain_pem: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root.pem");
    std::fs::write(&root, pebble.issuer_roots_pem().await).expect("write root");
    let blocks: Vec<&str> = chain_pem
        .split_inclusive("-----END CERTIFICATE-----")
        .filter(|b| b.contains("BEGIN CERTIFICATE"))
        .collect();
    assert!(
        blocks.len() >= 2,
        "leaf and at least one intermediate: {chain_pem}"
    );
    let leaf = dir.path().join("leaf.pem");
    let rest = dir.path().join("intermediates.pem");
    std::fs::write(&leaf, blocks[0].trim_start()).expect("write leaf");
    std::fs::write(&rest, blocks[1..].concat()).expect("write intermediates");
    let out = std::process::Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(&root)
        .arg("-untrusted")
        .arg(&rest)
        .arg(&leaf)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "chain verifies against Pebble's root: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `openssl <args>` with `input` on stdin; its stdout.
pub fn openssl(args: &[&str], input: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("openssl")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("openssl");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("openssl output");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The idempotency keys of the certificate's live renewal tasks in the job queue, sorted.
pub async fn live_renewal_tasks(database_url: &str, certificate_id: &str) -> Vec<String> {
    scaivault_jobs::JobDatabase::connect(database_url)
        .await
        .expect("open the job queue")
        .live_renewal_tasks(certificate_id)
        .await
        .expect("read renewal tasks")
}

/// Registers a `custom` account named `name` at `directory_url` (Pebble, or a front before
/// it) and returns its id.
pub async fn register_custom(
    api: &scaivault_testkit::ApiClient,
    name: &str,
    directory_url: &str,
) -> String {
    let account = api
        .register(&scaivault_contract::Register {
            name: name.to_owned(),
            provider: scaivault_contract::Provider::Custom,
            environment: Some(scaivault_contract::Environment::Staging),
            email: "certs@acme.example".to_owned(),
            directory_url: Some(directory_url.to_owned()),
            eab: None,
            zerossl_api_key_path: None,
        })
        .await
        .unwrap_or_else(|failure| panic!("registering {name}: {failure}"));
    assert_eq!(account.status, scaivault_contract::AccountStatus::Active);
    account.id
}

/// Orders one http-01 certificate for a fresh name through `account_id` and waits up to
/// `within` for the order to be final; returns the final order (valid or not).
pub async fn issue_http01(
    api: &scaivault_testkit::ApiClient,
    account_id: &str,
    within: std::time::Duration,
) -> serde_json::Value {
    let placed = api
        .issue(&scaivault_contract::Issue::new(
            account_id,
            domains(1),
            scaivault_contract::ChallengeType::Http01,
        ))
        .await
        .unwrap_or_else(|failure| panic!("issuing through {account_id}: {failure}"));
    assert_eq!(placed.challenges.len(), 1);
    wait_final(api, &placed.order.order_id, within).await
}

/// Stores `tsig_secret` under `dns/bind/tsig` and registers an rfc2136 DNS provider that
/// updates `bind` with it; returns the provider's answer (its `id` and the rest).
pub async fn bind_provider(
    api: &scaivault_testkit::ApiClient,
    bind: &scaivault_testkit::Bind,
    tsig_secret: &str,
) -> serde_json::Value {
    let (status, _) = api
        .put(
            "/v1/secrets/dns/bind/tsig",
            &serde_json::json!({ "value": tsig_secret }),
        )
        .await;
    assert_eq!(status, 201);
    let (status, provider) = api
        .post(
            "/v1/pki/dns-providers",
            &serde_json::json!({
                "name": "bind",
                "type": "rfc2136",
                "config": {
                    "nameserver": bind.addr(),
                    "tsig_key_name": bind.tsig_key_name(),
                    "tsig_algorithm": bind.tsig_algorithm(),
                    "tsig_secret_path": "dns/bind/tsig",
                },
            }),
        )
        .await;
    assert_eq!(status, 201, "{provider}");
    provider
}

/// Deletes every renewal task from the job queue, as for certificates seeded or imported from
/// elsewhere, or a task lost between storing a version and scheduling its renewal.
pub async fn drop_renewal_tasks(database_url: &str) {
    scaivault_jobs::JobDatabase::connect(database_url)
        .await
        .expect("open the job queue")
        .delete_renewal_tasks()
        .await
        .expect("delete renewal tasks");
}

/// The CSRF token a console page embeds in its forms (`<input ... name="csrf" value="...">`).
pub fn csrf_token(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no CSRF field in the page: {html}"))
        + marker.len();
    let end = html[start..].find('"').expect("the field's closing quote") + start;
    html[start..end].to_owned()
}
