//! Issuance end to end: orders placed through the API, validated by a real Pebble whose VA
//! fetches http-01 responses from the service and connects to it for tls-alpn-01.

#[macro_use]
mod common;

use std::time::Duration;

use common::{Db, Issuing, domains, issuing, openssl, verify_chain, wait_final};
use scaivault_contract as contract;
use scaivault_testkit::{AcmeFront, AcmeFrontOptions, PebbleOptions};
use serde_json::{Value, json};

const ORDER_TIMEOUT: Duration = Duration::from_secs(60);

fn fast() -> PebbleOptions {
    PebbleOptions {
        nonce_reject_percent: Some(0),
        ..Default::default()
    }
}

/// Places an order and returns the 202 body.
async fn order(env: &Issuing, body: Value) -> Value {
    let (status, answer) = env.service.client().post("/v1/pki/acme/issue", &body).await;
    assert_eq!(status, 202, "{answer}");
    answer
}

/// Pebble whose VA waits a random time of up to `max_secs` seconds before each validation
/// (`PEBBLE_VA_SLEEPTIME`), so orders stay unfinished for a while.
fn slow_validation(max_secs: u32) -> PebbleOptions {
    PebbleOptions {
        va_nosleep: false,
        nonce_reject_percent: Some(0),
        env: vec![("PEBBLE_VA_SLEEPTIME".into(), max_secs.to_string())],
        ..Default::default()
    }
}

fn request(env: &Issuing, domains: &[String], challenge: &str) -> Value {
    json!({ "account_id": env.account_id, "domains": domains, "challenge_type": challenge })
}

async fn http01_multi_domain(db: Db) {
    let env = issuing(db, fast(), &[]).await;
    let api = env.service.client();
    let names = domains(3);
    // The typed calls: the bodies are the contract crate's, as the handlers take and return them.
    let placed = api
        .issue(&contract::Issue::new(
            env.account_id.as_str(),
            names.clone(),
            contract::ChallengeType::Http01,
        ))
        .await
        .expect("the order is placed");
    assert_eq!(placed.order.status, contract::OrderStatus::Pending);
    assert!(placed.order.order_id.starts_with("acme_order_"));
    assert_eq!(placed.order.domains, names);
    assert_eq!(placed.challenges.len(), 3);
    for challenge in &placed.challenges {
        assert_eq!(challenge.challenge_type, contract::ChallengeType::Http01);
        assert!(
            challenge
                .key_authorization
                .starts_with(&format!("{}.", challenge.token))
        );
    }

    wait_final(&api, &placed.order.order_id, ORDER_TIMEOUT).await;
    let done = api.order(&placed.order.order_id).await.expect("the order");
    assert_eq!(done.order.status, contract::OrderStatus::Valid, "{done:?}");
    assert!(done.order.error.is_none());
    assert!(done.order.not_after.is_some());
    let certificate_id = done.order.certificate_id.clone().expect("certificate id");
    assert!(certificate_id.starts_with("cert_"));
    let certificate_id = certificate_id.as_str();

    let certificate = api
        .certificate(certificate_id)
        .await
        .expect("the certificate");
    assert_eq!(certificate.certificate.current_version, 1);
    assert_eq!(certificate.certificate.domains, names);
    assert_eq!(certificate.versions.len(), 1);
    let version = &certificate.versions[0];
    let mut sans = version.sans.clone();
    sans.sort();
    let mut want = names.clone();
    want.sort();
    assert_eq!(sans, want);
    assert!(version.serial_number.contains(':'));
    assert!(version.issuer.contains("Pebble"));

    let chain = api
        .raw(
            reqwest::Method::GET,
            &format!("/v1/pki/certificates/{certificate_id}/pem"),
            None,
        )
        .await;
    assert_eq!(chain.status, 200);
    assert_eq!(chain.header("content-type"), Some("application/x-pem-file"));
    verify_chain(&env.pebble, &chain.body).await;

    let key = api
        .raw(
            reqwest::Method::GET,
            &format!("/v1/pki/certificates/{certificate_id}/key"),
            None,
        )
        .await;
    assert_eq!(key.status, 200);
    let leaf_key = openssl(&["x509", "-noout", "-pubkey"], &chain.body);
    let private_key = openssl(&["pkey", "-pubout"], &key.body);
    assert_eq!(leaf_key, private_key, "the key matches the certificate");

    let (status, events) = api.get("/v1/events?type=certificate.issued").await;
    assert_eq!(status, 200, "{events}");
    let issued = &events["events"][0];
    assert_eq!(issued["type"], "certificate.issued");
    assert_eq!(issued["data"]["certificate_id"], certificate_id);
    assert_eq!(issued["data"]["version"], 1);
    assert_eq!(issued["data"]["domains"], json!(names));
    assert_eq!(
        issued["data"]["serial_number"],
        version.serial_number.as_str()
    );
    let (status, _) = api.get("/v1/events?type=certificate.exploded").await;
    assert_eq!(status, 400);
    let (_, later) = api.get("/v1/events?since=2999-01-01T00:00:00Z").await;
    assert_eq!(later["events"], json!([]));

    let (status, list) = api.get("/v1/pki/acme/orders?status=valid").await;
    assert_eq!(status, 200);
    assert_eq!(list["orders"].as_array().expect("orders").len(), 1);
    let (_, list) = api.get("/v1/pki/certificates").await;
    assert_eq!(
        list["certificates"].as_array().expect("certificates").len(),
        1
    );

    let log = env.service.log_text();
    assert!(!log.contains("PRIVATE KEY"), "no private key in the log");
    assert!(
        !log.contains(key.body.lines().nth(1).expect("key line")),
        "no key material in the log"
    );
}
on_both_backends!(http01_multi_domain);

#[tokio::test]
async fn tls_alpn01_issues() {
    let env = issuing(Db::Sqlite, fast(), &[]).await;
    let names = domains(2);
    let placed = order(&env, request(&env, &names, "tls-alpn-01")).await;
    let done = wait_final(
        &env.service.client(),
        placed["order_id"].as_str().expect("id"),
        ORDER_TIMEOUT,
    )
    .await;
    assert_eq!(done["status"], "valid", "{done}");
}

#[tokio::test]
async fn every_key_type() {
    let env = issuing(Db::Sqlite, fast(), &[]).await;
    let api = env.service.client();
    let cases = [
        ("ecdsa-p256", "prime256v1"),
        ("ecdsa-p384", "secp384r1"),
        ("rsa-2048", "2048 bit"),
        ("rsa-4096", "4096 bit"),
    ];
    let mut placed = Vec::new();
    for (key_type, _) in cases {
        let mut body = request(&env, &domains(1), "http-01");
        body["key_type"] = json!(key_type);
        placed.push(order(&env, body).await);
    }
    for ((key_type, marker), placed) in cases.iter().zip(placed) {
        let done = wait_final(
            &api,
            placed["order_id"].as_str().expect("id"),
            ORDER_TIMEOUT,
        )
        .await;
        assert_eq!(done["status"], "valid", "{key_type}: {done}");
        let id = done["certificate_id"].as_str().expect("certificate");
        let (_, certificate) = api.get(&format!("/v1/pki/certificates/{id}")).await;
        assert_eq!(certificate["key_type"], *key_type);
        let chain = api
            .raw(
                reqwest::Method::GET,
                &format!("/v1/pki/certificates/{id}/pem"),
                None,
            )
            .await;
        let text = openssl(&["x509", "-noout", "-text"], &chain.body);
        assert!(
            text.contains(marker),
            "{key_type}: leaf should show {marker}:\n{text}"
        );
    }
}

#[tokio::test]
async fn own_csr_issues_and_holds_no_key() {
    let env = issuing(Db::Sqlite, fast(), &[]).await;
    let api = env.service.client();
    let names = domains(2);
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("key.pem");
    let csr = dir.path().join("csr.pem");
    let san = names
        .iter()
        .map(|n| format!("DNS:{n}"))
        .collect::<Vec<_>>()
        .join(",");
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&csr)
        .args([
            "-subj",
            &format!("/CN={}", names[0]),
            "-addext",
            &format!("subjectAltName={san}"),
        ])
        .output()
        .expect("openssl req");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csr_pem = std::fs::read_to_string(&csr).expect("csr");

    let mut mismatched = request(&env, &domains(1), "http-01");
    mismatched["csr"] = json!(csr_pem);
    let (status, refused) = api.post("/v1/pki/acme/issue", &mismatched).await;
    assert_eq!(status, 400, "a CSR for other names is refused: {refused}");
    assert_eq!(refused["error"]["details"]["field"], "csr");

    let mut body = request(&env, &names, "http-01");
    body["csr"] = json!(csr_pem);
    let placed = order(&env, body).await;
    let done = wait_final(
        &api,
        placed["order_id"].as_str().expect("id"),
        ORDER_TIMEOUT,
    )
    .await;
    assert_eq!(done["status"], "valid", "{done}");
    let id = done["certificate_id"].as_str().expect("certificate");
    let chain = api
        .raw(
            reqwest::Method::GET,
            &format!("/v1/pki/certificates/{id}/pem"),
            None,
        )
        .await;
    let leaf_key = openssl(&["x509", "-noout", "-pubkey"], &chain.body);
    let own_key = openssl(
        &["pkey", "-pubout"],
        &std::fs::read_to_string(&key).expect("key"),
    );
    assert_eq!(leaf_key, own_key, "the certificate is for the caller's key");
    let (status, answer) = api.get(&format!("/v1/pki/certificates/{id}/key")).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"]["code"], "no_private_key");
}

#[tokio::test]
async fn unvalidatable_domain_ends_invalid_with_the_reason() {
    let env = issuing(Db::Sqlite, fast(), &[]).await;
    let names = domains(2);
    // The second name resolves to an address where nothing answers http-01.
    env.dns.add_a(&names[1], &["127.0.0.254"]).await;
    let placed = order(&env, request(&env, &names, "http-01")).await;
    let done = wait_final(
        &env.service.client(),
        placed["order_id"].as_str().expect("id"),
        ORDER_TIMEOUT,
    )
    .await;
    assert_eq!(done["status"], "invalid", "{done}");
    let code = done["error"]["code"].as_str().expect("code");
    let message = done["error"]["message"].as_str().expect("message");
    assert_eq!(code, "validation_failed");
    assert!(message.contains(&names[1]), "names the domain: {message}");
    assert!(
        message.contains("http-01"),
        "names the challenge: {message}"
    );
    assert!(
        message.contains("urn:ietf:params:acme:error:"),
        "carries the CA's problem: {message}"
    );
    assert!(
        !message.contains(&names[0]),
        "only the failing domain: {message}"
    );
    // The CA could not connect while the service was up: placed at the CA once more, not up to
    // the limit that applies when the CA validated during a crash or restart.
    assert_eq!(done["ca_attempts"], 2, "{done}");
}

#[tokio::test]
async fn issue_input_is_validated() {
    let env = issuing(Db::Sqlite, fast(), &[]).await;
    let api = env.service.client();
    let many: Vec<String> = (0..101).map(|i| format!("h{i}.example.test")).collect();
    let cases = [
        (
            json!({"account_id": env.account_id, "domains": ["*.example.test"], "challenge_type": "http-01"}),
            400,
            "domains",
        ),
        (
            json!({"account_id": env.account_id, "domains": many, "challenge_type": "http-01"}),
            400,
            "domains",
        ),
        (
            json!({"account_id": env.account_id, "domains": [], "challenge_type": "http-01"}),
            400,
            "domains",
        ),
        (
            json!({"account_id": env.account_id, "domains": ["a.example.test", "A.example.test."], "challenge_type": "http-01"}),
            400,
            "domains",
        ),
        (
            json!({"account_id": env.account_id, "domains": ["a.example.test"], "challenge_type": "smtp-01"}),
            400,
            "challenge_type",
        ),
        (
            json!({"account_id": env.account_id, "domains": ["a.example.test"], "challenge_type": "http-01", "key_type": "dsa"}),
            400,
            "key_type",
        ),
        (
            json!({"account_id": env.account_id, "domains": ["a.example.test"], "challenge_type": "dns-01"}),
            400,
            "dns_provider_id",
        ),
        (
            json!({"account_id": env.account_id, "domains": ["a.example.test"], "challenge_type": "http-01", "csr": "nonsense"}),
            400,
            "csr",
        ),
    ];
    for (body, want, field) in cases {
        let (status, answer) = api.post("/v1/pki/acme/issue", &body).await;
        assert_eq!(status, want, "{body} -> {answer}");
        assert_eq!(answer["error"]["code"], "invalid_request", "{answer}");
        assert_eq!(answer["error"]["details"]["field"], field, "{answer}");
    }
    let (status, answer) = api
        .post("/v1/pki/acme/issue", &json!({"account_id": "acme_nope", "domains": ["a.example.test"], "challenge_type": "http-01"}))
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (status, answer) = api.get("/v1/pki/acme/orders?status=bogus").await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, _) = api.get("/v1/pki/acme/orders?limit=1000").await;
    assert_eq!(status, 400);

    // IDNA: a Unicode name is ordered in its ASCII form.
    let placed = order(
        &env,
        request(&env, &["bücher.example.test".to_owned()], "http-01"),
    )
    .await;
    assert_eq!(placed["domains"], json!(["xn--bcher-kva.example.test"]));
}

#[tokio::test]
async fn fifty_orders_with_default_bad_nonces() {
    // Pebble's default: 5 % of nonces rejected as bad; instant-acme retries badNonce.
    let env = issuing(Db::Sqlite, PebbleOptions::default(), &[]).await;
    let api = env.service.client();
    let mut ids = Vec::new();
    for _ in 0..50 {
        let placed = order(&env, request(&env, &domains(1), "http-01")).await;
        ids.push(placed["order_id"].as_str().expect("id").to_owned());
    }
    for id in &ids {
        let done = wait_final(&api, id, Duration::from_secs(120)).await;
        assert_eq!(done["status"], "valid", "{done}");
    }
    assert!(
        env.pebble.log_text().to_lowercase().contains("nonce"),
        "Pebble rejected nonces"
    );
}

#[tokio::test]
async fn kill9_with_orders_in_flight_then_restart_completes_all() {
    // Pebble's VA waits up to 3 s before validating, so orders are still in flight at the kill.
    let pebble = slow_validation(3);
    let mut env = issuing(Db::Sqlite, pebble, &[]).await;
    let mut ids = Vec::new();
    let mut first_challenge = None;
    for _ in 0..8 {
        let placed = order(&env, request(&env, &domains(1), "http-01")).await;
        ids.push(placed["order_id"].as_str().expect("id").to_owned());
        first_challenge.get_or_insert(placed["challenges"][0].clone());
    }
    let challenge = first_challenge.expect("a challenge");
    let token = challenge["token"].as_str().expect("token");
    let well_known = format!("/.well-known/acme-challenge/{token}");
    // The API listener answers http-01 too, from the stored challenge.
    let served = env
        .service
        .client()
        .without_token()
        .raw(reqwest::Method::GET, &well_known, None)
        .await;
    if served.status == 200 {
        assert_eq!(
            served.body.as_str(),
            challenge["key_authorization"].as_str().expect("ka")
        );
    } else {
        // Pebble's VA may already have validated the first order (its wait is random up to
        // 3 s); tokens are answered only for unfinished orders, so then it must be final.
        let (_, first) = env
            .service
            .client()
            .get(&format!("/v1/pki/acme/orders/{}", ids[0]))
            .await;
        assert_eq!(
            first["status"], "valid",
            "an unfinished order's token answered {}",
            served.status
        );
    }
    let unknown = env
        .service
        .client()
        .without_token()
        .raw(
            reqwest::Method::GET,
            "/.well-known/acme-challenge/nope",
            None,
        )
        .await;
    assert_eq!(unknown.status, 404);

    let (_, pending) = env
        .service
        .client()
        .get("/v1/pki/acme/orders?status=pending")
        .await;
    assert!(
        !pending["orders"].as_array().expect("orders").is_empty(),
        "orders in flight at the kill"
    );
    env.service.kill9();
    env.service.restart().await;
    let api = env.service.client();
    let (_, order_now) = api.get(&format!("/v1/pki/acme/orders/{}", ids[0])).await;
    if order_now["status"] == "pending" {
        let served = api
            .without_token()
            .raw(reqwest::Method::GET, &well_known, None)
            .await;
        assert_eq!(
            served.status, 200,
            "a restarted service still answers stored tokens"
        );
    }
    for id in &ids {
        let done = wait_final(&api, id, ORDER_TIMEOUT).await;
        assert_eq!(done["status"], "valid", "{done}");
    }
    assert!(
        env.service
            .log_text()
            .contains("resuming unfinished orders")
    );
    let (_, certificates) = api.get("/v1/pki/certificates").await;
    assert_eq!(
        certificates["certificates"]
            .as_array()
            .expect("certificates")
            .len(),
        ids.len(),
        "one certificate per order"
    );
}

#[tokio::test]
async fn injected_actor_panic_is_supervised_and_the_order_completes() {
    let env = issuing(
        Db::Sqlite,
        fast(),
        &[("SV_TEST_PANIC_ORDER_STEP", "finalize")],
    )
    .await;
    let placed = order(&env, request(&env, &domains(2), "http-01")).await;
    let done = wait_final(
        &env.service.client(),
        placed["order_id"].as_str().expect("id"),
        ORDER_TIMEOUT,
    )
    .await;
    assert_eq!(done["status"], "valid", "{done}");
    let log = env.service.log_text();
    assert!(
        log.contains("injected fault at step finalize"),
        "the panic happened:\n{log}"
    );
    assert!(
        log.contains("restarting from the store"),
        "the supervisor restarted it:\n{log}"
    );
}

#[tokio::test]
async fn forced_renewal_adds_a_version_and_joins_one_in_flight() {
    // Pebble's VA waits up to 2 s, so a second request finds the first renewal in flight.
    let pebble = slow_validation(2);
    let env = issuing(Db::Sqlite, pebble, &[]).await;
    let api = env.service.client();
    let mut body = request(&env, &domains(2), "http-01");
    body["key_type"] = json!("ecdsa-p384");
    body["auto_renew"] = json!(false);
    let placed = order(&env, body).await;
    let first = wait_final(
        &api,
        placed["order_id"].as_str().expect("id"),
        ORDER_TIMEOUT,
    )
    .await;
    assert_eq!(first["status"], "valid", "{first}");
    let id = first["certificate_id"]
        .as_str()
        .expect("certificate")
        .to_owned();
    let (_, before) = api.get(&format!("/v1/pki/certificates/{id}")).await;
    let renew_at = before["renew_at"].as_str().expect("renew_at").to_owned();
    assert!(
        renew_at.as_str() < before["not_after"].as_str().expect("not_after"),
        "renew_at before expiry: {before}"
    );

    let (status, renewal) = api
        .post(&format!("/v1/pki/certificates/{id}/renew"), &json!({}))
        .await;
    assert_eq!(status, 202, "{renewal}");
    assert_eq!(renewal["joined"], false);
    assert_eq!(renewal["certificate_id"], id.as_str());
    assert_eq!(
        renewal["key_type"], "ecdsa-p384",
        "same key type as the certificate"
    );
    let (status, again) = api
        .post(&format!("/v1/pki/certificates/{id}/renew"), &json!({}))
        .await;
    assert_eq!(status, 202, "{again}");
    assert_eq!(
        again["joined"], true,
        "a renewal in flight is joined: {again}"
    );
    assert_eq!(again["order_id"], renewal["order_id"]);

    let renewed = wait_final(
        &api,
        renewal["order_id"].as_str().expect("id"),
        ORDER_TIMEOUT,
    )
    .await;
    assert_eq!(renewed["status"], "valid", "{renewed}");
    let (_, after) = api.get(&format!("/v1/pki/certificates/{id}")).await;
    assert_eq!(after["current_version"], 2, "{after}");
    let versions = after["versions"].as_array().expect("versions");
    assert_eq!(versions.len(), 2);
    assert_ne!(versions[0]["serial_number"], versions[1]["serial_number"]);
    assert_eq!(after["serial_number"], versions[0]["serial_number"]);
    let chain = api
        .raw(
            reqwest::Method::GET,
            &format!("/v1/pki/certificates/{id}/pem"),
            None,
        )
        .await;
    let key = api
        .raw(
            reqwest::Method::GET,
            &format!("/v1/pki/certificates/{id}/key"),
            None,
        )
        .await;
    assert_eq!(
        openssl(&["x509", "-noout", "-pubkey"], &chain.body),
        openssl(&["pkey", "-pubout"], &key.body),
        "the current key belongs to the current version"
    );
    let serial = openssl(&["x509", "-noout", "-serial"], &chain.body);
    assert!(
        serial
            .trim()
            .trim_start_matches("serial=")
            .trim_start_matches('0')
            == versions[0]["serial_number"]
                .as_str()
                .expect("serial")
                .replace(':', "")
                .trim_start_matches('0'),
        "the PEM is the new version: {serial}"
    );

    let (status, missing) = api
        .post("/v1/pki/certificates/cert_missing/renew", &json!({}))
        .await;
    assert_eq!(
        (status, missing["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
}

/// Deactivating an account ends its orders in flight as `deactivated`, with the reason in
/// `error`: none of them ends `invalid` (the CA refusing the deactivated account's requests is
/// not what went wrong). Pebble's VA waits up to 15 s before validating, so orders are still
/// pending when the account is deactivated a moment after they are placed (each is `valid`
/// only if Pebble happened to validate at once).
#[tokio::test]
async fn deactivating_an_account_ends_its_orders_as_deactivated() {
    let pebble = slow_validation(15);
    let env = issuing(Db::Sqlite, pebble, &[]).await;
    let api = env.service.client();
    let mut ids = Vec::new();
    for _ in 0..4 {
        let placed = order(&env, request(&env, &domains(2), "http-01")).await;
        ids.push(placed["order_id"].as_str().expect("id").to_owned());
    }
    let (status, account) = api
        .delete(&format!("/v1/pki/acme/accounts/{}", env.account_id))
        .await;
    assert_eq!(status, 200, "{account}");
    assert_eq!(account["status"], "deactivated");

    let mut deactivated = 0;
    for id in &ids {
        let done = wait_final(&api, id, ORDER_TIMEOUT).await;
        match done["status"].as_str() {
            Some("deactivated") => {
                deactivated += 1;
                assert_eq!(done["error"]["code"], "account_deactivated", "{done}");
                let message = done["error"]["message"].as_str().expect("message");
                assert!(message.contains(&env.account_id), "{message}");
            }
            Some("valid") => {}
            _ => panic!("an order of a deactivated account ended {done}"),
        }
    }
    assert!(deactivated > 0, "no order was in flight");
    let (status, list) = api.get("/v1/pki/acme/orders?status=deactivated").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(
        list["orders"].as_array().expect("orders").len(),
        deactivated,
        "{list}"
    );
    // Nothing keeps running for them: a while later they are still deactivated.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for id in &ids {
        let (_, order) = api.get(&format!("/v1/pki/acme/orders/{id}")).await;
        assert!(
            matches!(order["status"].as_str(), Some("deactivated" | "valid")),
            "{order}"
        );
    }
}

/// An order whose authorizations expire at the CA before it is finished ends `expired` (not
/// `invalid`), its error naming the names, and is announced as `order.invalid` with that error.
/// The ACME front answers every authorization `expired` and every order `invalid` once told to;
/// Pebble's VA waits up to 15 s, so the order is still unfinished when that happens.
#[tokio::test]
async fn an_order_whose_authorizations_expire_ends_expired() {
    let pebble = slow_validation(15);
    let env = issuing(Db::Sqlite, pebble, &[]).await;
    let api = env.service.client();
    let front = AcmeFront::start(&env.pebble, AcmeFrontOptions::default()).await;
    let account = common::register_custom(&api, "expiring", &front.directory_url()).await;
    let names = domains(3);
    let placed = order(
        &env,
        json!({"account_id": account, "domains": names, "challenge_type": "http-01"}),
    )
    .await;
    front.expire_orders();
    let id = placed["order_id"].as_str().expect("id");
    let done = wait_final(&api, id, ORDER_TIMEOUT).await;
    assert_eq!(done["status"], "expired", "{done}");
    assert_eq!(done["error"]["code"], "order_expired", "{done}");
    let message = done["error"]["message"].as_str().expect("message");
    for name in &names {
        assert!(
            message.contains(name.as_str()),
            "{name} not named: {message}"
        );
    }
    let (_, list) = api.get("/v1/pki/acme/orders?status=expired").await;
    assert_eq!(list["orders"][0]["order_id"], id, "{list}");
    let (_, events) = api.get("/v1/events?type=order.invalid").await;
    assert_eq!(events["events"][0]["data"]["order_id"], id, "{events}");
    assert_eq!(
        events["events"][0]["data"]["error"]["code"], "order_expired",
        "{events}"
    );
}

/// Pebble and the service for IP identifiers (RFC 8738): Pebble's VA connects to the address
/// itself, so the service's http-01 and tls-alpn-01 responders listen on `127.0.0.1` and `::1`
/// at the ports Pebble validates on (the machine has `::1` on lo). `configure` adds to the
/// service's options.
async fn issuing_for_ips(
    db: Db,
    configure: impl FnOnce(
        scaivault_testkit::ServiceOptions,
        &scaivault_testkit::Pebble,
    ) -> scaivault_testkit::ServiceOptions,
) -> Issuing {
    common::issuing_with(db, fast(), |opts, pebble| {
        let (http, tls) = (pebble.http_port(), pebble.tls_port());
        configure(
            opts.set(
                "challenges",
                "http01_listen",
                format!("[\"127.0.0.1:{http}\", \"[::1]:{http}\"]"),
            )
            .set(
                "challenges",
                "tls_alpn01_listen",
                format!("[\"127.0.0.1:{tls}\", \"[::1]:{tls}\"]"),
            ),
            pebble,
        )
    })
    .await
}

/// The leaf's subjectAltNames as text: `DNS:name` and `IP:address`.
fn leaf_sans(chain_pem: &str) -> Vec<String> {
    use x509_cert::ext::pkix::SubjectAltName;
    use x509_cert::ext::pkix::name::GeneralName;
    let chain = x509_cert::Certificate::load_pem_chain(chain_pem.as_bytes()).expect("PEM chain");
    let (_, san) = chain[0]
        .tbs_certificate()
        .get_extension::<SubjectAltName>()
        .expect("SAN parses")
        .expect("the leaf has a SAN");
    san.0
        .iter()
        .map(|name| match name {
            GeneralName::DnsName(dns) => format!("DNS:{dns}"),
            GeneralName::IpAddress(octets) => {
                let bytes = octets.as_bytes();
                let ip: std::net::IpAddr = match bytes.len() {
                    4 => <[u8; 4]>::try_from(bytes).expect("4 octets").into(),
                    _ => <[u8; 16]>::try_from(bytes).expect("16 octets").into(),
                };
                format!("IP:{ip}")
            }
            other => panic!("unexpected SAN {other:?}"),
        })
        .collect()
}

/// Waits for `placed` to be valid and returns its certificate (the API's JSON) and chain PEM.
async fn issued(env: &Issuing, placed: &Value) -> (Value, String) {
    let api = env.service.client();
    let done = wait_final(
        &api,
        placed["order_id"].as_str().expect("id"),
        ORDER_TIMEOUT,
    )
    .await;
    assert_eq!(done["status"], "valid", "{done}");
    let id = done["certificate_id"].as_str().expect("certificate id");
    let (status, certificate) = api.get(&format!("/v1/pki/certificates/{id}")).await;
    assert_eq!(status, 200, "{certificate}");
    let chain = api
        .raw(
            reqwest::Method::GET,
            &format!("/v1/pki/certificates/{id}/pem"),
            None,
        )
        .await;
    assert_eq!(chain.status, 200);
    (certificate, chain.body)
}

async fn ip_identifiers_validate_by_http01_alone_and_beside_dns_names(db: Db) {
    let env = issuing_for_ips(db, |opts, _| opts).await;
    // An IPv4 address alone; then IPv4 and IPv6 (in a non-canonical spelling) beside a DNS name.
    let alone = order(&env, request(&env, &["127.0.0.1".to_owned()], "http-01")).await;
    assert_eq!(alone["domains"], json!(["127.0.0.1"]));
    let name = domains(1).remove(0);
    let mixed = order(
        &env,
        request(
            &env,
            &[name.clone(), "127.0.0.1".into(), "[0:0::1]".into()],
            "http-01",
        ),
    )
    .await;
    assert_eq!(mixed["domains"], json!([name, "127.0.0.1", "::1"]));
    // One challenge per identifier, named as the order names it (in the CA's order).
    let mut challenged: Vec<&str> = mixed["challenges"]
        .as_array()
        .expect("challenges")
        .iter()
        .map(|c| c["domain"].as_str().expect("domain"))
        .collect();
    challenged.sort_unstable();
    let mut want = vec![name.as_str(), "127.0.0.1", "::1"];
    want.sort_unstable();
    assert_eq!(challenged, want);
    // A custom CA's order keeps the profile as given (none).
    assert_eq!(mixed["profile"], Value::Null);

    let (certificate, chain) = issued(&env, &alone).await;
    assert_eq!(certificate["domains"], json!(["127.0.0.1"]));
    assert_eq!(certificate["versions"][0]["sans"], json!(["127.0.0.1"]));
    assert_eq!(leaf_sans(&chain), ["IP:127.0.0.1"]);
    verify_chain(&env.pebble, &chain).await;

    let (certificate, chain) = issued(&env, &mixed).await;
    let mut sans: Vec<String> = certificate["versions"][0]["sans"]
        .as_array()
        .expect("sans")
        .iter()
        .map(|s| s.as_str().expect("san").to_owned())
        .collect();
    sans.sort();
    let mut want = vec![name.clone(), "127.0.0.1".into(), "::1".into()];
    want.sort();
    assert_eq!(sans, want);
    let mut leaf = leaf_sans(&chain);
    leaf.sort();
    assert_eq!(
        leaf,
        [
            format!("DNS:{name}"),
            "IP:127.0.0.1".into(),
            "IP:::1".into()
        ]
    );

    // The event names the addresses as the order does.
    let (_, events) = env
        .service
        .client()
        .get("/v1/events?type=certificate.issued")
        .await;
    let announced: Vec<&Value> = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| &e["data"]["domains"])
        .collect();
    assert!(announced.contains(&&json!(["127.0.0.1"])), "{events}");
}

on_both_backends!(ip_identifiers_validate_by_http01_alone_and_beside_dns_names);

#[tokio::test]
async fn ip_identifiers_validate_by_tls_alpn01_through_their_reverse_names() {
    let env = issuing_for_ips(Db::Sqlite, |opts, _| opts).await;
    let placed = order(
        &env,
        request(&env, &["127.0.0.1".to_owned(), "::1".into()], "tls-alpn-01"),
    )
    .await;
    let (certificate, chain) = issued(&env, &placed).await;
    assert_eq!(certificate["domains"], json!(["127.0.0.1", "::1"]));
    assert_eq!(leaf_sans(&chain), ["IP:127.0.0.1", "IP:::1"]);
    // Pebble asked by the reverse-mapping names (RFC 8738 §6) and got each address's
    // certificate: the responder logs the identifier it answered for.
    let log = env.service.log_text();
    let presented: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("tls-alpn-01: presented the validation certificate"))
        .collect();
    for ip in ["127.0.0.1", "::1"] {
        assert!(
            presented.iter().any(|line| line.contains(ip)),
            "{ip}: {presented:#?}"
        );
    }
}

#[tokio::test]
async fn ip_identifiers_refuse_dns01_and_wildcards_before_the_ca() {
    let env = issuing_for_ips(Db::Sqlite, |opts, _| opts).await;
    let api = env.service.client();
    let cases = [
        // dns-01 cannot validate an address (RFC 8738 §7).
        (
            json!({"account_id": env.account_id, "domains": ["a.example.test", "192.0.2.1"], "challenge_type": "dns-01"}),
            "challenge_type",
            "\"192.0.2.1\" is an IP address",
        ),
        (
            json!({"account_id": env.account_id, "domains": ["2001:DB8::1"], "challenge_type": "dns-01"}),
            "challenge_type",
            "\"2001:db8::1\" is an IP address",
        ),
        // A wildcard needs dns-01, an address cannot have it: never in one order.
        (
            json!({"account_id": env.account_id, "domains": ["*.example.test", "192.0.2.1"], "challenge_type": "dns-01"}),
            "domains",
            "cannot be in one order",
        ),
        (
            json!({"account_id": env.account_id, "domains": ["*.example.test", "192.0.2.1"], "challenge_type": "http-01"}),
            "domains",
            "cannot be in one order",
        ),
    ];
    for (body, field, message) in cases {
        let (status, answer) = api.post("/v1/pki/acme/issue", &body).await;
        assert_eq!(status, 400, "{body} -> {answer}");
        assert_eq!(answer["error"]["code"], "invalid_request", "{answer}");
        assert_eq!(answer["error"]["details"]["field"], field, "{answer}");
        let text = answer["error"]["message"].as_str().expect("message");
        assert!(text.contains(message), "{body} -> {text}");
    }
    // Nothing reached the CA.
    let (_, orders) = api.get("/v1/pki/acme/orders").await;
    assert_eq!(orders["orders"], json!([]), "{orders}");
    assert!(
        !env.pebble.log_text().contains("Added order"),
        "{}",
        env.pebble.log_text()
    );
}

#[tokio::test]
async fn ip_identifiers_at_lets_encrypt_get_the_shortlived_profile() {
    // Pebble stands in for Let's Encrypt's production directory.
    let env = issuing_for_ips(Db::Sqlite, |opts, pebble| {
        opts.set(
            "acme",
            "directories",
            format!("{{ letsencrypt = \"{}\" }}", pebble.directory_url()),
        )
    })
    .await;
    let api = env.service.client();
    let (status, account) = api
        .post(
            "/v1/pki/acme/accounts",
            &json!({"name": "le", "provider": "letsencrypt", "environment": "production",
                    "email": "certs@acme.example"}),
        )
        .await;
    assert_eq!(status, 201, "{account}");
    let le = account["id"].as_str().expect("id");

    // Another profile than shortlived: refused naming the rule, before the CA is asked.
    let (status, answer) = api
        .post(
            "/v1/pki/acme/issue",
            &json!({"account_id": le, "domains": ["127.0.0.1"], "challenge_type": "http-01",
                    "profile": "tlsserver"}),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], "invalid_request", "{answer}");
    assert_eq!(answer["error"]["details"]["field"], "profile", "{answer}");
    let text = answer["error"]["message"].as_str().expect("message");
    assert!(text.contains("only with profile \"shortlived\""), "{text}");
    assert!(!env.pebble.log_text().contains("Added order"));

    // No profile: shortlived, on the order and on the certificate. (Pebble 2.4 has no profiles
    // and ignores the field, so it issues; Let's Encrypt would make it a 160-hour certificate.)
    let placed = order(
        &env,
        json!({"account_id": le, "domains": ["127.0.0.1"], "challenge_type": "http-01"}),
    )
    .await;
    assert_eq!(placed["profile"], "shortlived", "{placed}");
    let (certificate, chain) = issued(&env, &placed).await;
    assert_eq!(certificate["profile"], "shortlived", "{certificate}");
    assert_eq!(leaf_sans(&chain), ["IP:127.0.0.1"]);

    // A renewal keeps the profile and the address; the IP certificate revokes at the CA.
    let id = certificate["id"].as_str().expect("certificate id");
    let (status, renewal) = api
        .post(&format!("/v1/pki/certificates/{id}/renew"), &json!({}))
        .await;
    assert_eq!(status, 202, "{renewal}");
    assert_eq!(renewal["profile"], "shortlived", "{renewal}");
    let (renewed, chain) = issued(&env, &renewal).await;
    assert_eq!(renewed["current_version"], 2, "{renewed}");
    assert_eq!(leaf_sans(&chain), ["IP:127.0.0.1"]);
    let serial = renewed["serial_number"].as_str().expect("serial");
    let (status, revoked) = api
        .post(
            "/v1/pki/revoke",
            &json!({"serial_number": serial, "reason": "superseded", "use_acme": true}),
        )
        .await;
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["via_acme"], true, "{revoked}");
    let at_ca = env
        .pebble
        .cert_status_by_serial(serial)
        .await
        .expect("Pebble knows the serial");
    assert_eq!(at_ca["Status"], "Revoked", "{at_ca}");

    // DNS names alone keep the profile as given (none), and an explicit shortlived is fine.
    let (status, dns_only) = api
        .post(
            "/v1/pki/acme/issue",
            &json!({"account_id": le, "domains": domains(1), "challenge_type": "http-01"}),
        )
        .await;
    assert_eq!(status, 202, "{dns_only}");
    assert_eq!(dns_only["profile"], Value::Null);
    let (status, explicit) = api
        .post(
            "/v1/pki/acme/issue",
            &json!({"account_id": le, "domains": ["::1"], "challenge_type": "tls-alpn-01",
                    "profile": "shortlived"}),
        )
        .await;
    assert_eq!(status, 202, "{explicit}");
    assert_eq!(explicit["profile"], "shortlived");
}
