//! dns-01 end to end: TXT records written through the `rfc2136` provider into a real BIND
//! (TSIG-signed UPDATEs), propagation awaited on its authoritative nameserver, validated by
//! Pebble's VA querying that BIND, and removed afterwards.

#[macro_use]
mod common;

use std::time::Duration;

use common::{Db, options, wait_final};
use scaivault_contract::{ErrorCode, TestDnsProvider};
use scaivault_testkit::{Bind, BindOptions, Pebble, PebbleOptions, Service, lock_loopback_ip};
use serde_json::{Value, json};

const ORDER_TIMEOUT: Duration = Duration::from_secs(60);

struct DnsEnv {
    service: Service,
    bind: Bind,
    _pebble: Pebble,
    _pg: Option<scaivault_testkit::PgDatabase>,
    account_id: String,
    provider_id: String,
}

/// The two zones every test's BIND serves.
fn zones() -> BindOptions {
    BindOptions::zones(["example.test", "delegated.test"])
}

fn tag() -> String {
    use rand::Rng;
    format!("t{:x}", rand::rng().random::<u64>())
}

/// BIND serving `example.test` and `delegated.test`, Pebble resolving through it, the service
/// using it as resolver, an account, the TSIG secret stored, and an rfc2136 provider.
async fn dns_env(db: Db, bind: BindOptions, tsig_secret: Option<&str>) -> DnsEnv {
    dns_env_with(db, bind, tsig_secret, "8").await
}

/// [`dns_env`] with `[dns] max_concurrent_requests` set to `provider_slots`.
async fn dns_env_with(
    db: Db,
    bind: BindOptions,
    tsig_secret: Option<&str>,
    provider_slots: &str,
) -> DnsEnv {
    let bind = Bind::start(bind).await;
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
            .set_str("dns", "propagation_timeout", "20s")
            .set("dns", "max_concurrent_requests", provider_slots),
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
    let secret = tsig_secret.unwrap_or(bind.tsig_secret_b64()).to_owned();
    let provider = common::bind_provider(&api, &bind, &secret).await;
    assert!(
        !provider.to_string().contains(bind.tsig_secret_b64()),
        "no secret in the answer"
    );
    DnsEnv {
        account_id: account["id"].as_str().expect("id").to_owned(),
        provider_id: provider["id"].as_str().expect("id").to_owned(),
        service,
        bind,
        _pebble: pebble,
        _pg: pg,
    }
}

/// BIND serves no TXT record at `_acme-challenge.<name>` (none left behind, or none written).
async fn assert_no_txt(env: &DnsEnv, name: &str) {
    let left = env.bind.txt(&format!("_acme-challenge.{name}")).await;
    assert!(left.is_empty(), "TXT at _acme-challenge.{name}: {left:?}");
}

/// Waits until every TXT record the order wrote is removed (cleanup follows the final status).
async fn wait_cleaned(env: &DnsEnv, order_id: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, order) = env
            .service
            .client()
            .get(&format!("/v1/pki/acme/orders/{order_id}"))
            .await;
        let records = order["dns_records"].as_array().cloned().unwrap_or_default();
        if records.iter().all(|r| r["state"] == "removed") {
            return order;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "records not removed: {order}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn issue(env: &DnsEnv, domains: &[String]) -> Value {
    let (status, placed) = env
        .service
        .client()
        .post(
            "/v1/pki/acme/issue",
            &json!({
                "account_id": env.account_id,
                "domains": domains,
                "challenge_type": "dns-01",
                "dns_provider_id": env.provider_id,
            }),
        )
        .await;
    assert_eq!(status, 202, "{placed}");
    wait_final(
        &env.service.client(),
        placed["order_id"].as_str().expect("id"),
        ORDER_TIMEOUT,
    )
    .await
}

async fn wildcard_and_apex_share_one_name(db: Db) {
    let env = dns_env(db, zones(), None).await;
    let name = format!("{}.example.test", tag());
    let done = issue(&env, &[name.clone(), format!("*.{name}")]).await;
    assert_eq!(done["status"], "valid", "{done}");
    let done = wait_cleaned(&env, done["order_id"].as_str().expect("id")).await;
    let records = done["dns_records"].as_array().expect("dns records");
    assert_eq!(records.len(), 2, "{done}");
    for record in records {
        assert_eq!(record["fqdn"], format!("_acme-challenge.{name}"));
        assert_eq!(record["state"], "removed", "{record}");
    }
    assert_no_txt(&env, &name).await;

    let id = done["certificate_id"].as_str().expect("certificate");
    let (_, certificate) = env
        .service
        .client()
        .get(&format!("/v1/pki/certificates/{id}"))
        .await;
    let sans = certificate["versions"][0]["sans"]
        .as_array()
        .expect("sans")
        .clone();
    assert!(
        sans.contains(&json!(name)) && sans.contains(&json!(format!("*.{name}"))),
        "{sans:?}"
    );
    assert!(
        !env.service.log_text().contains(env.bind.tsig_secret_b64()),
        "the TSIG secret is never logged"
    );
}
on_both_backends!(wildcard_and_apex_share_one_name);

/// With one DNS provider slot (`[dns] max_concurrent_requests = 1`) a burst of dns-01 orders
/// takes turns at the provider and still completes: a slot covers one UPDATE, not the
/// propagation wait after it, so no order holds the others back (or deadlocks them). The bound
/// itself is measured in `actors/src/provider_slots.rs`.
#[tokio::test]
async fn one_provider_slot_serves_a_burst_of_orders() {
    let env = dns_env_with(Db::Sqlite, zones(), None, "1").await;
    let names: Vec<Vec<String>> = (0..6).map(|_| common::domains(2)).collect();
    let done = futures_util::future::join_all(names.iter().map(|n| issue(&env, n))).await;
    for (order, names) in done.iter().zip(&names) {
        assert_eq!(order["status"], "valid", "{order}");
        wait_cleaned(&env, order["order_id"].as_str().expect("id")).await;
        for name in names {
            assert_no_txt(&env, name).await;
        }
    }
    let log = env.service.log_text();
    assert_eq!(log.matches("dns-01 TXT record written").count(), 12);
    assert_eq!(log.matches("dns-01 TXT record removed").count(), 12);
}

#[tokio::test]
async fn cname_delegation_writes_where_the_name_points() {
    let host = tag();
    let mut bind = zones().record(
        "example.test",
        &format!("_acme-challenge.{host} 60 IN CNAME _acme-challenge.{host}.delegated.test."),
    );
    // Pebble's VA asks this BIND; like a CA's resolver it must chase the CNAME.
    bind.recursion = true;
    let env = dns_env(Db::Sqlite, bind, None).await;
    let name = format!("{host}.example.test");
    let done = issue(&env, std::slice::from_ref(&name)).await;
    assert_eq!(done["status"], "valid", "{done}");
    let done = wait_cleaned(&env, done["order_id"].as_str().expect("id")).await;
    assert_eq!(
        done["dns_records"][0]["fqdn"],
        format!("_acme-challenge.{host}.delegated.test")
    );
    assert_eq!(done["dns_records"][0]["state"], "removed");
    assert!(
        env.bind
            .txt(&format!("_acme-challenge.{host}.delegated.test"))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn wrong_tsig_secret_fails_the_order_and_leaves_nothing() {
    let wrong = "d3Jvbmcgc2VjcmV0IGZvciB0aGUgdGVzdCBydW4gb25seQ==";
    let env = dns_env(Db::Sqlite, zones(), Some(wrong)).await;
    let name = format!("{}.example.test", tag());
    let done = issue(&env, std::slice::from_ref(&name)).await;
    assert_eq!(done["status"], "invalid", "{done}");
    assert_eq!(done["error"]["code"], "dns_provider_error", "{done}");
    let message = done["error"]["message"].as_str().expect("message");
    assert!(message.contains(&name), "names the domain: {message}");
    assert!(
        message.contains(&env.provider_id),
        "names the provider: {message}"
    );
    assert_no_txt(&env, &name).await;
}

#[tokio::test]
async fn dns_provider_api() {
    let env = dns_env(Db::Sqlite, zones(), None).await;
    let api = env.service.client();
    let cases = [
        (json!({"name": "x", "type": "bind9", "config": {}}), "type"),
        (
            json!({"name": "x", "type": "cloudflare", "config": {}}),
            "config.api_token_path",
        ),
        (
            json!({"name": "x", "type": "hetzner", "config": {"api_token_path": "a/b", "colour": "red"}}),
            "config.colour",
        ),
        (
            json!({"name": "x", "type": "digitalocean", "config": {"api_token_path": 42}}),
            "config.api_token_path",
        ),
        (
            json!({"name": "x", "type": "aws_route53", "config": {"access_key_id_path": "a", "secret_access_key_path": "b"}}),
            "config.hosted_zone_id",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = api.post("/v1/pki/dns-providers", &body).await;
        assert_eq!(status, 400, "{body} -> {answer}");
        assert_eq!(answer["error"]["details"]["field"], field, "{answer}");
    }
    let (status, answer) = api
        .post(
            "/v1/pki/dns-providers",
            &json!({"name": "bind", "type": "cloudflare", "config": {"api_token_path": "a"}}),
        )
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (409, Some("conflict"))
    );
    let (status, list) = api.get("/v1/pki/dns-providers").await;
    assert_eq!(status, 200);
    assert_eq!(list["dns_providers"].as_array().expect("list").len(), 1);
    let (status, one) = api
        .get(&format!("/v1/pki/dns-providers/{}", env.provider_id))
        .await;
    assert_eq!(status, 200);
    assert_eq!(one["config"]["tsig_secret_path"], "dns/bind/tsig");

    let reader = {
        let (_, token) = api
            .post(
                "/v1/auth/tokens",
                &json!({"name": "r", "scopes": ["pki:read", "pki:write"]}),
            )
            .await;
        api.with_token(token["token"].as_str().expect("token"))
    };
    let (status, _) = reader.get("/v1/pki/dns-providers").await;
    assert_eq!(status, 403, "DNS providers need the admin scope");

    let (status, refused) = api
        .post("/v1/pki/acme/issue", &json!({"account_id": env.account_id, "domains": ["a.example.test"], "challenge_type": "dns-01", "dns_provider_id": "dnsp_missing"}))
        .await;
    assert_eq!(
        (status, refused["error"]["details"]["field"].as_str()),
        (400, Some("dns_provider_id"))
    );

    let (status, _) = api
        .delete(&format!("/v1/pki/dns-providers/{}", env.provider_id))
        .await;
    assert_eq!(status, 204);
    let (status, _) = api
        .delete(&format!("/v1/pki/dns-providers/{}", env.provider_id))
        .await;
    assert_eq!(status, 404);
}

/// dns-01 without `dns_provider_id`: the provider is picked by zone. The rfc2136 provider has no
/// zone configured and learns `example.test` from its nameserver's SOA; a provider whose
/// configured zone is shorter loses to it, one with the same zone makes a tie (400 naming
/// both), and a name no zone contains goes to the provider marked default (400 without one).
#[tokio::test]
async fn dns01_without_a_provider_picks_it_by_zone() {
    let env = dns_env(Db::Sqlite, zones(), None).await;
    let api = env.service.client();
    let decoy = |name: &str, zones: Value, default: bool| {
        json!({"name": name, "type": "cloudflare", "zones": zones, "default": default,
               "config": {"api_token_path": "dns/decoy/token"}})
    };
    let (status, broad) = api
        .post(
            "/v1/pki/dns-providers",
            &decoy("broad", json!(["TEST."]), false),
        )
        .await;
    assert_eq!(status, 201, "{broad}");
    assert_eq!(broad["zones"], json!(["test"]), "normalized");
    assert_eq!(broad["default"], false);

    let issue_without = |names: Vec<String>| {
        let api = api.clone();
        let account_id = env.account_id.clone();
        async move {
            api.post(
                "/v1/pki/acme/issue",
                &json!({"account_id": account_id, "domains": names, "challenge_type": "dns-01"}),
            )
            .await
        }
    };
    let name = format!("{}.example.test", tag());
    let (status, placed) = issue_without(vec![name.clone(), format!("*.{name}")]).await;
    assert_eq!(status, 202, "{placed}");
    assert_eq!(
        placed["dns_provider_id"],
        env.provider_id.as_str(),
        "{placed}"
    );
    let done = wait_final(
        &api,
        placed["order_id"].as_str().expect("id"),
        ORDER_TIMEOUT,
    )
    .await;
    assert_eq!(done["status"], "valid", "{done}");

    let (status, same) = api
        .post(
            "/v1/pki/dns-providers",
            &decoy("same", json!(["example.test"]), false),
        )
        .await;
    assert_eq!(status, 201, "{same}");
    let (status, tie) = issue_without(vec![format!("{}.example.test", tag())]).await;
    assert_eq!(status, 400, "{tie}");
    assert_eq!(tie["error"]["code"], "invalid_request");
    assert_eq!(tie["error"]["details"]["field"], "dns_provider_id");
    let message = tie["error"]["message"].as_str().expect("message");
    for id in [env.provider_id.as_str(), same["id"].as_str().expect("id")] {
        assert!(message.contains(id), "{id} not named: {message}");
    }

    let unserved = vec![format!("{}.unserved.example", tag())];
    let (status, none) = issue_without(unserved.clone()).await;
    assert_eq!(status, 400, "{none}");
    assert!(
        none["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("no DNS provider serves")),
        "{none}"
    );
    let (status, fallback) = api
        .post("/v1/pki/dns-providers", &decoy("fallback", json!([]), true))
        .await;
    assert_eq!(status, 201, "{fallback}");
    let (status, second) = api
        .post(
            "/v1/pki/dns-providers",
            &decoy("second-default", json!([]), true),
        )
        .await;
    assert_eq!(status, 409, "one default at most: {second}");
    let (status, placed) = issue_without(unserved).await;
    assert_eq!(status, 202, "{placed}");
    assert_eq!(placed["dns_provider_id"], fallback["id"], "{placed}");
}

fn probe(domain: &str) -> TestDnsProvider {
    TestDnsProvider {
        domain: domain.to_owned(),
    }
}

/// `POST /v1/pki/dns-providers/{id}/test` through BIND: the probe is written at
/// `_acme-challenge.<domain>` (a wildcard's base name for a wildcard), served by the zone's
/// nameserver, and gone again afterwards; bad names and unknown providers are refused.
async fn dns_provider_test_writes_waits_and_removes(db: Db) {
    let env = dns_env(db, zones(), None).await;
    let api = env.service.client();
    let name = format!("{}.example.test", tag());
    let tested = api
        .test_dns_provider(&env.provider_id, &probe(&name.to_uppercase()))
        .await
        .unwrap_or_else(|failure| panic!("{failure}\n{}", env.service.log_tail()));
    assert_eq!(tested.fqdn, format!("_acme-challenge.{name}"));
    assert!(tested.removed, "{tested:?}");
    assert_eq!(tested.removal_error, None);
    // Bounded by the configured timeout (20 s); BIND serves an update at once.
    assert!(tested.propagation_ms < 20_000, "{tested:?}");
    assert_no_txt(&env, &name).await;
    let log = env.service.log_text();
    assert!(
        log.contains("DNS provider test: probe TXT record written"),
        "{log}"
    );
    assert!(log.contains("DNS provider test: probe served"), "{log}");

    let wildcard = api
        .test_dns_provider(&env.provider_id, &probe(&format!("*.{name}")))
        .await
        .expect("a wildcard's record is its base name's");
    assert_eq!(wildcard.fqdn, format!("_acme-challenge.{name}"));
    assert!(wildcard.removed);
    assert_no_txt(&env, &name).await;

    for bad in ["", "a b.example.test", "192.0.2.1", "a.*.example.test"] {
        let failure = api
            .test_dns_provider(&env.provider_id, &probe(bad))
            .await
            .expect_err("not a domain name");
        assert_eq!(failure.status, 400, "{bad:?}: {failure}");
        assert_eq!(failure.error.error.code, ErrorCode::InvalidRequest);
        assert_eq!(
            failure
                .error
                .error
                .details
                .as_ref()
                .map(|d| d["field"].clone()),
            Some(json!("domain")),
            "{bad:?}: {failure}"
        );
    }
    let failure = api
        .test_dns_provider("dnsp_missing", &probe(&name))
        .await
        .expect_err("no such provider");
    assert_eq!(
        (failure.status, failure.error.error.code),
        (404, ErrorCode::NotFound)
    );
    let (status, _) = api
        .post(
            &format!("/v1/pki/dns-providers/{}/test", env.provider_id),
            &json!({"domain": name, "colour": "red"}),
        )
        .await;
    assert_eq!(status, 400, "unknown fields are refused");
}
on_both_backends!(dns_provider_test_writes_waits_and_removes);

/// A BIND that refuses the update (the provider's TSIG secret is not BIND's): 502
/// `backend_error` at the write, the credentials named as the failure, nothing written, and
/// no secret in the answer.
#[tokio::test]
async fn dns_provider_test_reports_a_refused_update() {
    let wrong = "d3Jvbmcgc2VjcmV0IGZvciB0aGUgdGVzdCBydW4gb25seQ==";
    let env = dns_env(Db::Sqlite, zones(), Some(wrong)).await;
    let name = format!("{}.example.test", tag());
    let failure = env
        .service
        .client()
        .test_dns_provider(&env.provider_id, &probe(&name))
        .await
        .expect_err("BIND refuses the update");
    assert_eq!(
        (failure.status, failure.error.error.code),
        (502, ErrorCode::BackendError),
        "{failure}"
    );
    let details = failure.error.error.details.clone().expect("details");
    assert_eq!(details["stage"], "present", "{details}");
    assert_eq!(details["failure"], "auth", "{details}");
    assert_eq!(details["fqdn"], format!("_acme-challenge.{name}"));
    assert!(
        details.get("removed").is_none(),
        "nothing was written: {details}"
    );
    let message = &failure.error.error.message;
    assert!(message.contains(&env.provider_id), "{message}");
    assert!(message.contains("refused the credentials"), "{message}");
    assert!(!message.contains(wrong), "{message}");
    assert_no_txt(&env, &name).await;
}

/// A zone whose second nameserver never gets the record (a secondary that misses the update):
/// the test waits `[dns] propagation_timeout`, answers 504 `dns_propagation_timeout` naming
/// that nameserver, and still removes the probe from the first.
#[tokio::test]
async fn dns_provider_test_times_out_when_a_nameserver_never_serves_it() {
    let first_ip = lock_loopback_ip();
    let second_ip = lock_loopback_ip();
    let zone = BindOptions::zones(["slow.test"])
        .record("slow.test", "@ IN NS ns2.slow.test.")
        .record("slow.test", &format!("ns2 IN A {}", second_ip.ip()));
    let first = Bind::start_on(first_ip, zone.clone()).await;
    let second = Bind::start_on(second_ip, zone).await;
    let (opts, _pg) = options(Db::Sqlite);
    let service = Service::start(
        opts.set("dns", "resolvers", format!("[\"{}\"]", first.addr()))
            .set_str("dns", "propagation_interval", "100ms")
            .set_str("dns", "propagation_timeout", "1500ms"),
    )
    .await;
    let api = service.client();
    let provider = common::bind_provider(&api, &first, first.tsig_secret_b64()).await;
    let provider_id = provider["id"].as_str().expect("id");

    let started = std::time::Instant::now();
    let failure = api
        .test_dns_provider(provider_id, &probe("www.slow.test"))
        .await
        .expect_err("ns2 never serves it");
    assert!(started.elapsed() >= Duration::from_millis(1500));
    assert_eq!(
        (failure.status, failure.error.error.code),
        (504, ErrorCode::DnsPropagationTimeout),
        "{failure}"
    );
    let details = failure.error.error.details.clone().expect("details");
    assert_eq!(details["stage"], "propagation", "{details}");
    assert_eq!(details["failure"], "not_propagated", "{details}");
    assert_eq!(details["fqdn"], "_acme-challenge.www.slow.test");
    assert_eq!(details["removed"], true, "{details}");
    let message = &failure.error.error.message;
    assert!(message.contains("ns2.slow.test"), "{message}");
    assert!(!message.contains("ns1.slow.test"), "{message}");
    assert!(first.txt("_acme-challenge.www.slow.test").await.is_empty());
    assert!(second.txt("_acme-challenge.www.slow.test").await.is_empty());
}
