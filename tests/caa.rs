//! The CAA pre-check (RFC 8659, RFC 8657) end to end: CAA records in a real BIND, the service
//! looking them up through it (`[dns] resolvers`), and Pebble behind an [`AcmeFront`] that
//! gives its directory the `meta.caaIdentities` Pebble 2.4 lacks (`pebble.test`), so the
//! service knows which records name this CA. Orders CAA forbids are refused with 400
//! `caa_forbidden` before anything reaches the CA; the records `GET .../caa` recommends, once
//! published, let exactly that account issue.
//!
//! BIND serves `test` as well as `example.test`, so the climb from a name to its top-level
//! domain gets an answer at every level, as from a recursive resolver.

#[macro_use]
mod common;

use std::net::Ipv4Addr;
use std::time::Duration;

use common::{Db, options, wait_final};
use scaivault_testkit::{
    AcmeFront, AcmeFrontOptions, ApiClient, Bind, BindOptions, Pebble, PebbleOptions, Service,
    lock_loopback_ip,
};
use serde_json::{Value, json};

/// The name CAA records know Pebble by here: the front's `meta.caaIdentities`.
const PEBBLE_CAA: &str = "pebble.test";
const ORDER_TIMEOUT: Duration = Duration::from_secs(60);

/// Pebble resolving through the BIND at `bind_ip`, the front naming it `pebble.test`, the
/// service using that BIND as resolver, and an account registered through the front.
struct Peers {
    service: Service,
    front: AcmeFront,
    _pebble: Pebble,
    account_id: String,
    account_url: String,
}

async fn peers(bind_ip: Ipv4Addr) -> Peers {
    peers_with(bind_ip, true).await
}

/// [`peers`] with `[acme] caa_precheck` set to `precheck`.
async fn peers_with(bind_ip: Ipv4Addr, precheck: bool) -> Peers {
    let pebble = Pebble::start(PebbleOptions {
        dns_server: Some(format!("{bind_ip}:53")),
        nonce_reject_percent: Some(0),
        ..Default::default()
    })
    .await;
    let front = AcmeFront::start(
        &pebble,
        AcmeFrontOptions {
            caa_identities: vec![PEBBLE_CAA.to_owned()],
            ..Default::default()
        },
    )
    .await;
    let (opts, _) = options(Db::Sqlite);
    let service = Service::start(
        opts.extra_root(pebble.listener_root_pem_path())
            .set("dns", "resolvers", format!("[\"{bind_ip}:53\"]"))
            .set_str("dns", "propagation_interval", "100ms")
            .set_str("dns", "propagation_timeout", "20s")
            .set("acme", "caa_precheck", precheck.to_string()),
    )
    .await;
    let (account_id, account_url) = register(&service.client(), "caa", &front).await;
    Peers {
        service,
        front,
        _pebble: pebble,
        account_id,
        account_url,
    }
}

/// Registers an account at the front; its id and its URL at the CA.
async fn register(api: &ApiClient, name: &str, front: &AcmeFront) -> (String, String) {
    let (status, account) = api
        .post(
            "/v1/pki/acme/accounts",
            &json!({
                "name": name,
                "provider": "custom",
                "environment": "staging",
                "email": "certs@acme.example",
                "directory_url": front.directory_url(),
            }),
        )
        .await;
    assert_eq!(status, 201, "{account}");
    (
        account["id"].as_str().expect("id").to_owned(),
        account["account_url"]
            .as_str()
            .expect("account_url")
            .to_owned(),
    )
}

/// BIND serving `test` and `example.test`, with `records` in `example.test`.
fn zones(records: &[String]) -> BindOptions {
    let mut opts = BindOptions::zones(["test", "example.test"]);
    for line in records {
        opts = opts.record("example.test", line);
    }
    opts
}

/// A dns-01 order through `provider_id`: the status and body of the answer.
async fn order(
    api: &ApiClient,
    account_id: &str,
    provider_id: &str,
    domains: &[&str],
) -> (u16, Value) {
    api.post(
        "/v1/pki/acme/issue",
        &json!({
            "account_id": account_id,
            "domains": domains,
            "challenge_type": "dns-01",
            "dns_provider_id": provider_id,
        }),
    )
    .await
}

/// Asserts a `caa_forbidden` refusal naming `domain`, `record` (a zone-file line) and `why`.
fn assert_forbidden(answer: &(u16, Value), domain: &str, record: &str, why: &str) {
    let (status, body) = answer;
    assert_eq!(*status, 400, "{body}");
    assert_eq!(body["error"]["code"], "caa_forbidden", "{body}");
    let message = body["error"]["message"].as_str().expect("message");
    for part in [domain, record, why] {
        assert!(message.contains(part), "{part:?} not in {message}");
    }
    let denials = body["error"]["details"]["denials"]
        .as_array()
        .expect("denials");
    assert_eq!(denials.len(), 1, "{body}");
    assert_eq!(denials[0]["domain"], domain, "{body}");
    assert_eq!(denials[0]["records"][0]["record"], record, "{body}");
}

/// Records naming another CA, nobody, another account, another validation method, an unknown
/// critical property, forbidding wildcards, or reached through a CNAME or from a parent refuse
/// the order with the record named, and no order reaches the CA; names without a CAA record
/// anywhere, or with one naming this CA, are issued.
#[tokio::test]
async fn records_that_forbid_this_ca_refuse_the_order_before_the_ca() {
    let loopback = lock_loopback_ip();
    let peers = peers(loopback.ip()).await;
    let records: Vec<String> = [
        r#"other-ca CAA 0 issue "letsencrypt.org""#.to_owned(),
        r#"nobody CAA 0 issue ";""#.to_owned(),
        r#"wrong-account CAA 0 issue "pebble.test; accounturi=https://127.0.0.1/acct/999""#
            .to_owned(),
        r#"http-only CAA 0 issue "pebble.test; validationmethods=http-01""#.to_owned(),
        r#"critical CAA 0 issue "pebble.test""#.to_owned(),
        r#"critical CAA 128 tbs "unknown""#.to_owned(),
        r#"wild CAA 0 issue "pebble.test""#.to_owned(),
        r#"wild CAA 0 issuewild ";""#.to_owned(),
        "alias CNAME other-ca.example.test.".to_owned(),
        format!(
            r#"open CAA 0 issue "{PEBBLE_CAA}; accounturi={}""#,
            peers.account_url
        ),
    ]
    .into();
    let bind = Bind::start_on(loopback, zones(&records)).await;
    let api = peers.service.client();
    let provider = common::bind_provider(&api, &bind, bind.tsig_secret_b64()).await;
    let provider_id = provider["id"].as_str().expect("id");
    let refuse = |domains: &'static [&'static str]| {
        let api = api.clone();
        let (account_id, provider_id) = (peers.account_id.clone(), provider_id.to_owned());
        async move { order(&api, &account_id, &provider_id, domains).await }
    };

    // Found at a parent (the climb), naming another CA.
    assert_forbidden(
        &refuse(&["sub.other-ca.example.test"]).await,
        "sub.other-ca.example.test",
        r#"other-ca.example.test. CAA 0 issue "letsencrypt.org""#,
        "names letsencrypt.org, not this CA (pebble.test)",
    );
    assert_forbidden(
        &refuse(&["nobody.example.test"]).await,
        "nobody.example.test",
        r#"nobody.example.test. CAA 0 issue ";""#,
        "names no issuer",
    );
    assert_forbidden(
        &refuse(&["wrong-account.example.test"]).await,
        "wrong-account.example.test",
        r#"wrong-account.example.test. CAA 0 issue "pebble.test; accounturi=https://127.0.0.1/acct/999""#,
        &format!(
            "allows only the ACME account https://127.0.0.1/acct/999, not this one ({})",
            peers.account_url
        ),
    );
    assert_forbidden(
        &refuse(&["http-only.example.test"]).await,
        "http-only.example.test",
        r#"http-only.example.test. CAA 0 issue "pebble.test; validationmethods=http-01""#,
        "allows only the validation methods http-01, not dns-01",
    );
    assert_forbidden(
        &refuse(&["critical.example.test"]).await,
        "critical.example.test",
        r#"critical.example.test. CAA 128 tbs "unknown""#,
        "flagged critical",
    );
    assert_forbidden(
        &refuse(&["*.wild.example.test"]).await,
        "*.wild.example.test",
        r#"wild.example.test. CAA 0 issuewild ";""#,
        "names no issuer",
    );
    // Through a CNAME: the alias and where its records are.
    assert_forbidden(
        &refuse(&["alias.example.test"]).await,
        "alias.example.test",
        r#"other-ca.example.test. CAA 0 issue "letsencrypt.org""#,
        "alias.example.test (CNAME to other-ca.example.test)",
    );
    // One forbidden name refuses the whole order, and only that name is named.
    assert_forbidden(
        &refuse(&["open.example.test", "nobody.example.test"]).await,
        "nobody.example.test",
        r#"nobody.example.test. CAA 0 issue ";""#,
        "names no issuer",
    );
    assert!(
        peers.front.new_order_payloads().is_empty(),
        "no refused order reached the CA: {:?}",
        peers.front.new_order_payloads()
    );

    // Permitted: a record naming this CA and account, `issue` for a name whose wildcard is
    // forbidden, and a name with no CAA record at any level (example.test and test have none).
    let (status, placed) = order(
        &api,
        &peers.account_id,
        provider_id,
        &[
            "open.example.test",
            "wild.example.test",
            "free.example.test",
        ],
    )
    .await;
    assert_eq!(status, 202, "{placed}");
    let done = wait_final(
        &api,
        placed["order_id"].as_str().expect("id"),
        ORDER_TIMEOUT,
    )
    .await;
    assert_eq!(done["status"], "valid", "{done}");
    assert_eq!(peers.front.new_order_payloads().len(), 1);
}

/// `GET .../caa` recommends records pinning issuance to the account; published in BIND, they
/// let that account issue (the name, its wildcard, a subdomain) and refuse another account of
/// the same CA. Before BIND runs, the lookup fails, which the answer says, with no verdict.
#[tokio::test]
async fn recommended_records_pin_issuance_to_the_account() {
    let loopback = lock_loopback_ip();
    let peers = peers(loopback.ip()).await;
    let api = peers.service.client();
    let path = format!(
        "/v1/pki/acme/accounts/{}/caa?domain=pin.example.test",
        peers.account_id
    );

    let (status, before) = api.get(&path).await;
    assert_eq!(status, 200, "{before}");
    assert_eq!(before["published"]["lookup"], "failed", "{before}");
    assert_eq!(before["may_issue"], Value::Null, "{before}");
    assert_eq!(before["ca_identities"], json!([PEBBLE_CAA]), "{before}");
    assert_eq!(before["account_url"], peers.account_url.as_str());
    let recommended: Vec<String> = before["recommended"]
        .as_array()
        .expect("recommended")
        .iter()
        .map(|l| l.as_str().expect("line").to_owned())
        .collect();
    assert_eq!(
        recommended,
        vec![
            format!(
                "pin.example.test. CAA 0 issue \"{PEBBLE_CAA}; accounturi={}; validationmethods=http-01,dns-01\"",
                peers.account_url
            ),
            format!(
                "pin.example.test. CAA 0 issuewild \"{PEBBLE_CAA}; accounturi={}; validationmethods=dns-01\"",
                peers.account_url
            ),
        ]
    );

    let bind = Bind::start_on(loopback, zones(&recommended)).await;
    let (status, after) = api.get(&path).await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["published"]["lookup"], "found", "{after}");
    // In whatever order BIND rotates them.
    let mut published: Vec<String> =
        serde_json::from_value(after["published"]["records"].clone()).expect("records");
    published.sort();
    assert_eq!(published, recommended, "{after}");
    assert_eq!(after["may_issue"], true, "{after}");
    let checks = after["checks"].as_array().expect("checks");
    assert_eq!(checks.len(), 2, "{after}");
    assert!(checks.iter().all(|c| c["status"] == "permitted"), "{after}");
    // A wildcard is checked for dns-01 only; an IP address has no CAA.
    let (_, wildcard) = api
        .get(&format!(
            "/v1/pki/acme/accounts/{}/caa?domain=*.pin.example.test",
            peers.account_id
        ))
        .await;
    assert_eq!(
        wildcard["checks"][0]["challenge_type"], "dns-01",
        "{wildcard}"
    );
    assert_eq!(wildcard["checks"][0]["status"], "permitted", "{wildcard}");
    let (status, ip) = api
        .get(&format!(
            "/v1/pki/acme/accounts/{}/caa?domain=192.0.2.1",
            peers.account_id
        ))
        .await;
    assert_eq!(status, 400, "{ip}");
    assert_eq!(ip["error"]["code"], "invalid_request", "{ip}");
    assert_eq!(ip["error"]["details"]["field"], "domain", "{ip}");

    let provider = common::bind_provider(&api, &bind, bind.tsig_secret_b64()).await;
    let provider_id = provider["id"].as_str().expect("id");
    let (status, placed) = order(
        &api,
        &peers.account_id,
        provider_id,
        &[
            "pin.example.test",
            "*.pin.example.test",
            "sub.pin.example.test",
        ],
    )
    .await;
    assert_eq!(status, 202, "{placed}");
    let done = wait_final(
        &api,
        placed["order_id"].as_str().expect("id"),
        ORDER_TIMEOUT,
    )
    .await;
    assert_eq!(done["status"], "valid", "{done}");

    // Another account at the same CA is not the one pinned.
    let (other_id, other_url) = register(&api, "caa-other", &peers.front).await;
    let answer = order(&api, &other_id, provider_id, &["pin.example.test"]).await;
    assert_forbidden(
        &answer,
        "pin.example.test",
        &recommended[0],
        &format!(
            "allows only the ACME account {}, not this one ({other_url})",
            peers.account_url
        ),
    );
    let (_, other) = api
        .get(&format!(
            "/v1/pki/acme/accounts/{other_id}/caa?domain=pin.example.test"
        ))
        .await;
    assert_eq!(other["may_issue"], false, "{other}");
}

/// A CAA lookup that fails (no resolver answers) does not refuse: the order goes to the CA,
/// which checks CAA itself, and the service logs why it could not.
#[tokio::test]
async fn a_failed_lookup_leaves_the_decision_to_the_ca() {
    let silent = scaivault_testkit::free_port(Ipv4Addr::LOCALHOST.into());
    let env = common::issuing_with(Db::Sqlite, PebbleOptions::default(), |opts, _| {
        opts.set("dns", "resolvers", format!("[\"127.0.0.1:{silent}\"]"))
    })
    .await;
    let api = env.service.client();
    let (status, placed) = api
        .post(
            "/v1/pki/acme/issue",
            &json!({
                "account_id": env.account_id,
                "domains": common::domains(1),
                "challenge_type": "http-01",
            }),
        )
        .await;
    assert_eq!(status, 202, "{placed}");
    let done = wait_final(
        &api,
        placed["order_id"].as_str().expect("id"),
        ORDER_TIMEOUT,
    )
    .await;
    assert_eq!(done["status"], "valid", "{done}");
    assert!(
        env.service.log_text().contains("CAA lookup failed"),
        "the failed lookup is logged"
    );
}

/// `[acme] caa_precheck = false`: orders go to the CA whatever CAA says (Pebble does not check
/// CAA, so this one is even issued).
#[tokio::test]
async fn the_precheck_can_be_switched_off() {
    let loopback = lock_loopback_ip();
    let peers = peers_with(loopback.ip(), false).await;
    let records = [r#"other-ca CAA 0 issue "letsencrypt.org""#.to_owned()];
    let bind = Bind::start_on(loopback, zones(&records)).await;
    let api = peers.service.client();
    let provider = common::bind_provider(&api, &bind, bind.tsig_secret_b64()).await;
    let provider_id = provider["id"].as_str().expect("id");
    let (status, placed) = order(
        &api,
        &peers.account_id,
        provider_id,
        &["other-ca.example.test"],
    )
    .await;
    assert_eq!(status, 202, "{placed}");
    assert_eq!(peers.front.new_order_payloads().len(), 1);
    let done = wait_final(
        &api,
        placed["order_id"].as_str().expect("id"),
        ORDER_TIMEOUT,
    )
    .await;
    assert_eq!(done["status"], "valid", "{done}");
}
