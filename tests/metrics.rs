//! `GET /metrics` end to end: certificates issued through Pebble (http-01) and through BIND
//! (dns-01), then the exposition is parsed — not grepped — and held to what the API says and to
//! what the issuance must have done: the certificate's expiry gauge equals the API's
//! `not_after`, a valid order is counted, the ACME latency histogram has observations for
//! `newOrder` and `finalize` at Pebble, the three job queues are shown, a failing webhook target
//! is counted, and a dns-01 propagation is observed.

#[macro_use]
mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{Db, issuing, options, wait_final};
use scaivault_testkit::{ApiClient, Bind, BindOptions, Pebble, PebbleOptions, Service};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ORDER_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a state that follows issuance asynchronously (a queued webhook attempt) may take.
const SETTLE: Duration = Duration::from_secs(30);

/// One sample line: metric name, labels, value.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A parsed exposition: the declared type of each family and every sample.
#[derive(Debug, Default)]
struct Exposition {
    types: BTreeMap<String, String>,
    samples: Vec<Sample>,
}

impl Exposition {
    /// Parses the text format 0.0.4 strictly enough that a malformed line fails the test: each
    /// sample belongs to a family whose `# TYPE` came first, label values are unescaped.
    fn parse(text: &str) -> Self {
        let mut out = Exposition::default();
        assert!(text.ends_with('\n'), "the exposition ends with a line feed");
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
                assert!(
                    matches!(kind, "counter" | "gauge" | "histogram"),
                    "type {kind}"
                );
                assert!(
                    out.types.insert(name.to_owned(), kind.to_owned()).is_none(),
                    "family {name} declared twice"
                );
                continue;
            }
            if line.starts_with("# HELP ") || line.is_empty() {
                continue;
            }
            assert!(!line.starts_with('#'), "unexpected comment: {line}");
            let sample = parse_sample(line);
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| {
                    sample.name.strip_suffix(suffix).filter(|base| {
                        out.types.get(*base).map(String::as_str) == Some("histogram")
                    })
                })
                .unwrap_or(&sample.name)
                .to_owned();
            assert!(
                out.types.contains_key(&family),
                "sample before its # TYPE: {line}"
            );
            out.samples.push(sample);
        }
        out
    }

    /// The samples named `name` whose labels include every pair of `labels`.
    fn find(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }

    /// The one sample named `name` with exactly these labels.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found: Vec<&Sample> = self
            .find(name, labels)
            .into_iter()
            .filter(|s| s.labels.len() == labels.len())
            .collect();
        assert!(found.len() <= 1, "duplicate series {name} {labels:?}");
        found.first().map(|s| s.value)
    }

    /// Checks one histogram series (`labels` without `le`): buckets cumulative and ending in
    /// `+Inf` equal to `_count`; returns `(count, sum)`.
    fn histogram(&self, name: &str, labels: &[(&str, &str)]) -> (f64, f64) {
        let count = self
            .value(&format!("{name}_count"), labels)
            .unwrap_or_else(|| panic!("{name}_count {labels:?}"));
        let sum = self
            .value(&format!("{name}_sum"), labels)
            .unwrap_or_else(|| panic!("{name}_sum {labels:?}"));
        let mut buckets: Vec<(f64, f64)> = self
            .find(&format!("{name}_bucket"), labels)
            .into_iter()
            .filter(|s| s.labels.len() == labels.len() + 1)
            .map(|s| {
                let le = s.labels.get("le").expect("le label");
                let bound = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().expect("le is a float")
                };
                (bound, s.value)
            })
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(buckets.len() >= 2, "{name} {labels:?} has buckets");
        assert!(
            buckets.windows(2).all(|w| w[0].1 <= w[1].1),
            "{name} buckets are cumulative: {buckets:?}"
        );
        let last = buckets.last().expect("buckets");
        assert_eq!(last.0, f64::INFINITY, "{name} ends with +Inf");
        assert_eq!(last.1, count, "{name} +Inf bucket equals _count");
        assert!(sum >= 0.0, "{name}_sum {sum}");
        (count, sum)
    }
}

/// `name{a="x",b="y"} value` or `name value`.
fn parse_sample(line: &str) -> Sample {
    let (series, value) = line.rsplit_once(' ').expect("series and value");
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v
            .parse()
            .unwrap_or_else(|_| panic!("value of {line:?} is a float")),
    };
    let Some((name, labels)) = series.split_once('{') else {
        return Sample {
            name: series.to_owned(),
            labels: BTreeMap::new(),
            value,
        };
    };
    let body = labels.strip_suffix('}').expect("labels end with }");
    let mut parsed = BTreeMap::new();
    let mut chars = body.chars().peekable();
    while chars.peek().is_some() {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        assert_eq!(
            chars.next(),
            Some('"'),
            "label {key} value is quoted: {line}"
        );
        let mut value = String::new();
        loop {
            match chars.next().expect("closing quote") {
                '\\' => match chars.next().expect("escape") {
                    '\\' => value.push('\\'),
                    '"' => value.push('"'),
                    'n' => value.push('\n'),
                    other => panic!("bad escape \\{other} in {line}"),
                },
                '"' => break,
                c => value.push(c),
            }
        }
        assert!(
            parsed.insert(key.clone(), value).is_none(),
            "label {key} twice"
        );
        match chars.next() {
            Some(',') | None => {}
            Some(other) => panic!("unexpected {other:?} after a label in {line}"),
        }
    }
    Sample {
        name: name.to_owned(),
        labels: parsed,
        value,
    }
}

/// Scrapes `/metrics` with the admin token and parses it.
async fn scrape(api: &ApiClient) -> Exposition {
    let response = api.raw(reqwest::Method::GET, "/metrics", None).await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    Exposition::parse(&response.body)
}

/// Scrapes until `done` holds, up to [`SETTLE`].
async fn scrape_until(
    api: &ApiClient,
    what: &str,
    done: impl Fn(&Exposition) -> bool,
) -> Exposition {
    let deadline = Instant::now() + SETTLE;
    loop {
        let metrics = scrape(api).await;
        if done(&metrics) {
            return metrics;
        }
        assert!(Instant::now() < deadline, "{what} within {SETTLE:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An RFC 3339 time of the API as unix seconds.
fn unix_seconds(rfc3339: &Value) -> f64 {
    let at = time::OffsetDateTime::parse(
        rfc3339.as_str().expect("a time"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("RFC 3339");
    (at.unix_timestamp_nanos() / 1_000_000) as f64 / 1000.0
}

/// A webhook target that answers every request with 500 (one connection at a time).
async fn failing_target() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = vec![0; 64 * 1024];
            let _ = socket.read(&mut buf).await;
            let _ = socket
                .write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
        }
    });
    port
}

async fn http01_issuance_shows_up(db: Db) {
    let env = issuing(
        db,
        PebbleOptions {
            nonce_reject_percent: Some(0),
            ..Default::default()
        },
        &[
            ("SCAIVAULT_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true"),
            // Two attempts a second apart, then the delivery is given up.
            ("SCAIVAULT_WEBHOOKS__RETRY_BASE", "1s"),
            ("SCAIVAULT_WEBHOOKS__MAX_ATTEMPTS", "2"),
        ],
    )
    .await;
    let api = env.service.client();

    // Before anything happened: every family is there, the counters at zero.
    let before = scrape(&api).await;
    assert_eq!(
        before.value(
            "scaivault_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0)
    );
    assert_eq!(before.value("scaivault_metrics_store_up", &[]), Some(1.0));
    assert_eq!(
        before.value("scaivault_webhook_delivery_failures_total", &[]),
        Some(0.0)
    );
    assert_eq!(
        before.value("scaivault_webhook_deliveries_given_up_total", &[]),
        Some(0.0)
    );
    for result in ["success", "failure"] {
        assert_eq!(
            before.value("scaivault_renewals_total", &[("result", result)]),
            Some(0.0)
        );
    }
    assert_eq!(before.types["scaivault_orders"], "gauge");
    assert_eq!(
        before.types["scaivault_acme_request_duration_seconds"],
        "histogram"
    );

    let port = failing_target().await;
    let (status, hook) = api
        .post(
            "/v1/webhooks",
            &json!({"url": format!("http://127.0.0.1:{port}/hook"), "events": ["certificate.issued"]}),
        )
        .await;
    assert_eq!(status, 201, "{hook}");

    let order = common::issue_http01(&api, &env.account_id, ORDER_TIMEOUT).await;
    assert_eq!(order["status"], "valid", "{order}");
    let certificate_id = order["certificate_id"].as_str().expect("certificate id");
    let (status, certificate) = api
        .get(&format!("/v1/pki/certificates/{certificate_id}"))
        .await;
    assert_eq!(status, 200, "{certificate}");
    let domain = certificate["domains"][0].as_str().expect("first domain");

    // The webhook attempt follows the event asynchronously: scrape until it is counted.
    let metrics = scrape_until(&api, "a failed webhook attempt", |m| {
        m.value("scaivault_webhook_delivery_failures_total", &[])
            .is_some_and(|v| v >= 1.0)
    })
    .await;

    let series = [("certificate_id", certificate_id), ("domain", domain)];
    assert_eq!(
        metrics.value("scaivault_certificate_not_after_seconds", &series),
        Some(unix_seconds(&certificate["not_after"])),
        "not_after equals the API's"
    );
    assert_eq!(
        metrics.value("scaivault_certificate_renew_at_seconds", &series),
        Some(unix_seconds(&certificate["renew_at"])),
        "renew_at equals the API's"
    );
    let valid = metrics
        .value("scaivault_orders", &[("status", "valid")])
        .expect("valid orders");
    assert!(valid >= 1.0, "valid orders {valid}");
    assert_eq!(
        metrics.value("scaivault_orders", &[("status", "invalid")]),
        Some(0.0)
    );

    // Labelled by the account's provider (custom, staging), never by the CA's host.
    for endpoint in [
        "directory",
        "newNonce",
        "newAccount",
        "newOrder",
        "finalize",
        "certificate",
    ] {
        let (count, sum) = metrics.histogram(
            "scaivault_acme_request_duration_seconds",
            &[("endpoint", endpoint), ("provider", "custom_staging")],
        );
        assert!(count >= 1.0, "{endpoint}: {count} requests");
        assert!(sum > 0.0, "{endpoint}: took time");
    }
    // The endpoint label is a fixed vocabulary, never a URL.
    for sample in metrics.find("scaivault_acme_request_duration_seconds_count", &[]) {
        let endpoint = &sample.labels["endpoint"];
        assert!(!endpoint.contains('/'), "endpoint {endpoint}");
        let provider = &sample.labels["provider"];
        assert!(!provider.contains(':'), "provider {provider}");
    }

    for queue in ["renewals", "scans", "webhooks"] {
        for state in ["pending", "running", "failed", "done"] {
            assert!(
                metrics
                    .value(
                        "scaivault_job_queue_depth",
                        &[("queue", queue), ("state", state)]
                    )
                    .is_some(),
                "queue depth of {queue} {state}"
            );
        }
    }
    // The new certificate's renewal is a pending task of the renewals queue.
    let pending = metrics
        .value(
            "scaivault_job_queue_depth",
            &[("queue", "renewals"), ("state", "pending")],
        )
        .expect("renewals pending");
    assert!(pending >= 1.0, "renewals pending {pending}");
    assert_eq!(metrics.value("scaivault_metrics_store_up", &[]), Some(1.0));

    // The second attempt fails too and is the last: the delivery is given up, counted once,
    // after exactly two counted failures.
    let metrics = scrape_until(&api, "a webhook delivery given up", |m| {
        m.value("scaivault_webhook_deliveries_given_up_total", &[])
            .is_some_and(|v| v >= 1.0)
    })
    .await;
    assert_eq!(
        metrics.value("scaivault_webhook_deliveries_given_up_total", &[]),
        Some(1.0)
    );
    assert_eq!(
        metrics.value("scaivault_webhook_delivery_failures_total", &[]),
        Some(2.0)
    );
}

on_both_backends!(http01_issuance_shows_up);

/// BIND serving `example.test`, Pebble resolving through it, the service using it as resolver
/// (as in tests/dns01.rs), an account and an rfc2136 provider.
struct DnsEnv {
    service: Service,
    _bind: Bind,
    _pebble: Pebble,
    _pg: Option<scaivault_testkit::PgDatabase>,
    account_id: String,
    provider_id: String,
}

async fn dns_env(db: Db) -> DnsEnv {
    let bind = Bind::start(BindOptions::zones(["example.test"])).await;
    let pebble = Pebble::start(PebbleOptions {
        dns_server: Some(bind.addr()),
        nonce_reject_percent: Some(0),
        ..Default::default()
    })
    .await;
    let (opts, pg) = options(db);
    let service = Service::start(
        opts.extra_root(pebble.listener_root_pem_path())
            .set("dns", "resolvers", format!("[\"{}\"]", bind.addr()))
            .set_str("dns", "propagation_interval", "100ms")
            .set_str("dns", "propagation_timeout", "20s"),
    )
    .await;
    let api = service.client();
    let (status, account) = api
        .post(
            "/v1/pki/acme/accounts",
            &common::custom_account("dns", &pebble),
        )
        .await;
    assert_eq!(status, 201, "{account}");
    let provider = common::bind_provider(&api, &bind, bind.tsig_secret_b64()).await;
    DnsEnv {
        account_id: account["id"].as_str().expect("id").to_owned(),
        provider_id: provider["id"].as_str().expect("id").to_owned(),
        service,
        _bind: bind,
        _pebble: pebble,
        _pg: pg,
    }
}

async fn dns01_propagation_is_observed(db: Db) {
    let env = dns_env(db).await;
    let api = env.service.client();
    let before = scrape(&api).await;
    assert_eq!(
        before.histogram("scaivault_dns_propagation_seconds", &[]).0,
        0.0,
        "nothing propagated yet"
    );

    let tag = format!("t{:x}", rand::random::<u64>());
    let names = [
        format!("{tag}.example.test"),
        format!("www.{tag}.example.test"),
    ];
    let (status, placed) = api
        .post(
            "/v1/pki/acme/issue",
            &json!({
                "account_id": env.account_id,
                "domains": names,
                "challenge_type": "dns-01",
                "dns_provider_id": env.provider_id,
            }),
        )
        .await;
    assert_eq!(status, 202, "{placed}");
    let order = wait_final(
        &api,
        placed["order_id"].as_str().expect("id"),
        ORDER_TIMEOUT,
    )
    .await;
    assert_eq!(order["status"], "valid", "{order}");

    let metrics = scrape(&api).await;
    let (count, sum) = metrics.histogram("scaivault_dns_propagation_seconds", &[]);
    // One observation per TXT record: one per name.
    assert_eq!(count, 2.0, "propagation observations");
    assert!(sum > 0.0, "propagation took time");
    assert!(
        sum < 40.0,
        "within the propagation timeout twice over: {sum}"
    );
}

on_both_backends!(dns01_propagation_is_observed);

#[test]
fn the_parser_unescapes_and_rejects_garbage() {
    let text = "# HELP m help\n# TYPE m gauge\nm{a=\"x\\\"y\\\\z\\n\",b=\"\"} 1.5\nm 2\n";
    let parsed = Exposition::parse(text);
    assert_eq!(
        parsed.value("m", &[("a", "x\"y\\z\n"), ("b", "")]),
        Some(1.5)
    );
    assert_eq!(parsed.value("m", &[]), Some(2.0));
    let undeclared = std::panic::catch_unwind(|| Exposition::parse("x 1\n"));
    assert!(undeclared.is_err(), "a sample without # TYPE is refused");
}
