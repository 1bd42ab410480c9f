//! The `rfc2136` provider against a real BIND (RFC 2136 UPDATE signed with RFC 8945 TSIG), each
//! test on its own 127.0.0.N:53 through the harness.

use std::collections::BTreeMap;

use scaivault_dns::{DnsError, DnsProvider, ResolvedConfig, Rfc2136};
use scaivault_testkit::{Bind, BindOptions, lock_loopback_ip};

fn config(pairs: &[(&str, &str)]) -> ResolvedConfig {
    ResolvedConfig::new(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// A provider for `bind` with its key; `zone` as configured (None: found by SOA queries).
fn provider(bind: &Bind, zone: Option<&str>) -> Rfc2136 {
    provider_with_secret(bind, zone, bind.tsig_secret_b64())
}

fn provider_with_secret(bind: &Bind, zone: Option<&str>, secret: &str) -> Rfc2136 {
    let addr = bind.addr();
    let mut pairs = vec![
        ("nameserver", addr.as_str()),
        ("tsig_key_name", bind.tsig_key_name()),
        ("tsig_algorithm", bind.tsig_algorithm()),
        ("tsig_secret", secret),
    ];
    if let Some(zone) = zone {
        pairs.push(("zone", zone));
    }
    Rfc2136::new(&config(&pairs)).expect("valid rfc2136 config")
}

#[tokio::test]
async fn adds_and_removes_one_txt_value_with_the_tsig_key() {
    let bind = Bind::start(BindOptions::zones(["example.test"])).await;
    let dns = provider(&bind, None);
    let name = "_acme-challenge.www.example.test";

    dns.present(name, "token-1").await.expect("add");
    assert_eq!(bind.txt(name).await, ["token-1"]);
    // Adding the same value again is a no-op (RFC 2136 §3.4.2.2), not a second record.
    dns.present(name, "token-1").await.expect("add again");
    assert_eq!(bind.txt(name).await, ["token-1"]);

    dns.clean_up(name, "token-1").await.expect("remove");
    assert!(bind.txt(name).await.is_empty());
    // Removing a value that is not there succeeds.
    dns.clean_up(name, "token-1").await.expect("remove again");
}

#[tokio::test]
async fn apex_and_wildcard_share_the_name_and_keep_each_others_value() {
    let bind = Bind::start(BindOptions::zones(["example.test"])).await;
    let dns = provider(&bind, Some("example.test"));
    // `example.test` and `*.example.test` both validate at `_acme-challenge.example.test`.
    let name = "_acme-challenge.example.test";

    dns.present(name, "apex-value").await.expect("add apex");
    dns.present(name, "wildcard-value")
        .await
        .expect("add wildcard");
    let mut both = bind.txt(name).await;
    both.sort();
    assert_eq!(both, ["apex-value", "wildcard-value"]);

    dns.clean_up(name, "apex-value").await.expect("remove apex");
    assert_eq!(bind.txt(name).await, ["wildcard-value"]);
    dns.clean_up(name, "wildcard-value")
        .await
        .expect("remove wildcard");
    assert!(bind.txt(name).await.is_empty());
}

#[tokio::test]
async fn zone_is_found_among_several_zones_of_the_nameserver() {
    let bind = Bind::start(BindOptions::zones(["example.test", "sub.example.test"])).await;
    let dns = provider(&bind, None);
    // The deeper zone wins: the SOA walk stops at the first zone above the name. Had the
    // UPDATE gone to example.test, BIND would answer this name from sub.example.test: NXDOMAIN.
    let name = "_acme-challenge.deep.sub.example.test";
    dns.present(name, "v")
        .await
        .expect("add into sub.example.test");
    assert_eq!(bind.txt(name).await, ["v"]);
    dns.clean_up(name, "v").await.expect("remove");
    assert!(bind.txt(name).await.is_empty());
}

#[tokio::test]
async fn hmac_sha512_and_hmac_sha1_keys_work() {
    for algorithm in ["hmac-sha512", "hmac-sha1"] {
        let bind = Bind::start(BindOptions {
            tsig_algorithm: algorithm.to_owned(),
            ..BindOptions::zones(["example.test"])
        })
        .await;
        let dns = provider(&bind, None);
        let name = "_acme-challenge.example.test";
        dns.present(name, algorithm)
            .await
            .unwrap_or_else(|e| panic!("{algorithm}: {e}"));
        assert_eq!(bind.txt(name).await, [algorithm]);
        dns.clean_up(name, algorithm)
            .await
            .unwrap_or_else(|e| panic!("{algorithm}: {e}"));
        assert!(bind.txt(name).await.is_empty());
    }
}

#[tokio::test]
async fn wrong_tsig_secret_is_an_auth_error_and_writes_nothing() {
    let bind = Bind::start(BindOptions::zones(["example.test"])).await;
    // Same key name and algorithm, another 32-byte secret.
    let wrong = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    assert_ne!(wrong, bind.tsig_secret_b64());
    let name = "_acme-challenge.example.test";
    for zone in [Some("example.test"), None] {
        let dns = provider_with_secret(&bind, zone, wrong);
        let err = dns.present(name, "forged").await.unwrap_err();
        match &err {
            DnsError::Auth(message) => {
                assert!(message.contains(bind.tsig_key_name()), "{message}");
            }
            other => panic!("expected DnsError::Auth, got {other:?}"),
        }
        assert!(!err.is_transient());
        assert!(bind.txt(name).await.is_empty());
        let err = dns.clean_up(name, "forged").await.unwrap_err();
        assert!(matches!(err, DnsError::Auth(_)), "{err:?}");
    }
}

#[tokio::test]
async fn unknown_tsig_key_is_an_auth_error() {
    let bind = Bind::start(BindOptions::zones(["example.test"])).await;
    let addr = bind.addr();
    let dns = Rfc2136::new(&config(&[
        ("nameserver", addr.as_str()),
        ("tsig_key_name", "no-such-key"),
        ("tsig_secret", bind.tsig_secret_b64()),
        ("zone", "example.test"),
    ]))
    .unwrap();
    let err = dns
        .present("_acme-challenge.example.test", "x")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DnsError::Auth(m) if m.contains("no-such-key")),
        "{err:?}"
    );
}

#[tokio::test]
async fn name_outside_the_servers_zones_is_rejected() {
    let bind = Bind::start(BindOptions::zones(["example.test"])).await;
    let dns = provider(&bind, None);
    let err = dns
        .present("_acme-challenge.elsewhere.test", "x")
        .await
        .unwrap_err();
    assert!(matches!(err, DnsError::Rejected(_)), "{err:?}");

    let dns = provider(&bind, Some("example.test"));
    let err = dns
        .present("_acme-challenge.elsewhere.test", "x")
        .await
        .unwrap_err();
    assert!(matches!(err, DnsError::Rejected(_)), "{err:?}");
}

#[tokio::test]
async fn nameserver_down_is_a_transport_error() {
    // A locked loopback address with nothing listening on port 53.
    let idle = lock_loopback_ip();
    let nameserver = format!("{}:53", idle.ip());
    for zone in [Some("example.test"), None] {
        let mut pairs = vec![
            ("nameserver", nameserver.as_str()),
            ("tsig_key_name", "scaivault-test-key"),
            (
                "tsig_secret",
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            ),
        ];
        if let Some(zone) = zone {
            pairs.push(("zone", zone));
        }
        let dns = Rfc2136::new(&config(&pairs)).unwrap();
        let err = dns
            .present("_acme-challenge.example.test", "x")
            .await
            .unwrap_err();
        match &err {
            DnsError::Transport(message) => assert!(message.contains(&nameserver), "{message}"),
            other => panic!("expected DnsError::Transport, got {other:?}"),
        }
        assert!(err.is_transient());
    }
}
