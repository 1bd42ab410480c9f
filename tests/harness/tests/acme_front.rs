//! `AcmeFront` in front of a real Pebble, driven by a real RFC 8555 client (instant-acme): the
//! front must be transparent where Pebble is enough, and produce ARI (RFC 9773), `rateLimited`
//! and `alreadyReplaced` where it is not; and, driven by hand over raw TLS, it must stall like a
//! hung CA when told to.

use std::borrow::Cow;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use instant_acme::{
    Account, AuthorizationStatus, CertificateIdentifier, ChallengeType, Error as AcmeError,
    Identifier, NewAccount, NewOrder, Order, OrderStatus, RetryPolicy,
};
use scaivault_testkit::{
    AcmeFront, AcmeFrontOptions, ChallTestSrv, Pebble, PebbleOptions, RenewalWindow, ari_cert_id,
};
use serde_json::{Value, json};
use time::OffsetDateTime;

/// Directory fields whose values are URLs (RFC 8555 §7.1.1).
const URL_FIELDS: &[&str] = &[
    "newNonce",
    "newAccount",
    "newOrder",
    "revokeCert",
    "keyChange",
];

fn install_crypto_provider() {
    // Another test in the same process may have installed it already.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// Pebble without its random bad nonces, so every request count below is exact.
fn pebble_options() -> PebbleOptions {
    PebbleOptions {
        nonce_reject_percent: Some(0),
        ..PebbleOptions::default()
    }
}

async fn get_json(pebble: &Pebble, url: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = pebble
        .http_client()
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, body)
}

/// An account created through the front, trusting only Pebble's listener root.
async fn account(front: &AcmeFront, pebble: &Pebble) -> Account {
    let (account, _credentials) = Account::builder_with_root(pebble.listener_root_pem_path())
        .expect("instant-acme client")
        .create(
            &NewAccount {
                contact: &[],
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            front.directory_url(),
            None,
        )
        .await
        .expect("newAccount through the front");
    account
}

fn random_name() -> String {
    format!("a{:x}.example.test", rand::random::<u64>())
}

fn api_problem(result: Result<Order, AcmeError>) -> instant_acme::Problem {
    match result {
        Err(AcmeError::Api(problem)) => problem,
        Err(other) => panic!("expected an ACME problem, got {other:?}"),
        Ok(order) => panic!("expected an ACME problem, got order {}", order.url()),
    }
}

fn cert_identifier(cert_id: &str) -> CertificateIdentifier<'static> {
    let (aki, serial) = cert_id.split_once('.').expect("certID has a '.'");
    CertificateIdentifier {
        authority_key_identifier: Cow::Owned(aki.to_owned()),
        serial: Cow::Owned(serial.to_owned()),
    }
}

/// Answers the order's dns-01 challenges through the challenge test DNS server, finalises with
/// a fresh key and returns the certificate chain (PEM).
async fn complete(order: &mut Order, dns: &ChallTestSrv, name: &str) -> String {
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz.expect("authorization through the front");
        if authz.status == AuthorizationStatus::Valid {
            continue;
        }
        let mut challenge = authz
            .challenge(ChallengeType::Dns01)
            .expect("Pebble offers dns-01");
        let record = format!("_acme-challenge.{}", challenge.identifier());
        dns.add_txt(&record, &challenge.key_authorization().dns_value())
            .await;
        challenge.set_ready().await.expect("challenge ready");
    }
    let retries = RetryPolicy::new().timeout(Duration::from_secs(60));
    let status = order.poll_ready(&retries).await.expect("order ready");
    assert_eq!(status, OrderStatus::Ready, "{:?}", order.state());
    let key = rcgen::KeyPair::generate().expect("key");
    let csr = rcgen::CertificateParams::new(vec![name.to_owned()])
        .expect("CSR params")
        .serialize_request(&key)
        .expect("CSR");
    order.finalize_csr(csr.der()).await.expect("finalize");
    order.poll_certificate(&retries).await.expect("certificate")
}

#[tokio::test]
async fn transparent_by_default_and_rate_limits_new_orders_on_request() {
    install_crypto_provider();
    let pebble = Pebble::start(pebble_options()).await;
    let front = AcmeFront::start(&pebble, AcmeFrontOptions::default()).await;
    let base = front.base_url();

    // Pebble builds its URLs from the forwarded Host: every one names the front.
    let (status, _, direct) = get_json(&pebble, &pebble.directory_url()).await;
    assert_eq!(status, 200, "{direct}");
    let (status, _, dir) = get_json(&pebble, &front.directory_url()).await;
    assert_eq!(status, 200, "{dir}");
    for field in URL_FIELDS {
        let url = dir[field].as_str().unwrap_or_default();
        assert!(url.starts_with(&format!("{base}/")), "{field}: {dir}");
        let direct_url = direct[field].as_str().unwrap_or_default();
        assert_eq!(
            url.strip_prefix(&base),
            direct_url.strip_prefix(&pebble.directory_url().replace("/dir", "")),
            "{field}: only the origin differs"
        );
    }
    assert!(dir.get("renewalInfo").is_none(), "no ARI by default: {dir}");
    assert_eq!(front.new_order_url(), dir["newOrder"]);

    // Without ARI the front does not answer renewal-info itself: Pebble 2.4 has no such path.
    let (status, _, _) = get_json(&pebble, &format!("{base}/renewal-info/AQ.AQ")).await;
    assert_eq!(status, 404);
    assert!(front.renewal_info_requests().is_empty());
    assert_eq!(front.request_count("/renewal-info/AQ.AQ"), 1);

    // A real client: Pebble accepts JWS whose `url` names the front, and the account URL (the
    // `kid` of every later request) is a front URL.
    let account = account(&front, &pebble).await;
    assert!(
        account.id().starts_with(&format!("{base}/")),
        "{}",
        account.id()
    );

    let name = random_name();
    let identifiers = [Identifier::Dns(name.clone())];
    front.rate_limit_new_orders(1, 30);
    let problem = api_problem(account.new_order(&NewOrder::new(&identifiers)).await);
    assert_eq!(
        problem.r#type.as_deref(),
        Some("urn:ietf:params:acme:error:rateLimited"),
        "{problem:?}"
    );
    assert_eq!(problem.status, Some(429));

    let order = account
        .new_order(&NewOrder::new(&identifiers))
        .await
        .expect("second newOrder passes to Pebble");
    assert!(
        order.url().starts_with(&format!("{base}/")),
        "{}",
        order.url()
    );
    let (order_url, state) = order.into_parts();
    assert_eq!(state.status, OrderStatus::Pending, "{order_url}");
    assert!(state.finalize.starts_with(&format!("{base}/")));
    assert!(
        state
            .authorizations
            .iter()
            .all(|a| a.url.starts_with(&format!("{base}/")))
    );

    let payloads = front.new_order_payloads();
    assert_eq!(payloads.len(), 2, "{payloads:?}");
    for payload in &payloads {
        assert_eq!(
            payload["identifiers"],
            json!([{"type": "dns", "value": name}])
        );
        assert!(payload.get("replaces").is_none(), "{payload}");
    }
    assert_eq!(front.request_count("/order-plz"), 2);

    // The refusal on the wire: problem document, Retry-After and a usable-looking nonce.
    front.rate_limit_new_orders(1, 7);
    let fake_jws = json!({
        "protected": "e30",
        "payload": URL_SAFE_NO_PAD.encode(br#"{"identifiers":[]}"#),
        "signature": "",
    });
    let response = pebble
        .http_client()
        .post(front.new_order_url())
        .header("content-type", "application/jose+json")
        .body(fake_jws.to_string())
        .send()
        .await
        .expect("POST newOrder");
    assert_eq!(response.status().as_u16(), 429);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(headers["retry-after"], "7");
    let nonce = headers["replay-nonce"].to_str().unwrap().to_owned();
    assert!(!nonce.is_empty());
    assert_eq!(
        headers["link"].to_str().unwrap(),
        format!("<{}>;rel=\"index\"", front.directory_url())
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "urn:ietf:params:acme:error:rateLimited");
    assert_eq!(body["status"], 429);
    assert_eq!(front.new_order_payloads()[2], json!({"identifiers": []}));

    // The limit is used up: the same bogus request now reaches Pebble, which rejects the JWS.
    let response = pebble
        .http_client()
        .post(front.new_order_url())
        .header("content-type", "application/jose+json")
        .body(fake_jws.to_string())
        .send()
        .await
        .expect("POST newOrder");
    assert_eq!(response.status().as_u16(), 400);
    let again = response.headers()["replay-nonce"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(again, nonce);
}

#[tokio::test]
async fn renewal_info_and_replaces_for_a_real_certificate() {
    install_crypto_provider();
    let dns = ChallTestSrv::start().await;
    let pebble = Pebble::start(PebbleOptions {
        dns_server: Some(dns.dns_addr()),
        ..pebble_options()
    })
    .await;
    let front = AcmeFront::start(&pebble, AcmeFrontOptions::with_renewal_info()).await;
    let base = front.base_url();

    let (status, _, dir) = get_json(&pebble, &front.directory_url()).await;
    assert_eq!(status, 200, "{dir}");
    assert_eq!(dir["renewalInfo"], front.renewal_info_url(), "{dir}");
    assert_eq!(front.renewal_info_url(), format!("{base}/renewal-info"));

    // A real certificate through the front.
    let account = account(&front, &pebble).await;
    let name = random_name();
    let identifiers = [Identifier::Dns(name.clone())];
    let mut order = account
        .new_order(&NewOrder::new(&identifiers))
        .await
        .expect("newOrder");
    let chain = complete(&mut order, &dns, &name).await;

    // Its certID: the serial part is the serial Pebble knows, the key part the issuer's SKI.
    let cert_id = ari_cert_id(&chain);
    let (aki_b64, serial_b64) = cert_id.split_once('.').unwrap();
    let serial = URL_SAFE_NO_PAD.decode(serial_b64).unwrap();
    let serial_hex: String = serial.iter().map(|b| format!("{b:02x}")).collect();
    let status = pebble.cert_status_by_serial(&serial_hex).await;
    assert_eq!(
        status.as_ref().map(|s| s["Status"].clone()),
        Some(json!("Valid")),
        "serial {serial_hex}: {status:?}"
    );
    let certs = x509_cert::Certificate::load_pem_chain(chain.as_bytes()).unwrap();
    assert!(certs.len() >= 2, "leaf and intermediate: {chain}");
    let (_, ski) = certs[1]
        .tbs_certificate()
        .get_extension::<x509_cert::ext::pkix::SubjectKeyIdentifier>()
        .unwrap()
        .expect("intermediate has an SKI");
    assert_eq!(URL_SAFE_NO_PAD.decode(aki_b64).unwrap(), ski.0.as_bytes());

    // No window set yet: 404 with a problem document.
    let ri_url = format!("{}/{cert_id}", front.renewal_info_url());
    let (status, headers, body) = get_json(&pebble, &ri_url).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(body["type"], "urn:ietf:params:acme:error:malformed");

    // The default window, read by instant-acme's ARI client.
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let (start, end) = (now + time::Duration::days(2), now + time::Duration::days(3));
    front.set_renewal_window(start, end, 21600);
    let (info, retry_after) = account
        .renewal_info(&cert_identifier(&cert_id))
        .await
        .expect("renewalInfo");
    assert_eq!(info.suggested_window.start, start);
    assert_eq!(info.suggested_window.end, end);
    assert_eq!(info.explanation_url, None);
    assert!(
        (Duration::from_secs(21590)..=Duration::from_secs(21600)).contains(&retry_after),
        "{retry_after:?}"
    );

    // A window of this certificate's own, with explanationURL, on the wire.
    let past = RenewalWindow {
        start: now - time::Duration::hours(2),
        end: now - time::Duration::hours(1),
        retry_after_secs: 60,
        explanation_url: Some("https://ca.example/incident".to_owned()),
    };
    front.set_renewal_info_for(&cert_id, past.clone());
    let (status, headers, body) = get_json(&pebble, &ri_url).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["retry-after"], "60");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(body, past.to_json());
    assert_eq!(body["explanationURL"], "https://ca.example/incident");
    assert!(
        body["suggestedWindow"]["start"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );

    let (status, _, body) = get_json(
        &pebble,
        &format!("{}/not-a-cert-id", front.renewal_info_url()),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        front.renewal_info_requests(),
        [cert_id.as_str(), &cert_id, &cert_id, "not-a-cert-id"]
    );

    // alreadyReplaced once, for an order with `replaces` only.
    front.refuse_replaces(1);
    let replaces = cert_identifier(&cert_id);
    let problem = api_problem(
        account
            .new_order(&NewOrder::new(&identifiers).replaces(replaces.clone()))
            .await,
    );
    assert_eq!(
        problem.r#type.as_deref(),
        Some("urn:ietf:params:acme:error:alreadyReplaced"),
        "{problem:?}"
    );
    assert_eq!(problem.status, Some(409));
    let order = account
        .new_order(&NewOrder::new(&identifiers))
        .await
        .expect("newOrder without replaces");
    assert_eq!(order.into_parts().1.replaces, None);

    // The refusal is used up: Pebble takes an order carrying `replaces` (it ignores the field),
    // the front reflects it as RFC 9773 §5 requires, and the order completes.
    let mut order = account
        .new_order(&NewOrder::new(&identifiers).replaces(replaces.clone()))
        .await
        .expect("newOrder with replaces");
    assert_eq!(order.state().replaces.as_ref(), Some(&replaces));
    let state = order.refresh().await.expect("order refresh");
    assert_eq!(state.replaces.as_ref(), Some(&replaces));
    let renewed = complete(&mut order, &dns, &name).await;
    assert_ne!(ari_cert_id(&renewed), cert_id);

    let payloads = front.new_order_payloads();
    let sent: Vec<Option<&str>> = payloads
        .iter()
        .map(|p| p.get("replaces").and_then(Value::as_str))
        .collect();
    assert_eq!(
        sent,
        [None, Some(cert_id.as_str()), None, Some(cert_id.as_str())],
        "{payloads:?}"
    );

    // What Pebble 2.4 itself answers: the order, without `replaces`, which a client checking
    // RFC 9773 §5 rejects.
    let bare = AcmeFront::start(
        &pebble,
        AcmeFrontOptions {
            echo_replaces: false,
            ..AcmeFrontOptions::with_renewal_info()
        },
    )
    .await;
    let bare_account = self::account(&bare, &pebble).await;
    match bare_account
        .new_order(&NewOrder::new(&identifiers).replaces(replaces))
        .await
    {
        Err(AcmeError::Other(e)) => {
            assert!(e.to_string().contains("replaces field mismatch"), "{e}");
        }
        Err(other) => panic!("expected instant-acme to reject the order, got {other:?}"),
        Ok(order) => panic!("expected instant-acme to reject {}", order.url()),
    }
    assert_eq!(bare.new_order_payloads().len(), 1);
}

type Tls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// A TLS client trusting only Pebble's listener root (the front serves Pebble's listener leaf).
fn tls_connector(pebble: &Pebble) -> tokio_rustls::TlsConnector {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pebble.listener_root_pem().as_bytes()) {
        roots.add(cert.expect("listener root PEM")).expect("root");
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
}

fn front_name() -> rustls_pki_types::ServerName<'static> {
    rustls_pki_types::ServerName::try_from("127.0.0.1").expect("server name")
}

/// `GET path` on a kept-alive HTTP/1.1 connection; the answer's status and body (the front's
/// answers are `Content-Length` framed).
async fn get_on(tls: &mut Tls, port: u16, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    tls.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    loop {
        let mut chunk = [0u8; 4096];
        let n = tls.read(&mut chunk).await.expect("read");
        assert!(n > 0, "the front closed the connection");
        answer.extend_from_slice(&chunk[..n]);
        let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().expect("Content-Length"));
        if answer.len() >= end + 4 + length {
            let status = head[9..12].parse().expect("status");
            let body = String::from_utf8_lossy(&answer[end + 4..end + 4 + length]).into_owned();
            return (status, body);
        }
    }
}

async fn wait_until(what: &str, check: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(std::time::Instant::now() < deadline, "{what} within 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn stalled_front_answers_neither_new_nor_kept_alive_connections_until_released() {
    install_crypto_provider();
    let pebble = Pebble::start(pebble_options()).await;
    let front = AcmeFront::start(&pebble, AcmeFrontOptions::default()).await;
    let port = front.port();
    let path = reqwest::Url::parse(&front.directory_url())
        .expect("URL")
        .path()
        .to_owned();
    let connector = tls_connector(&pebble);
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let mut kept = connector.connect(front_name(), tcp).await.expect("TLS");
    assert_eq!(get_on(&mut kept, port, &path).await.0, 200);

    front.set_stalled(true);
    // A request on the connection opened before the stall is held, unanswered.
    let on_kept = {
        let path = path.clone();
        tokio::spawn(async move { get_on(&mut kept, port, &path).await })
    };
    wait_until("the request on the kept-alive connection is held", || {
        front.stalled_requests() == 1
    })
    .await;
    // A new connection is accepted (the kernel completes the TCP handshake), but the TLS
    // handshake never completes.
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("a stalled front still accepts connections");
    let handshake = tokio::spawn(connector.connect(front_name(), tcp));
    wait_until("the new connection is held", || {
        front.stalled_connections() == 1
    })
    .await;
    // Nothing to poll for "still no answer": give both a moment to (wrongly) complete.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !on_kept.is_finished(),
        "a kept-alive connection was answered"
    );
    assert!(!handshake.is_finished(), "a TLS handshake completed");

    // Lifting the stall releases both, as a CA recovering would.
    front.set_stalled(false);
    let within = Duration::from_secs(10);
    let (status, body) = tokio::time::timeout(within, on_kept)
        .await
        .expect("the held request is answered once released")
        .expect("task");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("newOrder"), "{body}");
    let mut fresh = tokio::time::timeout(within, handshake)
        .await
        .expect("the held handshake completes once released")
        .expect("task")
        .expect("TLS");
    assert_eq!(get_on(&mut fresh, port, &path).await.0, 200);
    assert_eq!(
        (front.stalled_connections(), front.stalled_requests()),
        (1, 1)
    );
}
