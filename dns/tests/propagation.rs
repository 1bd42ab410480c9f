//! The dns-01 propagation check against real BIND instances, each on its own 127.0.0.N:53 (the
//! check asks authoritative nameservers on port 53, as a CA does). The BIND itself serves as the
//! "resolver": authoritative answers are all the SOA walk, NS and address look-ups need.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use scaivault_dns::{DnsError, DnsProvider, Propagation, ResolvedConfig, Rfc2136, Zone};
use scaivault_testkit::{Bind, BindOptions, lock_loopback_ip};

const INTERVAL: Duration = Duration::from_millis(100);

fn resolver(bind: &Bind) -> SocketAddr {
    bind.addr().parse().expect("IP:53")
}

fn checker(bind: &Bind, timeout: Duration) -> Propagation {
    Propagation::new(vec![resolver(bind)], timeout, INTERVAL)
}

fn provider(bind: &Bind) -> Rfc2136 {
    let addr = bind.addr();
    let pairs = [
        ("nameserver", addr.as_str()),
        ("tsig_key_name", bind.tsig_key_name()),
        ("tsig_algorithm", bind.tsig_algorithm()),
        ("tsig_secret", bind.tsig_secret_b64()),
    ];
    let values: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Rfc2136::new(&ResolvedConfig::new(values)).expect("valid rfc2136 config")
}

#[tokio::test]
async fn find_zone_returns_the_zone_its_nameservers_and_their_addresses() {
    let bind = Bind::start(BindOptions::zones(["example.test"])).await;
    let zone = checker(&bind, Duration::from_secs(5))
        .find_zone("_acme-challenge.www.example.test")
        .await
        .expect("find_zone");
    assert_eq!(
        zone,
        Zone {
            name: "example.test".into(),
            nameservers: vec![("ns1.example.test".into(), vec![IpAddr::V4(bind.ip())])],
        }
    );
    // The apex itself, written with a trailing dot and upper case.
    let apex = checker(&bind, Duration::from_secs(5))
        .find_zone("Example.TEST.")
        .await
        .expect("find_zone at the apex");
    assert_eq!(apex.name, "example.test");
}

#[tokio::test]
async fn find_zone_without_a_zone_is_an_error() {
    let bind = Bind::start(BindOptions::zones(["example.test"])).await;
    // BIND refuses names it is not authoritative for, at every level up to the root.
    let err = checker(&bind, Duration::from_secs(5))
        .find_zone("_acme-challenge.nowhere.invalid")
        .await
        .unwrap_err();
    assert!(matches!(err, DnsError::Rejected(_)), "{err:?}");
}

#[tokio::test]
async fn wait_for_returns_once_the_record_is_served() {
    let bind = Bind::start(BindOptions::zones(["example.test"])).await;
    let name = "_acme-challenge.example.test";
    provider(&bind).present(name, "token-1").await.expect("add");
    let took = checker(&bind, Duration::from_secs(10))
        .wait_for(name, "token-1")
        .await
        .expect("propagated");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[tokio::test]
async fn challenge_target_follows_a_cname_into_another_zone() {
    let bind = Bind::start(
        BindOptions::zones(["example.test", "delegated.test"]).record(
            "example.test",
            "_acme-challenge.a 60 IN CNAME _acme-challenge.a.delegated.test.",
        ),
    )
    .await;
    let check = checker(&bind, Duration::from_secs(10));
    let target = check
        .challenge_target("_acme-challenge.a.example.test")
        .await
        .expect("challenge_target");
    assert_eq!(target, "_acme-challenge.a.delegated.test");
    // No CNAME: the name itself, normalised.
    assert_eq!(
        check
            .challenge_target("_acme-challenge.B.example.test.")
            .await
            .unwrap(),
        "_acme-challenge.b.example.test"
    );

    // The record goes into the target's zone and is waited for there.
    assert_eq!(
        check.find_zone(&target).await.unwrap().name,
        "delegated.test"
    );
    provider(&bind)
        .present(&target, "delegated")
        .await
        .expect("add");
    check
        .wait_for(&target, "delegated")
        .await
        .expect("propagated");
    assert_eq!(bind.txt(&target).await, ["delegated"]);
    assert_eq!(
        bind.query("CNAME", "_acme-challenge.a.example.test").await,
        ["_acme-challenge.a.delegated.test."]
    );
}

#[tokio::test]
async fn challenge_target_detects_a_cname_loop() {
    let bind = Bind::start(
        BindOptions::zones(["example.test"])
            .record(
                "example.test",
                "_acme-challenge.x 60 IN CNAME _acme-challenge.y",
            )
            .record(
                "example.test",
                "_acme-challenge.y 60 IN CNAME _acme-challenge.x",
            ),
    )
    .await;
    let err = checker(&bind, Duration::from_secs(5))
        .challenge_target("_acme-challenge.x.example.test")
        .await
        .unwrap_err();
    assert!(
        matches!(err, DnsError::Rejected(ref m) if m.contains("loop")),
        "{err:?}"
    );
}

/// Two BIND instances, each on its own address, both primaries of `slow.test`, which lists both
/// as NS (`ns1` → the first, `ns2` → the second, as the first answers). They share no zone
/// transfer: a record written to one is on the other only once it is written there too, as
/// with a secondary that has not caught up yet.
async fn two_nameservers() -> (Bind, Bind) {
    let first_ip = lock_loopback_ip();
    let second_ip = lock_loopback_ip();
    let opts = BindOptions::zones(["slow.test"])
        .record("slow.test", "@ IN NS ns2.slow.test.")
        .record("slow.test", &format!("ns2 IN A {}", second_ip.ip()));
    let first = Bind::start_on(first_ip, opts.clone()).await;
    let second = Bind::start_on(second_ip, opts).await;
    (first, second)
}

#[tokio::test]
async fn wait_for_waits_for_a_nameserver_that_gets_the_record_later() {
    let (first, second) = two_nameservers().await;
    let check = checker(&first, Duration::from_secs(20));
    let zone = check.find_zone("_acme-challenge.slow.test").await.unwrap();
    assert_eq!(
        zone.nameservers,
        vec![
            ("ns1.slow.test".to_owned(), vec![IpAddr::V4(first.ip())]),
            ("ns2.slow.test".to_owned(), vec![IpAddr::V4(second.ip())]),
        ]
    );

    let name = "_acme-challenge.slow.test";
    provider(&first)
        .present(name, "late")
        .await
        .expect("add to ns1");
    let delay = Duration::from_secs(1);
    let late_writer = provider(&second);
    let started = Instant::now();
    // The second nameserver "catches up" a second later: the delay is the scenario under test.
    let catch_up = tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        late_writer.present(name, "late").await
    });
    let took = check.wait_for(name, "late").await.expect("propagated");
    catch_up.await.unwrap().expect("add to ns2");
    assert!(
        took >= delay,
        "wait_for returned after {took:?}, before ns2 had the record"
    );
    assert!(started.elapsed() >= delay);
    assert_eq!(second.txt(name).await, ["late"]);
}

#[tokio::test]
async fn timeout_names_the_nameserver_that_lacks_the_record() {
    let (first, second) = two_nameservers().await;
    let name = "_acme-challenge.slow.test";
    provider(&first)
        .present(name, "only-ns1")
        .await
        .expect("add to ns1");
    // ns2 has another value, which does not count.
    provider(&second)
        .present(name, "unrelated")
        .await
        .expect("add to ns2");

    let timeout = Duration::from_millis(800);
    let started = Instant::now();
    let err = checker(&first, timeout)
        .wait_for(name, "only-ns1")
        .await
        .unwrap_err();
    assert!(started.elapsed() >= timeout);
    let DnsError::NotPropagated(message) = err else {
        panic!("expected DnsError::NotPropagated, got {err:?}");
    };
    assert!(message.contains("ns2.slow.test"), "{message}");
    assert!(message.contains(&second.ip().to_string()), "{message}");
    assert!(!message.contains("ns1.slow.test"), "{message}");
}
