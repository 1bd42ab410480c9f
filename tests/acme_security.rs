//! The ACME client toward CAs a caller names (issue 15, points 2, 4 and 8): custom directories
//! at private addresses are refused before any connection unless `[acme]
//! allow_private_directories`; a CA out of reach is reported without the low-level detail
//! (which goes to the log); a silent CA times out and its socket is closed; an oversized answer
//! is refused; registrations are rate-limited per token; ACME latency is labelled by provider,
//! never by the CA's host.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use scaivault_testkit::{ApiClient, Service, ServiceOptions, free_port, tls_acceptor};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Words of low-level failures that must not reach a caller.
const LOW_LEVEL: [&str; 6] = [
    "os error",
    "Connection refused",
    "connection refused",
    "tcp connect",
    "error trying to connect",
    "certificate",
];

fn options() -> ServiceOptions {
    ServiceOptions::new(env!("CARGO_BIN_EXE_scaivault"))
}

fn custom(name: &str, directory_url: &str) -> Value {
    json!({
        "name": name,
        "provider": "custom",
        "email": "certs@acme.example",
        "directory_url": directory_url,
    })
}

fn no_low_level_detail(body: &Value) {
    let text = body.to_string();
    for word in LOW_LEVEL {
        assert!(!text.contains(word), "{word:?} in {text}");
    }
}

/// A TCP listener on 127.0.0.1 that counts the connections it accepts and drops them.
async fn counting_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("listener");
    let port = listener.local_addr().expect("address").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    (port, accepted)
}

/// A port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    free_port(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

#[tokio::test]
async fn private_directories_are_refused_before_any_connection() {
    let service = Service::start(options().set("acme", "allow_private_directories", "false")).await;
    let api = service.client();
    let (port, accepted) = counting_listener().await;

    for (i, url) in [
        format!("https://127.0.0.1:{port}/dir"),
        format!("https://localhost:{port}/"),
        format!("https://[::ffff:127.0.0.1]:{port}/"),
        "https://169.254.169.254/".to_owned(),
    ]
    .iter()
    .enumerate()
    {
        let (status, body) = api
            .post("/v1/pki/acme/accounts", &custom(&format!("ca{i}"), url))
            .await;
        assert_eq!(status, 400, "{url}: {body}");
        assert_eq!(body["error"]["code"], "invalid_request", "{body}");
        assert_eq!(body["error"]["details"]["reason"], "refused_by_policy");
        let message = body["error"]["message"].as_str().expect("message");
        assert!(message.contains("refused by policy"), "{message}");
        assert!(
            message.contains("[acme] allow_private_directories"),
            "{message}"
        );
        no_low_level_detail(&body);
    }
    // `localhost` is refused by name: what it resolves to is not shown.
    let (_, body) = api
        .post(
            "/v1/pki/acme/accounts",
            &custom("by-name", &format!("https://localhost:{port}/")),
        )
        .await;
    assert_eq!(
        body["error"]["details"]["refusal"], "blocked_name",
        "{body}"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "the service connected");
    assert!(
        service.log_text().contains("ACME server refused by policy"),
        "{}",
        service.log_tail()
    );
}

#[tokio::test]
async fn an_unreachable_ca_is_reported_without_the_low_level_detail() {
    // The harness allows private directories (its CAs listen on loopback).
    let service = Service::start(options()).await;
    let url = format!("https://127.0.0.1:{}/dir", closed_port());
    let (status, body) = service
        .client()
        .post("/v1/pki/acme/accounts", &custom("closed", &url))
        .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "backend_error");
    assert_eq!(body["error"]["details"]["reason"], "unreachable");
    assert_eq!(body["error"]["details"]["failure"], "connect");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains("unreachable"), "{message}");
    no_low_level_detail(&body);
    // The operator gets the detail.
    let log = service.log_text();
    assert!(
        log.contains("ACME server unreachable") && log.contains("onnection refused"),
        "{}",
        service.log_tail()
    );
}

#[tokio::test]
async fn a_silent_ca_times_out_and_its_connection_is_closed() {
    let service = Service::start(options().set_str("acme", "header_timeout", "2s").set_str(
        "acme",
        "request_timeout",
        "4s",
    ))
    .await;
    // Accepts and never says a word (not even the TLS handshake).
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("listener");
    let port = listener.local_addr().expect("address").port();
    let held = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        // Read (and ignore) the ClientHello until the service closes the connection.
        let mut buf = [0u8; 4096];
        loop {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return Instant::now(),
                Ok(_) => {}
            }
        }
    });

    let started = Instant::now();
    let (status, body) = service
        .client()
        .post(
            "/v1/pki/acme/accounts",
            &custom("silent", &format!("https://127.0.0.1:{port}/dir")),
        )
        .await;
    let answered = Instant::now();
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["details"]["failure"], "timeout", "{body}");
    let took = answered - started;
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(10),
        "answered after {took:?}"
    );
    // The service dropped the connection when it gave up.
    let closed = tokio::time::timeout(Duration::from_secs(10), held)
        .await
        .expect("the service still holds the connection 10 s after answering")
        .expect("listener task");
    assert!(
        closed < answered + Duration::from_secs(2),
        "closed {:?} after the answer",
        closed.saturating_duration_since(answered)
    );
}

/// A throwaway CA and a `127.0.0.1` leaf: (root PEM, leaf PEM, leaf key PEM).
fn certificates() -> (String, String, String) {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.distinguished_name
        .push(DnType::CommonName, "acme_security test root");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).expect("CA");
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate().expect("leaf key");
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("leaf params");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).expect("leaf");
    (ca_cert.pem(), leaf_cert.pem(), leaf_key.serialize_pem())
}

/// An HTTPS server on 127.0.0.1 answering every request with `body` as JSON; returns its port
/// and the file of its root for `[acme] extra_roots`.
async fn https_answering(body: Vec<u8>, dir: &std::path::Path) -> (u16, PathBuf) {
    let (root, leaf, key) = certificates();
    let root_path = dir.join("root.pem");
    std::fs::write(&root_path, root).expect("root file");
    let acceptor = tls_acceptor(&leaf, &key);
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("listener");
    let port = listener.local_addr().expect("address").port();
    let body = Arc::new(body);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let (acceptor, body) = (acceptor.clone(), body.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                // The client may hang up once it has had enough.
                let _ = tls.write_all(head.as_bytes()).await;
                let _ = tls.write_all(&body).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, root_path)
}

#[tokio::test]
async fn an_oversized_answer_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A JSON string of 2 MiB: valid JSON, far beyond any ACME directory.
    let mut huge = b"{\"newNonce\":\"".to_vec();
    huge.resize(2 * 1024 * 1024, b'a');
    huge.extend_from_slice(b"\"}");
    let (port, root) = https_answering(huge, dir.path()).await;
    let service = Service::start(options().extra_root(root)).await;
    let (status, body) = service
        .client()
        .post(
            "/v1/pki/acme/accounts",
            &custom("huge", &format!("https://127.0.0.1:{port}/dir")),
        )
        .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["details"]["failure"], "too_large", "{body}");
    no_low_level_detail(&body);
}

#[tokio::test]
async fn registrations_are_rate_limited_per_token() {
    let service = Service::start(options().set("server", "registrations_per_minute", "2")).await;
    let api = service.client();
    let url = format!("https://127.0.0.1:{}/dir", closed_port());
    for i in 0..2 {
        let (status, body) = api
            .post("/v1/pki/acme/accounts", &custom(&format!("r{i}"), &url))
            .await;
        assert_eq!(status, 502, "the CA is down, the limit not reached: {body}");
    }
    let refused = api
        .raw(
            reqwest::Method::POST,
            "/v1/pki/acme/accounts",
            Some(&custom("r2", &url)),
        )
        .await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(refused.json()["error"]["code"], "rate_limited");
    let retry_after: u64 = refused
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");

    // Another token has its own budget.
    let (status, token) = api
        .post(
            "/v1/auth/tokens",
            &json!({"name": "writer", "scopes": ["pki:write"]}),
        )
        .await;
    assert_eq!(status, 201, "{token}");
    let writer = api.with_token(token["token"].as_str().expect("token"));
    let (status, body) = writer
        .post("/v1/pki/acme/accounts", &custom("w0", &url))
        .await;
    assert_eq!(status, 502, "{body}");
}

/// The `scaivault_acme_request_duration_seconds_count` lines of `/metrics`.
async fn acme_counts(api: &ApiClient) -> Vec<String> {
    let response = api.raw(reqwest::Method::GET, "/metrics", None).await;
    assert_eq!(response.status, 200, "{}", response.body);
    response
        .body
        .lines()
        .filter(|line| line.starts_with("scaivault_acme_request_duration_seconds_count{"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn acme_latency_is_labelled_by_provider_not_by_host() {
    let service = Service::start(options()).await;
    let api = service.client();
    for (name, url) in [
        ("a", format!("https://127.0.0.1:{}/dir", closed_port())),
        ("b", format!("https://localhost:{}/dir", closed_port())),
    ] {
        let (status, body) = api.post("/v1/pki/acme/accounts", &custom(name, &url)).await;
        assert_eq!(status, 502, "{body}");
    }
    let counts = acme_counts(&api).await;
    let custom_total: f64 = counts
        .iter()
        .filter(|line| line.contains("provider=\"custom\""))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(custom_total >= 2.0, "{counts:#?}");
    for line in &counts {
        assert!(
            !line.contains("127.0.0.1") && !line.contains("localhost"),
            "a CA host became a label: {line}"
        );
    }
}
