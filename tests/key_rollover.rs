//! Account key rollover (RFC 8555 §7.3.5) and contact updates (§7.3.2) end to end, through the
//! binary against a real Pebble: after a rollover new orders are validated against the new
//! key (Pebble recomputes each key authorization from the account's current key, and the
//! service's key authorizations end with the new thumbprint); an order in flight during the
//! rollover finishes; a crash on either side of the CA's answer leaves an account that works.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::{Db, Issuing, bind_provider, custom_account, domains, issuing, start, wait_final};
use scaivault_testkit::{
    ApiClient, Bind, BindOptions, Pebble, PebbleOptions, Service, lock_loopback_ip,
};
use serde_json::{Value, json};

const ISSUE_WITHIN: Duration = Duration::from_secs(60);

/// The account as the API shows it.
async fn account(api: &ApiClient, id: &str) -> Value {
    let (status, account) = api.get(&format!("/v1/pki/acme/accounts/{id}")).await;
    assert_eq!(status, 200, "{account}");
    account
}

fn thumbprint(account: &Value) -> String {
    account["key_thumbprint"]
        .as_str()
        .unwrap_or_else(|| panic!("a key thumbprint: {account}"))
        .to_owned()
}

/// Places an http-01 order for a fresh name, checks its key authorization is made with the key
/// of thumbprint `key`, and waits for it to be valid.
async fn issue_with_key(api: &ApiClient, account_id: &str, key: &str) {
    let (status, placed) = api
        .post(
            "/v1/pki/acme/issue",
            &json!({"account_id": account_id, "domains": domains(1), "challenge_type": "http-01"}),
        )
        .await;
    assert_eq!(status, 202, "{placed}");
    let challenge = &placed["challenges"][0];
    let token = challenge["token"].as_str().expect("token");
    assert_eq!(
        challenge["key_authorization"]
            .as_str()
            .expect("key authorization"),
        format!("{token}.{key}"),
        "the key authorization ends with the account key's thumbprint (RFC 8555 §8.1)"
    );
    let order_id = placed["order_id"].as_str().expect("order id");
    let done = wait_final(api, order_id, ISSUE_WITHIN).await;
    assert_eq!(done["status"], "valid", "{done}");
}

async fn roll_over(api: &ApiClient, id: &str) -> Value {
    let (status, rolled) = api
        .post(
            &format!("/v1/pki/acme/accounts/{id}/key-rollover"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{rolled}");
    rolled
}

/// Register, issue, roll over, issue again: the second certificate is validated against the
/// new key. Then the refusals: unknown and deactivated accounts.
async fn rollover_then_new_orders_use_the_new_key(db: Db) {
    let mut env: Issuing = issuing(db, PebbleOptions::default(), &[]).await;
    let api = env.service.client();
    let id = env.account_id.clone();
    let id = id.as_str();
    let before = account(&api, id).await;
    let old_key = thumbprint(&before);
    assert!(before["key_rolled_at"].is_null(), "{before}");
    issue_with_key(&api, id, &old_key).await;

    let rolled = roll_over(&api, id).await;
    let new_key = thumbprint(&rolled);
    assert_ne!(new_key, old_key, "a new key: {rolled}");
    assert!(rolled["key_rolled_at"].is_string(), "{rolled}");
    assert_eq!(
        rolled["account_url"], before["account_url"],
        "the same account"
    );
    assert_eq!(
        account(&api, id).await["key_thumbprint"],
        rolled["key_thumbprint"]
    );
    let text = rolled.to_string();
    assert!(
        !text.contains("key_pkcs8") && !text.contains("PRIVATE"),
        "{text}"
    );

    issue_with_key(&api, id, &new_key).await;
    // Twice in a row works as well (the current key is the one the CA holds).
    let again = thumbprint(&roll_over(&api, id).await);
    assert_ne!(again, new_key);
    issue_with_key(&api, id, &again).await;

    // A restart restores the newest key from the store.
    env.service.restart().await;
    let api = env.service.client();
    issue_with_key(&api, id, &again).await;

    let (status, missing) = api
        .post(
            "/v1/pki/acme/accounts/acme_000000000000000000000000/key-rollover",
            &json!({}),
        )
        .await;
    assert_eq!(status, 404, "{missing}");
    assert_eq!(missing["error"]["code"], "not_found");
    let (status, _) = api.delete(&format!("/v1/pki/acme/accounts/{id}")).await;
    assert_eq!(status, 200);
    let (status, refused) = api
        .post(
            &format!("/v1/pki/acme/accounts/{id}/key-rollover"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "conflict");
    assert!(
        refused["error"]["message"]
            .as_str()
            .expect("message")
            .contains("deactivated"),
        "{refused}"
    );
    let log = env.service.log_text();
    assert!(!log.contains("PRIVATE KEY") && !log.contains("key_pkcs8"));
}
on_both_backends!(rollover_then_new_orders_use_the_new_key);

/// How many requests of `endpoint` the service has made to CAs (its latency histogram).
async fn ca_requests(api: &ApiClient, endpoint: &str) -> u64 {
    let response = api.raw(reqwest::Method::GET, "/metrics", None).await;
    assert_eq!(response.status, 200);
    let prefix = "scaivault_acme_request_duration_seconds_count{";
    response
        .body
        .lines()
        .filter(|line| {
            line.starts_with(prefix) && line.contains(&format!("endpoint=\"{endpoint}\""))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// The contact goes to the CA and into the record; bad bodies, unknown and deactivated
/// accounts are refused with stable codes.
async fn contact_update_reaches_the_ca(db: Db) {
    // No bad nonces: a retried request would count twice at the CA.
    let env = start(
        db,
        PebbleOptions {
            nonce_reject_percent: Some(0),
            ..Default::default()
        },
    )
    .await;
    let api = env.service.client();
    let (status, registered) = api
        .post(
            "/v1/pki/acme/accounts",
            &custom_account("contact", &env.pebble),
        )
        .await;
    assert_eq!(status, 201, "{registered}");
    let id = registered["id"].as_str().expect("id").to_owned();
    let path = format!("/v1/pki/acme/accounts/{id}");

    let sent_before = ca_requests(&api, "account").await;
    let (status, updated) = api
        .post(&path, &json!({"email": " Ops@Acme.Example "}))
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        updated["email"], "ops@acme.example",
        "normalised as at registration"
    );
    assert_eq!(updated["key_thumbprint"], registered["key_thumbprint"]);
    assert_eq!(account(&api, &id).await["email"], "ops@acme.example");
    assert_eq!(
        ca_requests(&api, "account").await,
        sent_before + 1,
        "one contact update sent to the CA"
    );

    for (body, field) in [
        (json!({"email": "not an address"}), Some("email")),
        (json!({"email": ""}), Some("email")),
        (json!({"contact": ["mailto:ops@acme.example"]}), None),
        (json!({}), None),
    ] {
        let (status, refused) = api.post(&path, &body).await;
        assert_eq!(status, 400, "{body}: {refused}");
        assert_eq!(
            refused["error"]["code"], "invalid_request",
            "{body}: {refused}"
        );
        if let Some(field) = field {
            assert_eq!(refused["error"]["details"]["field"], field, "{refused}");
        }
    }
    assert_eq!(account(&api, &id).await["email"], "ops@acme.example");

    let (status, missing) = api
        .post(
            "/v1/pki/acme/accounts/acme_000000000000000000000000",
            &json!({"email": "ops@acme.example"}),
        )
        .await;
    assert_eq!(status, 404, "{missing}");
    assert_eq!(missing["error"]["code"], "not_found");

    let (status, _) = api.delete(&path).await;
    assert_eq!(status, 200);
    let (status, refused) = api
        .post(&path, &json!({"email": "late@acme.example"}))
        .await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "conflict");
    assert_eq!(account(&api, &id).await["email"], "ops@acme.example");

    let reader = {
        let (status, token) = api
            .post(
                "/v1/auth/tokens",
                &json!({"name": "reader", "scopes": ["pki:read"]}),
            )
            .await;
        assert_eq!(status, 201, "{token}");
        api.with_token(token["token"].as_str().expect("token value"))
    };
    for path in [path.clone(), format!("{path}/key-rollover")] {
        let (status, refused) = reader
            .post(&path, &json!({"email": "ops@acme.example"}))
            .await;
        assert_eq!(status, 403, "{path}: {refused}");
        assert_eq!(refused["error"]["details"]["required_scope"], "pki:write");
    }
}
on_both_backends!(contact_update_reaches_the_ca);

/// Waits until the service process has exited (a fault made it exit), then lets the harness
/// forget it so that `restart` starts it afresh.
async fn until_exited(service: &mut Service) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while service.is_running() {
        assert!(Instant::now() < deadline, "the service exits");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    service.kill9();
}

/// The process dies right after the CA accepted the new key, before the store made it current:
/// at the account's next use the service asks the CA, finds the pending key is the one it
/// holds, and makes it current — the next order is validated against it.
async fn crash_after_the_ca_took_the_new_key(db: Db) {
    let mut env = issuing(
        db,
        PebbleOptions::default(),
        &[("SV_TEST_CRASH_AT_KEY_CHANGE", "after_ca")],
    )
    .await;
    let id = env.account_id.clone();
    let old_key = thumbprint(&account(&env.service.client(), &id).await);
    let crashed = env
        .service
        .client()
        .try_raw(
            reqwest::Method::POST,
            &format!("/v1/pki/acme/accounts/{id}/key-rollover"),
            Some(&json!({})),
        )
        .await;
    assert!(
        crashed.is_err(),
        "the service exits mid-request: {crashed:?}"
    );
    until_exited(&mut env.service).await;
    env.service.restart().await;
    let api = env.service.client();
    assert_eq!(
        thumbprint(&account(&api, &id).await),
        old_key,
        "not promoted before the account is used again"
    );

    // The order is placed by the account's actor, which restores the account first: the CA
    // holds the pending key, so that key signs the order and its key authorizations.
    let (status, placed) = api
        .post(
            "/v1/pki/acme/issue",
            &json!({"account_id": id, "domains": domains(1), "challenge_type": "http-01"}),
        )
        .await;
    assert_eq!(status, 202, "{placed}");
    let after = account(&api, &id).await;
    let new_key = thumbprint(&after);
    assert_ne!(new_key, old_key, "the pending key became current: {after}");
    assert!(after["key_rolled_at"].is_string(), "{after}");
    let challenge = &placed["challenges"][0];
    assert!(
        challenge["key_authorization"]
            .as_str()
            .expect("key authorization")
            .ends_with(&format!(".{new_key}")),
        "{placed}"
    );
    let done = wait_final(&api, placed["order_id"].as_str().expect("id"), ISSUE_WITHIN).await;
    assert_eq!(done["status"], "valid", "{done}");
    assert!(
        env.service
            .log_text()
            .contains("an interrupted key rollover had reached the CA"),
        "the recovery is logged"
    );
}
on_both_backends!(crash_after_the_ca_took_the_new_key);

/// The process dies after storing the pending key, before asking the CA: at the next use the
/// CA does not know the pending key, which is dropped; the old key goes on working.
#[tokio::test]
async fn crash_before_the_ca_was_asked() {
    let mut env = issuing(
        Db::Sqlite,
        PebbleOptions::default(),
        &[("SV_TEST_CRASH_AT_KEY_CHANGE", "before_ca")],
    )
    .await;
    let id = env.account_id.clone();
    let old_key = thumbprint(&account(&env.service.client(), &id).await);
    let crashed = env
        .service
        .client()
        .try_raw(
            reqwest::Method::POST,
            &format!("/v1/pki/acme/accounts/{id}/key-rollover"),
            Some(&json!({})),
        )
        .await;
    assert!(
        crashed.is_err(),
        "the service exits mid-request: {crashed:?}"
    );
    until_exited(&mut env.service).await;
    env.service.restart().await;
    let api = env.service.client();
    issue_with_key(&api, &id, &old_key).await;
    let after = account(&api, &id).await;
    assert_eq!(thumbprint(&after), old_key);
    assert!(after["key_rolled_at"].is_null(), "{after}");
    assert!(
        env.service
            .log_text()
            .contains("an interrupted key rollover never reached the CA"),
        "the recovery is logged"
    );
}

/// BIND for `example.test` with a second nameserver that serves a challenge's TXT value only
/// once the test writes it there, which holds a dns-01 order in flight (the service waits for
/// every authoritative nameserver before answering the challenge).
struct Held {
    service: Service,
    bind: Bind,
    ns2: Bind,
    pebble: Pebble,
    _pg: Option<scaivault_testkit::PgDatabase>,
}

async fn held(db: Db) -> Held {
    let (first_ip, second_ip) = (lock_loopback_ip(), lock_loopback_ip());
    let zone = BindOptions::zones(["example.test"])
        .record("example.test", "@ IN NS ns2.example.test.")
        .record("example.test", &format!("ns2 IN A {}", second_ip.ip()));
    let bind = Bind::start_on(first_ip, zone.clone()).await;
    let ns2 = Bind::start_on(second_ip, zone).await;
    let pebble = Pebble::start(PebbleOptions {
        dns_server: Some(bind.addr()),
        ..Default::default()
    })
    .await;
    let (opts, pg) = common::options(db);
    let service = Service::start(
        opts.extra_root(pebble.listener_root_pem_path())
            .set("dns", "resolvers", format!("[\"{}\"]", bind.addr()))
            .set_str("dns", "propagation_interval", "100ms")
            .set_str("dns", "propagation_timeout", "60s"),
    )
    .await;
    Held {
        service,
        bind,
        ns2,
        pebble,
        _pg: pg,
    }
}

/// Writes TXT `values` for `name` on the second nameserver (`nsupdate`).
async fn release(ns2: &Bind, name: &str, values: &[String]) {
    let mut script = format!("server {} 53\n", ns2.ip());
    for value in values {
        script.push_str(&format!("update add {name}. 60 TXT \"{value}\"\n"));
    }
    script.push_str("send\n");
    let mut child = tokio::process::Command::new("nsupdate")
        .arg("-y")
        .arg(ns2.nsupdate_key_arg())
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("nsupdate runs (bind9-dnsutils)");
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(script.as_bytes()).await.expect("script");
    }
    assert!(
        child.wait().await.expect("nsupdate").success(),
        "nsupdate: {script}"
    );
}

/// The dns-01 TXT value of a key authorization (RFC 8555 §8.4).
fn txt_value(key_authorization: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(key_authorization.as_bytes()))
}

/// An order is in flight (its actor, holding the old key, waits for the second nameserver)
/// when the key is rolled over. Its next request to the CA, signed with the old key, is
/// refused; the order then drives again with the new key and finishes valid.
async fn order_in_flight_finishes_after_rollover(db: Db) {
    let env = held(db).await;
    let api = env.service.client();
    let (status, registered) = api
        .post(
            "/v1/pki/acme/accounts",
            &custom_account("in-flight", &env.pebble),
        )
        .await;
    assert_eq!(status, 201, "{registered}");
    let id = registered["id"].as_str().expect("id").to_owned();
    let old_key = thumbprint(&registered);
    let provider = bind_provider(&api, &env.bind, env.bind.tsig_secret_b64()).await;
    let domain = domains(1).remove(0);
    let (status, placed) = api
        .post(
            "/v1/pki/acme/issue",
            &json!({"account_id": id, "domains": [domain], "challenge_type": "dns-01",
                    "dns_provider_id": provider["id"]}),
        )
        .await;
    assert_eq!(status, 202, "{placed}");
    let order_id = placed["order_id"].as_str().expect("order id").to_owned();
    let token = placed["challenges"][0]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let name = format!("_acme-challenge.{domain}");

    // The order's actor has answered with the old key once its TXT is on the first server.
    let deadline = Instant::now() + Duration::from_secs(30);
    while env.bind.txt(&name).await.is_empty() {
        assert!(Instant::now() < deadline, "the TXT record is published");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let new_key = thumbprint(&roll_over(&api, &id).await);
    assert_ne!(new_key, old_key);
    // Both values, so the held run with the old key gets past its propagation check and
    // makes its (refused) request to the CA.
    release(
        &env.ns2,
        &name,
        &[
            txt_value(&format!("{token}.{old_key}")),
            txt_value(&format!("{token}.{new_key}")),
        ],
    )
    .await;
    let done = wait_final(&api, &order_id, ISSUE_WITHIN).await;
    assert_eq!(done["status"], "valid", "{done}");
    assert!(
        env.service
            .log_text()
            .contains("the account key changed during the order's run"),
        "the order drove again with the new key:\n{}",
        env.service.log_tail()
    );
}
on_both_backends!(order_in_flight_finishes_after_rollover);
