//! The log through the real binary: `[server] log_format` in both forms, request ids (echoed,
//! carried by the request's log lines, a caller's id kept only when it cannot forge a field),
//! and no secret ever logged: a full end-to-end run at trace level for the service's own crates
//! (debug for everything else) handles every kind of secret the service knows, and then the
//! whole log is searched for each of them in every encoding it could plausibly be written in.
//!
//! The one allowed appearance is the bootstrap admin token, which the first start prints once
//! (src/bootstrap.rs) on stdout — the same stream as the log, so the log file holds it: exactly
//! that one line, `    <token>`, and no other line, even after a restart.

#[macro_use]
mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use common::{Db, options, wait_final};
use scaivault_testkit::{ApiClient, Bind, BindOptions, Pebble, PebbleOptions, Service};
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(90);
/// Trace for the service's own crates, debug for every library (HTTP, TLS, SQL, DNS, jobs).
const VERBOSE: &str = "debug,scaivault=trace,scaivault_actors=trace,scaivault_jobs=trace,\
                       scaivault_store=trace,scaivault_domain=trace";
const EAB_KID: &str = "kid-log-hygiene";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Text,
    Json,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
        }
    }
}

/// Random URL-safe text, `bytes` of entropy.
fn random_b64(bytes: usize) -> String {
    URL_SAFE_NO_PAD.encode(
        (0..bytes)
            .map(|_| rand::random::<u8>())
            .collect::<Vec<u8>>(),
    )
}

fn tag() -> String {
    format!("t{:x}", rand::random::<u64>())
}

/// What must never appear in the log, each under a label saying what it is.
#[derive(Default)]
struct Secrets {
    needles: Vec<(String, String)>,
    raw: Vec<(String, Vec<u8>)>,
}

impl Secrets {
    fn text(&mut self, label: &str, needle: &str) {
        assert!(
            needle.len() >= 12,
            "{label}: a needle this short could match by chance: {needle:?}"
        );
        self.needles.push((label.to_owned(), needle.to_owned()));
    }

    /// Key material in every encoding a log statement could produce: hex (both cases) and
    /// base64 (standard and URL-safe, with and without padding), plus the raw bytes.
    fn bytes(&mut self, label: &str, bytes: &[u8]) {
        self.text(&format!("{label} (hex)"), &hex::encode(bytes));
        self.text(&format!("{label} (HEX)"), &hex::encode_upper(bytes));
        for (kind, encoded) in [
            ("base64", STANDARD.encode(bytes)),
            ("base64, unpadded", STANDARD_NO_PAD.encode(bytes)),
            ("base64url", URL_SAFE.encode(bytes)),
            ("base64url, unpadded", URL_SAFE_NO_PAD.encode(bytes)),
        ] {
            self.text(&format!("{label} ({kind})"), &encoded);
        }
        self.raw.push((label.to_owned(), bytes.to_vec()));
    }

    /// A secret given as base64 (either alphabet): the text itself and its decoded bytes.
    fn b64(&mut self, label: &str, text: &str) {
        self.text(label, text);
        let trimmed = text.trim_end_matches('=');
        let decoded = URL_SAFE_NO_PAD
            .decode(trimmed)
            .or_else(|_| STANDARD_NO_PAD.decode(trimmed))
            .unwrap_or_else(|e| panic!("{label} is not base64: {e}"));
        self.bytes(label, &decoded);
    }

    /// A PEM private key: every base64 line of its body and the DER it encodes.
    fn pem(&mut self, label: &str, pem: &str) {
        assert!(pem.contains("PRIVATE KEY"), "{label} is a private key PEM");
        let body: String = pem
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .map(str::trim)
            .collect();
        for (i, line) in pem
            .lines()
            .filter(|line| !line.starts_with("-----") && line.trim().len() >= 16)
            .enumerate()
        {
            self.text(&format!("{label} (PEM line {})", i + 1), line.trim());
        }
        let der = STANDARD
            .decode(&body)
            .unwrap_or_else(|e| panic!("{label}: PEM body is not base64: {e}"));
        self.bytes(&format!("{label} (DER)"), &der);
    }

    /// Every line of `log` holding a secret, except `allowed` lines (exact, trimmed).
    fn hits(&self, log: &[u8], allowed: &[&str]) -> Vec<String> {
        let text = String::from_utf8_lossy(log);
        let mut hits = Vec::new();
        for (number, line) in text.lines().enumerate() {
            if allowed.contains(&line.trim()) {
                continue;
            }
            let marker = line
                .contains("PRIVATE KEY")
                .then_some("a PEM private key marker");
            let found = self
                .needles
                .iter()
                .filter(|(_, needle)| line.contains(needle.as_str()))
                .map(|(label, _)| label.as_str())
                .chain(marker);
            for label in found {
                hits.push(format!("line {}: {label}:\n    {line}", number + 1));
            }
        }
        for (label, raw) in &self.raw {
            if log
                .windows(raw.len())
                .any(|window| window == raw.as_slice())
            {
                hits.push(format!("{label}: the raw bytes are in the log"));
            }
        }
        hits
    }
}

/// A webhook receiver on 127.0.0.1 answering 200 and keeping the bodies.
struct Receiver {
    port: u16,
    bodies: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind the receiver");
        let port = listener.local_addr().expect("address").port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let kept = bodies.clone();
        let app = axum::Router::new().fallback(move |body: String| {
            let kept = kept.clone();
            async move {
                kept.lock().expect("lock").push(body);
                axum::http::StatusCode::OK
            }
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { port, bodies, task }
    }

    async fn wait_for_one(&self, service: &Service) {
        let deadline = Instant::now() + DEADLINE;
        while self.bodies.lock().expect("lock").is_empty() {
            assert!(
                Instant::now() < deadline,
                "no webhook delivery arrived\n{}",
                service.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The bootstrap token the first start printed (the line after the banner).
fn printed_bootstrap_token(log: &str) -> String {
    let mut lines = log.lines();
    lines
        .by_ref()
        .find(|line| line.contains("ScaiVault bootstrap admin token"))
        .unwrap_or_else(|| panic!("the first start prints the bootstrap token:\n{log}"));
    lines
        .map(str::trim)
        .find(|line| !line.is_empty())
        .expect("the token follows the banner")
        .to_owned()
}

/// The secret part of a token value `<id>.<secret>`.
fn token_secret(value: &str) -> &str {
    value
        .split_once('.')
        .map(|(_, secret)| secret)
        .unwrap_or_else(|| panic!("token value {value:?} is <id>.<secret>"))
}

async fn created(api: &ApiClient, path: &str, body: Value) -> Value {
    let (status, answer) = api.post(path, &body).await;
    assert_eq!(status, 201, "POST {path} {body} -> {answer}");
    answer
}

/// The account key as the service holds it, unsealed with the master key from the store.
async fn account_key_der(service: &Service, master_key: &[u8], account_id: &str) -> Vec<u8> {
    let store = scaivault_store::connect(&service.database_url())
        .await
        .expect("open the service's store");
    let sealed = store
        .account_credentials(account_id)
        .await
        .expect("read credentials")
        .expect("the account has credentials");
    let key = scaivault_domain::seal::MasterKey::from_bytes(master_key).expect("master key");
    let opened = key
        .open(
            &scaivault_domain::account::credentials_aad(account_id),
            &sealed,
        )
        .expect("unseal the account credentials");
    let credentials: Value = serde_json::from_slice(&opened).expect("credentials are JSON");
    let pkcs8 = credentials["key_pkcs8"]
        .as_str()
        .unwrap_or_else(|| panic!("credentials carry key_pkcs8: {credentials}"));
    URL_SAFE_NO_PAD
        .decode(pkcs8)
        .expect("key_pkcs8 is base64url")
}

/// Places a dns-01 order and waits for its final state.
async fn issue_dns01(api: &ApiClient, account_id: &str, provider_id: &str, name: &str) -> Value {
    let (status, placed) = api
        .post(
            "/v1/pki/acme/issue",
            &json!({
                "account_id": account_id,
                "domains": [name],
                "challenge_type": "dns-01",
                "dns_provider_id": provider_id,
            }),
        )
        .await;
    assert_eq!(status, 202, "{placed}");
    wait_final(
        api,
        placed["order_id"].as_str().expect("order id"),
        DEADLINE,
    )
    .await
}

async fn private_key(api: &ApiClient, certificate_id: &str) -> String {
    let key = api
        .raw(
            reqwest::Method::GET,
            &format!("/v1/pki/certificates/{certificate_id}/key"),
            None,
        )
        .await;
    assert_eq!(key.status, 200, "{}", key.body);
    key.body
}

/// Everything the service does with a secret, once, then the log searched for all of them.
async fn no_secret_in_the_log(db: Db, format: Format) {
    let mut secrets = Secrets::default();
    let eab_key = random_b64(32);
    let bind = Bind::start(BindOptions::zones(["example.test"])).await;
    let pebble = Pebble::start(PebbleOptions {
        dns_server: Some(bind.addr()),
        nonce_reject_percent: Some(0),
        eab_keys: Some(vec![(EAB_KID.into(), eab_key.clone())]),
        ..Default::default()
    })
    .await;
    let receiver = Receiver::start().await;
    let (mut opts, pg) = options(db);
    if let Some(pg) = &pg {
        // PostgreSQL trusts the test user, so a password in the URL is accepted and ignored:
        // it is here only to be looked for in the log.
        let password = format!("pgpw-{}", random_b64(18));
        secrets.text("database password", &password);
        let url = pg.url().replacen("@", &format!(":{password}@"), 1);
        opts = opts.postgres(url);
    }
    let metrics_token = format!("mt-{}", random_b64(24));
    secrets.text("metrics token", &metrics_token);
    let mut service = Service::start(
        opts.extra_root(pebble.listener_root_pem_path())
            // Empty: the first start mints the bootstrap token and prints it once.
            .set_str("security", "admin_token", "")
            .set_str("security", "metrics_token", &metrics_token)
            .set_str("server", "log_format", format.name())
            .set("dns", "resolvers", format!("[\"{}\"]", bind.addr()))
            .set_str("dns", "propagation_interval", "100ms")
            .set_str("dns", "propagation_timeout", "20s")
            .set("webhooks", "allow_private_targets", "true")
            .env("RUST_LOG", VERBOSE),
    )
    .await;

    let bootstrap = printed_bootstrap_token(&service.log_text());
    secrets.text("bootstrap token", &bootstrap);
    secrets.text("bootstrap token (secret part)", token_secret(&bootstrap));
    let admin = ApiClient::new(service.base_url(), Some(bootstrap.clone()));

    // API tokens: one used for everything below, one created, used once and deleted.
    let ops = created(
        &admin,
        "/v1/auth/tokens",
        json!({"name": "ops", "scopes": ["pki:read", "pki:write", "pki:keys",
                                          "secrets:read", "secrets:write", "admin"]}),
    )
    .await["token"]
        .as_str()
        .expect("token value")
        .to_owned();
    secrets.text("API token", &ops);
    secrets.text("API token (secret part)", token_secret(&ops));
    let api = admin.with_token(ops.clone());
    let reader = created(
        &api,
        "/v1/auth/tokens",
        json!({"name": "reader", "scopes": ["pki:read"], "expires_in": "1h"}),
    )
    .await;
    let reader_value = reader["token"].as_str().expect("token value").to_owned();
    secrets.text("second API token", &reader_value);
    secrets.text(
        "second API token (secret part)",
        token_secret(&reader_value),
    );
    let (status, _) = api.with_token(reader_value.clone()).get("/v1/events").await;
    assert_eq!(status, 200);
    let (status, _) = api
        .delete(&format!(
            "/v1/auth/tokens/{}",
            reader["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(status, 204);
    let (status, _) = api.with_token(reader_value.clone()).get("/v1/events").await;
    assert_eq!(status, 401, "a deleted token is refused");

    // Secrets: the TSIG key the DNS provider uses, a wrong one, and a plain value read back.
    secrets.b64("TSIG secret", bind.tsig_secret_b64());
    let wrong_tsig = STANDARD.encode(rand::random::<[u8; 32]>());
    secrets.b64("wrong TSIG secret", &wrong_tsig);
    let plain = format!("db-password-{}", random_b64(24));
    secrets.text("secret value", &plain);
    for (path, value) in [
        ("dns/bind/tsig", bind.tsig_secret_b64()),
        ("dns/bind/wrong", wrong_tsig.as_str()),
        ("app/db/password", plain.as_str()),
    ] {
        let (status, answer) = api
            .put(&format!("/v1/secrets/{path}"), &json!({ "value": value }))
            .await;
        assert_eq!(status, 201, "{answer}");
    }
    let (status, read) = api.get("/v1/secrets/app/db/password").await;
    assert_eq!(
        (status, read["value"].as_str()),
        (200, Some(plain.as_str()))
    );

    // Accounts: a wrong EAB key refused by the CA, then the right one.
    let wrong_eab = random_b64(32);
    secrets.b64("EAB HMAC key", &eab_key);
    secrets.b64("wrong EAB HMAC key", &wrong_eab);
    let mut account = common::custom_account("logged", &pebble);
    account["eab"] = json!({"kid": EAB_KID, "hmac_key": wrong_eab});
    let (status, refused) = api.post("/v1/pki/acme/accounts", &account).await;
    assert_eq!(status, 400, "{refused}");
    account["eab"] = json!({"kid": EAB_KID, "hmac_key": eab_key});
    let account = created(&api, "/v1/pki/acme/accounts", account).await;
    let account_id = account["id"].as_str().expect("account id").to_owned();

    // DNS providers over BIND: the right TSIG secret and a wrong one.
    let provider = |name: &str, path: &str| {
        json!({
            "name": name,
            "type": "rfc2136",
            "config": {
                "nameserver": bind.addr(),
                "tsig_key_name": bind.tsig_key_name(),
                "tsig_algorithm": bind.tsig_algorithm(),
                "tsig_secret_path": path,
            },
        })
    };
    let good = created(
        &api,
        "/v1/pki/dns-providers",
        provider("bind", "dns/bind/tsig"),
    )
    .await;
    let bad = created(
        &api,
        "/v1/pki/dns-providers",
        provider("bind-wrong", "dns/bind/wrong"),
    )
    .await;

    // A webhook with a caller-chosen secret, delivered to on issuance.
    let webhook_secret = format!("whsec-{}", random_b64(24));
    secrets.text("webhook secret", &webhook_secret);
    created(
        &api,
        "/v1/webhooks",
        json!({
            "url": format!("http://127.0.0.1:{}/hook", receiver.port),
            "events": ["certificate.issued", "certificate.renewed", "certificate.revoked"],
            "secret": webhook_secret,
        }),
    )
    .await;

    // dns-01 through BIND: issued, its key read, renewed (a new key), revoked at the CA.
    let name = format!("www.{}.example.test", tag());
    let done = issue_dns01(&api, &account_id, good["id"].as_str().expect("id"), &name).await;
    assert_eq!(done["status"], "valid", "{done}");
    let certificate_id = done["certificate_id"]
        .as_str()
        .expect("certificate")
        .to_owned();
    let key_pem = private_key(&api, &certificate_id).await;
    secrets.pem("certificate private key", &key_pem);
    // The search itself finds a key however a line would hold it (here JSON-escaped, as the
    // json format writes a multi-line value).
    let escaped = serde_json::to_string(&key_pem).expect("json");
    assert!(
        secrets
            .hits(escaped.replace("PRIVATE KEY", "").as_bytes(), &[])
            .len()
            > 1,
        "the search finds an escaped PEM body"
    );
    let pem = api
        .raw(
            reqwest::Method::GET,
            &format!("/v1/pki/certificates/{certificate_id}/pem"),
            None,
        )
        .await;
    assert_eq!(pem.status, 200);
    receiver.wait_for_one(&service).await;

    let (status, renewal) = api
        .post(
            &format!("/v1/pki/certificates/{certificate_id}/renew"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 202, "{renewal}");
    let renewed = wait_final(
        &api,
        renewal["order_id"].as_str().expect("order id"),
        DEADLINE,
    )
    .await;
    assert_eq!(renewed["status"], "valid", "{renewed}");
    secrets.pem(
        "renewed certificate private key",
        &private_key(&api, &certificate_id).await,
    );
    let (_, certificate) = api
        .get(&format!("/v1/pki/certificates/{certificate_id}"))
        .await;
    let serial = certificate["serial_number"]
        .as_str()
        .expect("serial")
        .to_owned();
    let (status, revoked) = api
        .post(
            "/v1/pki/revoke",
            &json!({"serial_number": serial, "reason": "key_compromise", "use_acme": true}),
        )
        .await;
    assert_eq!(status, 200, "{revoked}");

    // The wrong TSIG secret: BIND refuses the update and the order fails.
    let failed = issue_dns01(
        &api,
        &account_id,
        bad["id"].as_str().expect("id"),
        &format!("bad.{}.example.test", tag()),
    )
    .await;
    assert_eq!(failed["status"], "invalid", "{failed}");

    // The master key and the account key, read back from the data directory and the store.
    let master_key = std::fs::read(service.data_dir().join("master.key")).expect("master key");
    secrets.bytes("master key", &master_key);
    let account_key = account_key_der(&service, &master_key, &account_id).await;
    secrets.bytes("account key (PKCS#8 DER)", &account_key);

    // What the service shows of all this, lists and metrics included, holds no secret either.
    for path in [
        "/v1/pki/acme/orders",
        "/v1/pki/certificates",
        "/v1/events",
        "/v1/webhooks",
        "/v1/pki/dns-providers",
        "/v1/pki/acme/accounts",
        "/v1/auth/tokens",
        "/metrics",
        "/v1/openapi.json",
    ] {
        let answer = api.raw(reqwest::Method::GET, path, None).await;
        assert_eq!(answer.status, 200, "GET {path}: {}", answer.body);
        let hits = secrets.hits(answer.body.as_bytes(), &[]);
        assert!(hits.is_empty(), "GET {path} shows:\n{}", hits.join("\n"));
    }
    let scraped = api
        .with_token(metrics_token.clone())
        .raw(reqwest::Method::GET, "/metrics", None)
        .await;
    assert_eq!(scraped.status, 200, "the metrics token: {}", scraped.body);

    // Deactivated at the CA (signed with the account key), then a restart, which must not
    // print the bootstrap token again.
    let (status, gone) = api
        .delete(&format!("/v1/pki/acme/accounts/{account_id}"))
        .await;
    assert_eq!(status, 200, "{gone}");
    service.restart().await;
    let (status, _) = admin.get("/v1/auth/tokens").await;
    assert_eq!(
        status, 200,
        "the bootstrap token still works after a restart"
    );
    service.terminate().await;

    let log = std::fs::read(service.data_dir().join("scaivault.log")).expect("read the log");
    let text = String::from_utf8_lossy(&log);
    assert!(
        text.lines().count() > 100,
        "a verbose log was written:\n{text}"
    );
    if format == Format::Json {
        let banner = [
            "ScaiVault bootstrap admin token",
            bootstrap.as_str(),
            "Create narrower tokens",
        ];
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            let structured = serde_json::from_str::<Value>(line).is_ok_and(|v| v.is_object());
            let printed = banner.iter().any(|part| line.contains(part))
                || line.starts_with("===== scaivault-testkit");
            assert!(structured || printed, "not a JSON log line: {line}");
        }
    }
    let printed = text
        .lines()
        .filter(|line| line.contains(bootstrap.as_str()))
        .count();
    assert_eq!(
        printed, 1,
        "the bootstrap token is printed exactly once, across a restart"
    );
    let bootstrap_hits = secrets.hits(&log, &[]);
    assert!(
        bootstrap_hits.len() == 2 && bootstrap_hits.iter().all(|hit| hit.contains("bootstrap")),
        "without the allowance, the search finds the printed token (whole and secret part): {}",
        bootstrap_hits.join("\n")
    );
    let hits = secrets.hits(&log, &[bootstrap.as_str()]);
    assert!(
        hits.is_empty(),
        "secrets in the {} log ({} lines, {} needles):\n{}",
        format.name(),
        text.lines().count(),
        secrets.needles.len(),
        hits.join("\n")
    );
}

#[tokio::test]
async fn no_secret_in_the_text_log_sqlite() {
    no_secret_in_the_log(Db::Sqlite, Format::Text).await;
}

#[tokio::test]
async fn no_secret_in_the_json_log_sqlite() {
    no_secret_in_the_log(Db::Sqlite, Format::Json).await;
}

#[tokio::test]
async fn no_secret_in_the_text_log_postgres() {
    no_secret_in_the_log(Db::Postgres, Format::Text).await;
}

#[tokio::test]
async fn no_secret_in_the_json_log_postgres() {
    no_secret_in_the_log(Db::Postgres, Format::Json).await;
}

/// What a request with `id` (raw header bytes, `None` for no header) should come back with.
enum Expect {
    /// The caller's id, kept.
    Kept,
    /// One of ours (16 hex digits) instead.
    Ours,
}

/// `x-request-id`: a plain caller id is echoed and carried by the request's log lines; a long or
/// odd one, or none, is replaced by ours, which is echoed and logged instead; nothing a caller
/// puts in the header reaches the log otherwise. Checked in the given log format, whose lines
/// must all be of that format.
async fn request_ids(format: Format) {
    let (opts, _pg) = options(Db::Sqlite);
    let service = Service::start(opts.set_str("server", "log_format", format.name())).await;
    let forged = "forged request_id=tok_x method=DELETE path=/v1/secrets/x".to_owned();
    let cases: Vec<(Option<Vec<u8>>, Expect)> = vec![
        (Some(b"caller-id-0001".to_vec()), Expect::Kept),
        (
            Some(b"6ba7b810-9dad-11d1-80b4-00c04fd430c8".to_vec()),
            Expect::Kept,
        ),
        (Some(b"svc:web.1_req".to_vec()), Expect::Kept),
        (Some(vec![b'a'; 64]), Expect::Kept),
        (Some(vec![b'b'; 65]), Expect::Ours),
        (Some(vec![b'c'; 4000]), Expect::Ours),
        (Some(forged.clone().into_bytes()), Expect::Ours),
        (Some(b"quote\"brace{".to_vec()), Expect::Ours),
        (Some(b"\xe9-unusual-id".to_vec()), Expect::Ours),
        (None, Expect::Ours),
    ];
    let http = reqwest::Client::new();
    let mut seen = Vec::new();
    for (i, (sent, expect)) in cases.iter().enumerate() {
        let mut request = http
            .post(format!("{}/v1/auth/tokens", service.base_url()))
            .bearer_auth(service.admin_token())
            .json(&json!({"name": format!("rid-{i}"), "scopes": ["pki:read"]}));
        if let Some(sent) = sent {
            let value = reqwest::header::HeaderValue::from_bytes(sent).expect("header value");
            request = request.header("x-request-id", value);
        }
        let response = request.send().await.expect("request");
        assert_eq!(response.status().as_u16(), 201);
        let echoed = response
            .headers()
            .get("x-request-id")
            .expect("every response carries x-request-id")
            .to_str()
            .expect("ascii")
            .to_owned();
        match expect {
            Expect::Kept => assert_eq!(
                Some(echoed.as_bytes()),
                sent.as_deref(),
                "a plain caller id is echoed"
            ),
            Expect::Ours => {
                assert!(
                    echoed.len() == 16 && echoed.bytes().all(|b| b.is_ascii_hexdigit()),
                    "case {i}: replaced by ours: {echoed:?}"
                );
                assert_ne!(Some(echoed.as_bytes()), sent.as_deref());
            }
        }
        let body: Value = response.json().await.expect("json");
        let token_id = body["id"].as_str().expect("token id").to_owned();
        seen.push((echoed, token_id));
    }

    // The handler logs "created API token" inside the request's span.
    let deadline = Instant::now() + DEADLINE;
    let log = loop {
        let log = service.log_text();
        if seen.iter().all(|(_, token)| log.contains(token.as_str())) {
            break log;
        }
        assert!(
            Instant::now() < deadline,
            "not every request logged:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for (request_id, token) in &seen {
        let line = log
            .lines()
            .find(|line| line.contains("created API token") && line.contains(token.as_str()))
            .unwrap_or_else(|| panic!("a log line for {token}:\n{log}"));
        match format {
            Format::Text => assert!(
                line.contains(&format!("request{{request_id={request_id} ")),
                "the line carries the request id {request_id}: {line}"
            ),
            Format::Json => {
                let line: Value = serde_json::from_str(line).expect("a JSON line");
                assert_eq!(line["span"]["request_id"], request_id.as_str(), "{line}");
                assert_eq!(
                    line["spans"][0]["request_id"],
                    request_id.as_str(),
                    "{line}"
                );
            }
        }
    }
    let long_b = "b".repeat(65);
    for leaked in [
        forged.as_str(),
        "request_id=tok_x",
        long_b.as_str(),
        "brace{",
        "-unusual-id",
    ] {
        assert!(
            !log.contains(leaked),
            "a refused id reached the log: {leaked}\n{log}"
        );
    }
    for line in log.lines().filter(|line| !line.trim().is_empty()) {
        let json = serde_json::from_str::<Value>(line).is_ok_and(|v| v.is_object());
        match format {
            Format::Json => assert!(json, "every line is a JSON object: {line}"),
            Format::Text => assert!(!json, "text lines, not JSON: {line}"),
        }
    }
}

#[tokio::test]
async fn request_ids_in_the_text_log() {
    request_ids(Format::Text).await;
}

#[tokio::test]
async fn request_ids_in_the_json_log() {
    request_ids(Format::Json).await;
}
