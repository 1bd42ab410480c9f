//! Webhooks end to end: subscriptions over the API, certificates issued by a real Pebble, and a
//! local receiver on 127.0.0.1 that records every connection and request. Signatures are
//! checked with `openssl dgst -hmac`, independently of the service's own HMAC.
//!
//! Traffic goes only to loopback: the delivery tests run with `allow_private_targets = true`,
//! the refusal tests with the default (`false`) and assert that no connection was made.

#[macro_use]
mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::serve::ListenerExt;
use common::{Db, Issuing, issuing, openssl};
use scaivault_testkit::{ConfigToml, PebbleOptions, Service, free_port};
use serde_json::{Value, json};

/// Bounds every awaited state; reached only when something is broken.
const DEADLINE: Duration = Duration::from_secs(60);
const SECRET: &str = "wh-test-secret-0123456789abcdef";

fn pebble() -> PebbleOptions {
    PebbleOptions {
        nonce_reject_percent: Some(0),
        ..Default::default()
    }
}

/// Deliveries to loopback allowed, fast retries.
const DELIVERY_ENV: [(&str, &str); 3] = [
    ("SCAIVAULT_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true"),
    ("SCAIVAULT_WEBHOOKS__RETRY_BASE", "200ms"),
    ("SCAIVAULT_WEBHOOKS__RETRY_MAX", "1s"),
];

/// What the receiver saw of one request.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("header {name} missing: {:?}", self.headers))
    }
}

/// A webhook receiver on 127.0.0.1: answers every request with `200`, recording it, and counts
/// accepted TCP connections (to prove that refused targets are never connected to).
struct Receiver {
    port: u16,
    requests: Arc<Mutex<Vec<Received>>>,
    connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(port: u16) -> Receiver {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .await
            .expect("bind the receiver");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        let listener = listener.tap_io(move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
        });
        let recorded = requests.clone();
        let app = Router::new().fallback(
            move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
                let recorded = recorded.clone();
                async move {
                    recorded.lock().expect("lock").push(Received {
                        path: uri.path().to_owned(),
                        headers,
                        body,
                    });
                    StatusCode::OK
                }
            },
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            port,
            requests,
            connections,
            task,
        }
    }

    fn requests(&self) -> Vec<Received> {
        self.requests.lock().expect("lock").clone()
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Waits until `count` requests arrived.
    async fn wait_for(&self, count: usize, service: &Service) -> Vec<Received> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let requests = self.requests();
            if requests.len() >= count {
                return requests;
            }
            assert!(
                Instant::now() < deadline,
                "{count} webhook requests expected, got {}\n{}",
                requests.len(),
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

fn loopback_port() -> u16 {
    free_port(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// `sha256=<hex HMAC-SHA256>` computed by openssl.
fn expected_signature(secret: &str, body: &[u8]) -> String {
    let body = std::str::from_utf8(body).expect("JSON body is UTF-8");
    let out = openssl(&["dgst", "-sha256", "-hmac", secret], body);
    let hex = out.split_whitespace().last().expect("openssl digest");
    format!("sha256={hex}")
}

async fn subscribe(service: &Service, url: &str, events: &[&str], secret: Option<&str>) -> Value {
    let mut body = json!({ "url": url, "events": events });
    if let Some(secret) = secret {
        body["secret"] = json!(secret);
    }
    let (status, created) = service.client().post("/v1/webhooks", &body).await;
    assert_eq!(status, 201, "{created}");
    created
}

/// Issues one certificate over http-01; returns its id.
async fn issue(env: &Issuing) -> String {
    let api = env.service.client();
    let done = common::issue_http01(&api, &env.account_id, DEADLINE).await;
    assert_eq!(done["status"], "valid", "{done}");
    done["certificate_id"]
        .as_str()
        .expect("certificate")
        .to_owned()
}

/// The webhook's deliveries (newest first).
async fn deliveries(service: &Service, webhook_id: &str) -> Vec<Value> {
    let (status, body) = service
        .client()
        .get(&format!("/v1/webhooks/{webhook_id}/deliveries"))
        .await;
    assert_eq!(status, 200, "{body}");
    body["deliveries"].as_array().cloned().unwrap_or_default()
}

/// Waits until the webhook has a delivery for which `done` holds; returns it.
async fn wait_delivery(
    service: &Service,
    webhook_id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let list = deliveries(service, webhook_id).await;
        if let Some(found) = list.iter().find(|d| done(d)) {
            return found.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no delivery {what}: {list:?}\n{}",
            service.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The `certificate.issued` event of `certificate_id`, as `GET /v1/events` shows it.
async fn issued_event(service: &Service, certificate_id: &str) -> Value {
    let (_, events) = service
        .client()
        .get("/v1/events?type=certificate.issued")
        .await;
    events["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["data"]["certificate_id"] == certificate_id)
        .cloned()
        .unwrap_or_else(|| panic!("no certificate.issued for {certificate_id}: {events}"))
}

async fn delivers_a_signed_event_once(db: Db) {
    let env = issuing(db, pebble(), &DELIVERY_ENV).await;
    let receiver = Receiver::start(loopback_port()).await;
    let url = format!("http://127.0.0.1:{}/hooks/scaivault", receiver.port);
    let created = subscribe(&env.service, &url, &["certificate.issued"], Some(SECRET)).await;
    let id = created["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("whk_"), "{created}");
    assert_eq!(created["secret"], SECRET, "shown once, at creation");
    assert_eq!(created["secret_set"], true);
    assert_eq!(created["events"], json!(["certificate.issued"]));
    // Another webhook, for another type only: it gets nothing.
    let other = subscribe(&env.service, &url, &["order.invalid"], None).await;
    let other_id = other["id"].as_str().expect("id");

    let certificate_id = issue(&env).await;
    let requests = receiver.wait_for(1, &env.service).await;
    let delivery = wait_delivery(&env.service, &id, "delivered", |d| {
        d["status"] == "delivered"
    })
    .await;

    let request = &requests[0];
    assert_eq!(request.path, "/hooks/scaivault");
    assert_eq!(request.header("content-type"), "application/json");
    assert_eq!(request.header("x-scaivault-event"), "certificate.issued");
    assert_eq!(request.header("x-scaivault-delivery"), delivery["id"]);
    assert!(
        request.header("user-agent").starts_with("scaivault/"),
        "{:?}",
        request.headers
    );
    assert_eq!(
        request.header("x-scaivault-signature"),
        expected_signature(SECRET, &request.body),
        "the signature verifies with the secret"
    );
    let body: Value = serde_json::from_slice(&request.body).expect("JSON body");
    let event = issued_event(&env.service, &certificate_id).await;
    assert_eq!(body, event, "the event exactly as the log has it");
    assert_eq!(delivery["event_id"], event["id"]);
    assert_eq!(delivery["event_type"], "certificate.issued");
    assert_eq!(delivery["attempts"], 1);
    assert!(delivery["delivered_at"].is_string(), "{delivery}");
    assert_eq!(delivery["attempt_log"][0]["status_code"], 200);
    assert!(deliveries(&env.service, other_id).await.is_empty());
    assert_eq!(receiver.requests().len(), 1, "delivered once");

    // The secret is never shown again, nor logged.
    let (_, shown) = env
        .service
        .client()
        .get(&format!("/v1/webhooks/{id}"))
        .await;
    assert!(shown.get("secret").is_none(), "{shown}");
    assert_eq!(shown["secret_set"], true);
    let (_, listed) = env.service.client().get("/v1/webhooks").await;
    assert!(!listed.to_string().contains(SECRET), "{listed}");
    assert!(
        !env.service.log_text().contains(SECRET),
        "the secret is not logged"
    );
}
on_both_backends!(delivers_a_signed_event_once);

/// `POST .../deliveries/{delivery_id}/redeliver`: a delivered event is sent again as a new
/// delivery (its own id, no attempts yet), the same bytes with a valid signature, through the
/// queue that sends every delivery; the listing then has both. Unknown webhooks and deliveries,
/// and another webhook's delivery, are 404.
async fn redelivery_sends_the_event_again(db: Db) {
    let env = issuing(db, pebble(), &DELIVERY_ENV).await;
    let receiver = Receiver::start(loopback_port()).await;
    let url = format!("http://127.0.0.1:{}/hooks/again", receiver.port);
    let created = subscribe(&env.service, &url, &["certificate.issued"], Some(SECRET)).await;
    let id = created["id"].as_str().expect("id").to_owned();
    let other = subscribe(&env.service, &url, &["order.invalid"], None).await;
    let other_id = other["id"].as_str().expect("id").to_owned();
    issue(&env).await;
    let first = receiver.wait_for(1, &env.service).await.remove(0);
    let delivered = wait_delivery(&env.service, &id, "delivered", |d| {
        d["status"] == "delivered"
    })
    .await;
    let original = delivered["id"].as_str().expect("id").to_owned();

    let api = env.service.client();
    let again = api.redeliver(&id, &original).await.expect("redelivered");
    assert_ne!(again.id, original);
    assert!(again.id.starts_with("whd_"), "{again:?}");
    assert_eq!(again.webhook_id, id);
    assert_eq!(
        again.event_id,
        delivered["event_id"].as_str().expect("event")
    );
    assert_eq!(again.status, scaivault_contract::DeliveryStatus::Pending);
    assert_eq!(again.attempts, 0);
    assert!(again.attempt_log.is_empty());
    assert_eq!(again.redelivery_of.as_deref(), Some(original.as_str()));

    let second = receiver.wait_for(2, &env.service).await.remove(1);
    assert_eq!(second.body, first.body, "the same event, byte for byte");
    assert_eq!(
        second.header("x-scaivault-signature"),
        expected_signature(SECRET, &second.body),
        "signed with the webhook's secret"
    );
    assert_eq!(second.header("x-scaivault-event"), "certificate.issued");
    assert_eq!(second.header("x-scaivault-delivery"), again.id);
    wait_delivery(&env.service, &id, "redelivered", |d| {
        d["id"] == again.id.as_str() && d["status"] == "delivered"
    })
    .await;
    let listed = deliveries(&env.service, &id).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed[0]["id"], again.id.as_str(), "newest first");
    assert_eq!(listed[0]["redelivery_of"], original.as_str());
    assert_eq!(listed[1]["id"], original.as_str());
    assert_eq!(listed[1]["status"], "delivered");
    assert!(listed[1].get("redelivery_of").is_none(), "{}", listed[1]);
    assert_eq!(listed[1]["attempts"], 1, "the original is left as it was");

    for (webhook, delivery) in [
        ("whk_missing", original.as_str()),
        (id.as_str(), "whd_missing"),
        (other_id.as_str(), original.as_str()),
    ] {
        let failure = api
            .redeliver(webhook, delivery)
            .await
            .expect_err("nothing to redeliver");
        assert_eq!(failure.status, 404, "{webhook} {delivery}: {failure}");
        assert_eq!(
            failure.error.error.code,
            scaivault_contract::ErrorCode::NotFound
        );
    }
    let (_, token) = api
        .post(
            "/v1/auth/tokens",
            &json!({"name": "reader", "scopes": ["pki:read"]}),
        )
        .await;
    let reader = api.with_token(token["token"].as_str().expect("token"));
    let refused = reader
        .redeliver(&id, &original)
        .await
        .expect_err("needs admin");
    assert_eq!(refused.status, 403, "{refused}");
    assert_eq!(deliveries(&env.service, &id).await.len(), 2);
    assert!(deliveries(&env.service, &other_id).await.is_empty());
    assert_eq!(receiver.requests().len(), 2, "nothing else was sent");
}
on_both_backends!(redelivery_sends_the_event_again);

async fn retries_until_the_receiver_is_up() {
    let env = issuing(Db::Sqlite, pebble(), &DELIVERY_ENV).await;
    // Nothing listens on the port yet: every attempt is refused.
    let port = loopback_port();
    let created = subscribe(
        &env.service,
        &format!("http://127.0.0.1:{port}/hook"),
        &["certificate.issued"],
        Some(SECRET),
    )
    .await;
    let id = created["id"].as_str().expect("id").to_owned();
    issue(&env).await;
    let failing = wait_delivery(&env.service, &id, "with two failed attempts", |d| {
        d["status"] == "pending" && d["attempts"].as_i64() >= Some(2)
    })
    .await;
    assert!(
        failing["last_error"]
            .as_str()
            .is_some_and(|e| e.to_lowercase().contains("refused")),
        "{failing}"
    );

    let receiver = Receiver::start(port).await;
    let requests = receiver.wait_for(1, &env.service).await;
    let delivered = wait_delivery(&env.service, &id, "delivered", |d| {
        d["status"] == "delivered"
    })
    .await;
    let log = delivered["attempt_log"].as_array().expect("attempt log");
    let attempts = delivered["attempts"].as_i64().expect("attempts");
    assert!(attempts >= 3, "{delivered}");
    assert_eq!(log.len() as i64, attempts, "{delivered}");
    for (n, attempt) in log.iter().enumerate() {
        assert_eq!(attempt["attempt"], n + 1, "{delivered}");
        assert!(attempt["duration_ms"].is_i64(), "{delivered}");
    }
    let (last, failed) = log.split_last().expect("attempts");
    assert!(
        failed
            .iter()
            .all(|a| a["status_code"].is_null() && a["error"].is_string()),
        "{delivered}"
    );
    assert_eq!(last["status_code"], 200, "{delivered}");
    assert!(last["error"].is_null(), "{delivered}");
    assert!(delivered["next_attempt_at"].is_null(), "{delivered}");
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].header("x-scaivault-signature"),
        expected_signature(SECRET, &requests[0].body)
    );
    assert_eq!(receiver.requests().len(), 1, "delivered exactly once");
}

#[tokio::test]
async fn retries_until_the_receiver_is_up_sqlite() {
    retries_until_the_receiver_is_up().await;
}

async fn delivery_survives_a_restart_while_backing_off(db: Db) {
    // Slower retries, so the service is surely killed between two attempts.
    let mut env = issuing(
        db,
        pebble(),
        &[
            ("SCAIVAULT_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true"),
            ("SCAIVAULT_WEBHOOKS__RETRY_BASE", "2s"),
            ("SCAIVAULT_WEBHOOKS__RETRY_MAX", "4s"),
        ],
    )
    .await;
    let port = loopback_port();
    let created = subscribe(
        &env.service,
        &format!("http://127.0.0.1:{port}/hook"),
        &["*"],
        Some(SECRET),
    )
    .await;
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(created["events"], json!(["*"]));
    issue(&env).await;
    let backing_off = wait_delivery(&env.service, &id, "backing off", |d| {
        d["status"] == "pending" && d["attempts"] == 1 && d["next_attempt_at"].is_string()
    })
    .await;
    // The retry exists only in the database now.
    env.service.kill9();
    let receiver = Receiver::start(port).await;
    env.service.restart().await;
    let delivered = wait_delivery(&env.service, &id, "delivered after the restart", |d| {
        d["id"] == backing_off["id"] && d["status"] == "delivered"
    })
    .await;
    assert!(delivered["attempts"].as_i64() >= Some(2), "{delivered}");
    let requests = receiver.wait_for(1, &env.service).await;
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].header("x-scaivault-delivery"), delivered["id"]);
}
on_both_backends!(delivery_survives_a_restart_while_backing_off);

/// A service without Pebble, on SQLite, with the default `allow_private_targets = false`.
async fn plain_service() -> Service {
    let (opts, _) = common::options(Db::Sqlite);
    Service::start(opts).await
}

/// The machine's host name, when the system resolver maps it to loopback only (as /etc/hosts
/// commonly does): a name that is not on any list but resolves to 127.0.0.1.
async fn loopback_hostname() -> Option<String> {
    let name = std::fs::read_to_string("/etc/hostname")
        .ok()?
        .trim()
        .to_owned();
    if name.is_empty() || name.contains('.') {
        return None;
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 80))
        .await
        .ok()?
        .collect();
    (!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback())).then_some(name)
}

#[tokio::test]
async fn private_targets_are_refused_at_creation() {
    let service = plain_service().await;
    let receiver = Receiver::start(loopback_port()).await;
    let port = receiver.port;
    let mut cases = vec![
        (format!("http://127.0.0.1:{port}/hook"), "loopback"),
        ("http://10.0.0.1/hook".to_owned(), "private"),
        ("http://192.168.1.20/hook".to_owned(), "private"),
        (
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            "metadata",
        ),
        ("http://100.64.0.1/hook".to_owned(), "shared"),
        (format!("http://[::1]:{port}/hook"), "loopback"),
        (format!("http://[::ffff:127.0.0.1]:{port}/hook"), "loopback"),
        // IPv4-translated (RFC 2765), judged by the IPv4 address it carries.
        (format!("http://[::ffff:0:7f00:1]:{port}/hook"), "loopback"),
        ("http://[::ffff:0:a9fe:a9fe]/".to_owned(), "metadata"),
        ("http://[fd00::1]/hook".to_owned(), "private"),
        (format!("http://localhost:{port}/hook"), "blocked_name"),
        (
            "http://metadata.google.internal/computeMetadata/v1/".to_owned(),
            "blocked_name",
        ),
    ];
    // A name that resolves to loopback: refused, and the answer does not say what it resolved
    // to (that would map the inside of the network for the caller).
    let name = loopback_hostname()
        .await
        .expect("this test needs the machine's host name to resolve to loopback only (/etc/hosts)");
    cases.push((format!("http://{name}:{port}/hook"), "loopback"));
    for (url, reason) in &cases {
        let (status, body) = service
            .client()
            .post(
                "/v1/webhooks",
                &json!({ "url": url, "events": ["certificate.issued"] }),
            )
            .await;
        assert_eq!(status, 400, "{url}: {body}");
        assert_eq!(body["error"]["code"], "invalid_request", "{url}: {body}");
        assert_eq!(body["error"]["details"]["field"], "url", "{url}: {body}");
        assert_eq!(body["error"]["details"]["reason"], *reason, "{url}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("refused by policy"), "{url}: {body}");
        if url.contains(&name) {
            assert!(
                !message.contains("127.0.0.1") && !body.to_string().contains("127.0.0.1"),
                "{url}: the answer shows the resolved address: {body}"
            );
        }
    }
    let (_, listed) = service.client().get("/v1/webhooks").await;
    assert_eq!(listed["webhooks"], json!([]), "nothing stored");
    assert_eq!(
        receiver.connections(),
        0,
        "no connection to a refused target"
    );
}

#[tokio::test]
async fn webhooks_api_validates_and_needs_admin() {
    let service = plain_service().await;
    let api = service.client();

    // Scope admin: 401 without a token, 403 with a narrower one.
    let (status, token) = api
        .post(
            "/v1/auth/tokens",
            &json!({ "name": "reader", "scopes": ["pki:read", "pki:write"] }),
        )
        .await;
    assert_eq!(status, 201, "{token}");
    let reader = api.with_token(token["token"].as_str().expect("token"));
    let body = json!({ "url": "https://93.184.215.14/hook", "events": ["certificate.issued"] });
    let (status, refused) = reader.post("/v1/webhooks", &body).await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["error"]["details"]["required_scope"], "admin");
    assert_eq!(reader.get("/v1/webhooks").await.0, 403);
    assert_eq!(api.without_token().get("/v1/webhooks").await.0, 401);

    // Bad input names the field.
    for (body, field) in [
        (
            json!({ "url": "ftp://93.184.215.14/hook", "events": ["certificate.issued"] }),
            "url",
        ),
        (
            json!({ "url": "javascript:alert(1)", "events": ["certificate.issued"] }),
            "url",
        ),
        (
            json!({ "url": "https://u:p@93.184.215.14/", "events": ["certificate.issued"] }),
            "url",
        ),
        (
            json!({ "url": "https://93.184.215.14/hook", "events": ["certificate.exploded"] }),
            "events[0]",
        ),
        (
            json!({ "url": "https://93.184.215.14/hook", "events": [] }),
            "events",
        ),
        (
            json!({ "url": "https://93.184.215.14/hook", "events": ["*"], "secret": "short" }),
            "secret",
        ),
    ] {
        let (status, answer) = api.post("/v1/webhooks", &body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_request", "{answer}");
        assert_eq!(
            answer["error"]["details"]["field"], field,
            "{body}: {answer}"
        );
    }
    let (status, answer) = api
        .post(
            "/v1/webhooks",
            &json!({ "url": "https://93.184.215.14/", "events": ["*"], "colour": 1 }),
        )
        .await;
    assert_eq!(status, 400, "{answer}");

    // A public IP literal is accepted without any lookup or connection (no event is recorded
    // in this test, so nothing is ever sent there). The generated secret is shown once.
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (status, created) = api.post("/v1/webhooks", &body).await;
        assert_eq!(status, 201, "{created}");
        let secret = created["secret"].as_str().expect("generated secret");
        assert!(
            secret.starts_with("whsec_") && secret.len() == 6 + 64,
            "{secret}"
        );
        ids.push(created["id"].as_str().expect("id").to_owned());
    }
    let (_, page) = api.get("/v1/webhooks?limit=2").await;
    let first = page["webhooks"].as_array().expect("webhooks");
    assert_eq!(first.len(), 2);
    assert!(
        first
            .iter()
            .all(|w| w.get("secret").is_none() && w["secret_set"] == true)
    );
    let cursor = page["next_cursor"].as_str().expect("cursor");
    let (_, rest) = api
        .get(&format!("/v1/webhooks?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(rest["webhooks"].as_array().expect("webhooks").len(), 1);
    assert!(rest["next_cursor"].is_null());
    // Newest first by (created_at, id): webhooks created within one millisecond are ordered
    // by id, so compare with that order rather than with the creation order.
    let listed: Vec<&Value> = first
        .iter()
        .chain(rest["webhooks"].as_array().expect("webhooks"))
        .collect();
    let keys: Vec<(time::OffsetDateTime, String)> = listed
        .iter()
        .map(|w| {
            (
                time::OffsetDateTime::parse(
                    w["created_at"].as_str().expect("created_at"),
                    &time::format_description::well_known::Rfc3339,
                )
                .expect("rfc3339"),
                w["id"].as_str().expect("id").to_owned(),
            )
        })
        .collect();
    let mut newest_first = keys.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(keys, newest_first, "newest first");
    let mut seen: Vec<String> = keys.into_iter().map(|(_, id)| id).collect();
    seen.sort();
    let mut created = ids.clone();
    created.sort();
    assert_eq!(seen, created, "every webhook listed once");

    let (status, shown) = api.get(&format!("/v1/webhooks/{}", ids[0])).await;
    assert_eq!(status, 200, "{shown}");
    assert!(shown.get("secret").is_none(), "{shown}");
    assert_eq!(shown["url"], "https://93.184.215.14/hook");
    let (status, none) = api
        .get(&format!("/v1/webhooks/{}/deliveries", ids[0]))
        .await;
    assert_eq!(status, 200, "{none}");
    assert_eq!(none["deliveries"], json!([]));

    assert_eq!(api.delete(&format!("/v1/webhooks/{}", ids[0])).await.0, 204);
    assert_eq!(api.get(&format!("/v1/webhooks/{}", ids[0])).await.0, 404);
    assert_eq!(api.delete(&format!("/v1/webhooks/{}", ids[0])).await.0, 404);
    assert_eq!(
        api.get(&format!("/v1/webhooks/{}/deliveries", ids[0]))
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn deleting_a_webhook_stops_its_pending_deliveries() {
    let env = issuing(Db::Sqlite, pebble(), &DELIVERY_ENV).await;
    let port = loopback_port();
    let created = subscribe(
        &env.service,
        &format!("http://127.0.0.1:{port}/hook"),
        &["certificate.issued"],
        None,
    )
    .await;
    let id = created["id"].as_str().expect("id").to_owned();
    issue(&env).await;
    wait_delivery(&env.service, &id, "with a failed attempt", |d| {
        d["status"] == "pending" && d["attempts"].as_i64() >= Some(1)
    })
    .await;
    let api = env.service.client();
    assert_eq!(api.delete(&format!("/v1/webhooks/{id}")).await.0, 204);
    let receiver = Receiver::start(port).await;
    // The queued retry runs, finds its delivery gone, and ends.
    let deadline = Instant::now() + DEADLINE;
    while !env
        .service
        .log_text()
        .contains("delivery gone (webhook deleted)")
    {
        assert!(
            Instant::now() < deadline,
            "the queued attempt ends\n{}",
            env.service.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        receiver.requests().is_empty(),
        "nothing delivered after the delete"
    );
}

/// Stops the service, sets `[webhooks] allow_private_targets` in its configuration file and
/// starts it again.
async fn restart_with_private_targets(service: &mut Service, allowed: bool) {
    service.terminate().await;
    let path = service.config_path().to_owned();
    let mut config = ConfigToml::parse(&std::fs::read_to_string(&path).expect("config"));
    config.set("webhooks", "allow_private_targets", allowed.to_string());
    std::fs::write(&path, config.render()).expect("write config");
    service.restart().await;
}

#[tokio::test]
async fn a_target_refused_at_delivery_fails_without_a_connection() {
    // The environment leaves allow_private_targets to the file, which the test rewrites.
    let mut env = issuing(
        Db::Sqlite,
        pebble(),
        &[
            ("SCAIVAULT_WEBHOOKS__MAX_ATTEMPTS", "2"),
            ("SCAIVAULT_WEBHOOKS__RETRY_BASE", "200ms"),
            ("SCAIVAULT_WEBHOOKS__RETRY_MAX", "1s"),
        ],
    )
    .await;
    let receiver = Receiver::start(loopback_port()).await;
    // Created while loopback targets were allowed...
    restart_with_private_targets(&mut env.service, true).await;
    let created = subscribe(
        &env.service,
        &format!("http://127.0.0.1:{}/hook", receiver.port),
        &["certificate.issued"],
        None,
    )
    .await;
    let id = created["id"].as_str().expect("id").to_owned();
    // ...and delivered after they no longer are.
    restart_with_private_targets(&mut env.service, false).await;
    issue(&env).await;
    let failed = wait_delivery(&env.service, &id, "given up", |d| d["status"] == "failed").await;
    assert_eq!(failed["attempts"], 2, "max_attempts = 2: {failed}");
    for attempt in failed["attempt_log"].as_array().expect("attempts") {
        let error = attempt["error"].as_str().expect("error");
        assert!(
            error.starts_with("refused:") && error.contains("loopback"),
            "{failed}"
        );
        assert!(attempt["status_code"].is_null(), "{failed}");
    }
    assert!(failed["next_attempt_at"].is_null(), "{failed}");
    assert_eq!(
        receiver.connections(),
        0,
        "no connection to the refused target"
    );
}
