//! Smoke tests of the peers themselves: if these fail, end-to-end failures elsewhere are about
//! the test set-up, not the service.

use std::process::Command;

use scaivault_testkit::{Bind, BindOptions, Pebble, PebbleOptions, PgDatabase};

#[tokio::test]
async fn pebble_serves_its_directory_over_the_throwaway_root() {
    let pebble = Pebble::start(PebbleOptions::default()).await;
    let dir: serde_json::Value = pebble
        .http_client()
        .get(pebble.directory_url())
        .send()
        .await
        .expect("directory over TLS")
        .json()
        .await
        .expect("directory JSON");
    assert!(dir["newAccount"].as_str().is_some(), "directory: {dir}");
    assert!(dir["meta"]["externalAccountRequired"].as_bool() != Some(true));

    let pem = std::fs::read_to_string(pebble.listener_root_pem_path()).unwrap();
    assert_eq!(pem, pebble.listener_root_pem());
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));

    let roots = pebble.issuer_roots_pem().await;
    assert!(
        roots.contains("-----BEGIN CERTIFICATE-----"),
        "roots/0: {roots}"
    );
    assert_ne!(roots.trim(), pem.trim(), "issuer root is Pebble's own");
    assert_eq!(pebble.cert_status_by_serial("0A:BC").await, None);
}

#[tokio::test]
async fn pebble_with_eab_keys_requires_external_accounts() {
    let pebble = Pebble::start(PebbleOptions {
        eab_keys: Some(vec![(
            "kid-1".to_owned(),
            "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W".to_owned(),
        )]),
        validity_period_secs: Some(3600),
        nonce_reject_percent: Some(0),
        ..PebbleOptions::default()
    })
    .await;
    let dir: serde_json::Value = pebble
        .http_client()
        .get(pebble.directory_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        dir["meta"]["externalAccountRequired"],
        serde_json::json!(true),
        "directory: {dir}"
    );
}

#[tokio::test]
async fn bind_answers_and_accepts_only_tsig_signed_updates() {
    let bind = Bind::start(
        BindOptions::zones(["example.test", "other.test"])
            .record("example.test", "www 60 IN A 127.0.0.1")
            .record(
                "example.test",
                "_acme-challenge.alias 60 IN CNAME _acme-challenge.other.test.",
            ),
    )
    .await;
    let ip = bind.ip();
    assert_ne!(ip, std::net::Ipv4Addr::LOCALHOST);
    assert_eq!(bind.addr(), format!("{ip}:53"));

    let soa = dig(&bind, "SOA", "example.test");
    assert!(soa.starts_with("ns1.example.test."), "SOA: {soa}");
    assert_eq!(bind.query("A", "ns1.example.test").await, [ip.to_string()]);
    assert_eq!(
        bind.query("CNAME", "_acme-challenge.alias.example.test")
            .await,
        ["_acme-challenge.other.test."]
    );

    let name = "_acme-challenge.www.example.test";
    assert!(bind.txt(name).await.is_empty());
    let ok = nsupdate(
        &bind,
        &bind.nsupdate_key_arg(),
        &format!("update add {name}. 60 TXT \"token-1\""),
    );
    assert!(ok.status.success(), "signed update failed: {ok:?}");
    assert_eq!(bind.txt(name).await, ["token-1"]);

    let wrong_secret = format!(
        "{}:{}:{}",
        bind.tsig_algorithm(),
        bind.tsig_key_name(),
        "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZyE="
    );
    let refused = nsupdate(
        &bind,
        &wrong_secret,
        &format!("update add {name}. 60 TXT \"forged\""),
    );
    assert!(
        !refused.status.success(),
        "update with a wrong secret succeeded: {refused:?}"
    );
    assert_eq!(bind.txt(name).await, ["token-1"]);
}

fn dig(bind: &Bind, rtype: &str, name: &str) -> String {
    let out = Command::new("dig")
        .args(["+short", &format!("@{}", bind.ip()), rtype, name])
        .output()
        .expect("dig");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn nsupdate(bind: &Bind, key: &str, update: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new("nsupdate")
        .args(["-y", key])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("nsupdate (package bind9-dnsutils; run scripts/test)");
    let script = format!(
        "server {} 53\nzone example.test\n{update}\nsend\n",
        bind.ip()
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn postgres_database_is_created_and_dropped() {
    let db = PgDatabase::create();
    let name = db.name().to_owned();
    let out = Command::new("psql")
        .args([
            db.url().as_str(),
            "-X",
            "-A",
            "-t",
            "-c",
            "SELECT current_database()",
        ])
        .output()
        .expect("psql");
    assert!(out.status.success(), "psql: {out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), name);
    assert_eq!(db.query("SELECT 1 + 1"), "2");
    drop(db);

    let exists = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-X",
            "-A",
            "-t",
            "-c",
            &format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'"),
        ])
        .output()
        .expect("psql");
    assert_eq!(String::from_utf8_lossy(&exists.stdout).trim(), "0");
}

/// Pebble validating dns-01 against the test BIND (`-dnsserver`), with lego as the ACME client:
/// proves the peers fit together independently of the service, that Debian's pebble 2.4 honours
/// `certificateValidityPeriod`, and that `cert_status_by_serial` finds what Pebble issued.
#[tokio::test]
async fn lego_gets_a_short_lived_certificate_from_pebble_through_bind() {
    let bind = Bind::start(BindOptions::zones(["example.test"])).await;
    let pebble = Pebble::start(PebbleOptions {
        dns_server: Some(bind.addr()),
        validity_period_secs: Some(3600),
        ..PebbleOptions::default()
    })
    .await;
    let work = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new("lego")
        .current_dir(work.path())
        .env("LEGO_CA_CERTIFICATES", pebble.listener_root_pem_path())
        .env("RFC2136_NAMESERVER", bind.addr())
        .env("RFC2136_TSIG_KEY", bind.tsig_key_name())
        .env(
            "RFC2136_TSIG_ALGORITHM",
            format!("{}.", bind.tsig_algorithm()),
        )
        .env("RFC2136_TSIG_SECRET", bind.tsig_secret_b64())
        .args([
            "--server",
            &pebble.directory_url(),
            "--accept-tos",
            "--email",
            "test@example.test",
            "--path",
            ".",
            "--dns",
            "rfc2136",
            "--dns.resolvers",
            &bind.addr(),
            "--dns.disable-cp",
            "--domains",
            "www.example.test",
            "run",
        ])
        .output()
        .await
        .expect("lego (package lego; run scripts/test)");
    assert!(
        out.status.success(),
        "lego failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        pebble.log_text()
    );
    let cert = work.path().join("certificates/www.example.test.crt");
    let text = Command::new("openssl")
        .args(["x509", "-noout", "-serial", "-startdate", "-enddate", "-in"])
        .arg(&cert)
        .output()
        .expect("openssl");
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    let serial = text
        .lines()
        .find_map(|l| l.strip_prefix("serial="))
        .unwrap_or_else(|| panic!("no serial in {text}"));
    let status = pebble
        .cert_status_by_serial(serial)
        .await
        .unwrap_or_else(|| panic!("Pebble does not know serial {serial}"));
    assert_eq!(status["Status"], "Valid", "{status}");
    // `-checkend N` fails when the certificate expires within N seconds: about an hour left.
    let expires_within = |secs: u32| {
        !Command::new("openssl")
            .args(["x509", "-noout", "-checkend", &secs.to_string(), "-in"])
            .arg(&cert)
            .status()
            .expect("openssl")
            .success()
    };
    assert!(expires_within(7200) && !expires_within(600), "{text}");
    // Challenge record was cleaned up by lego through TSIG-signed updates.
    assert!(
        bind.txt("_acme-challenge.www.example.test")
            .await
            .is_empty(),
        "{text}"
    );
}

/// `pebble-challtestsrv` answers A 127.0.0.1 for every name over UDP and TCP, and its management
/// API changes the answers.
#[tokio::test]
async fn challtestsrv_resolves_every_name_to_loopback_and_takes_overrides() {
    let srv = scaivault_testkit::ChallTestSrv::start().await;
    let port = srv.dns_port();
    assert_eq!(srv.dns_addr(), format!("127.0.0.1:{port}"));
    let dig_at = |extra: &[&str], rtype: &str, name: &str| {
        let out = Command::new("dig")
            .args(["+short", "+time=2", "+tries=2", "@127.0.0.1", "-p"])
            .arg(port.to_string())
            .args(extra)
            .args([rtype, name])
            .output()
            .expect("dig (package bind9-dnsutils; run scripts/test)");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let name = format!("n{:08x}.example.test", rand::random::<u32>());
    assert_eq!(dig_at(&[], "A", &name), "127.0.0.1");
    assert_eq!(dig_at(&["+tcp"], "A", &name), "127.0.0.1");
    assert_eq!(dig_at(&[], "AAAA", &name), "", "no default AAAA");

    srv.add_a(&name.to_ascii_uppercase(), &["10.20.30.40", "10.20.30.41"])
        .await;
    assert_eq!(srv.query("A", &name).await, ["10.20.30.40", "10.20.30.41"]);
    assert_eq!(dig_at(&["+tcp"], "A", &name), "10.20.30.40\n10.20.30.41");
    assert_eq!(srv.query("A", "other.example.test").await, ["127.0.0.1"]);
    srv.clear_a(&name).await;
    assert_eq!(srv.query("A", &name).await, ["127.0.0.1"]);

    srv.set_default_ipv4("").await;
    assert!(srv.query("A", &name).await.is_empty());
    srv.set_default_ipv4("127.0.0.1").await;
    assert_eq!(srv.query("A", &name).await, ["127.0.0.1"]);

    let txt = format!("_acme-challenge.{name}");
    srv.add_txt(&txt, "token-1").await;
    assert_eq!(srv.query("TXT", &txt).await, ["\"token-1\""]);
    srv.clear_txt(&txt).await;
    assert!(srv.query("TXT", &txt).await.is_empty());

    srv.set_servfail(&name).await;
    let full = Command::new("dig")
        .args(["+time=2", "+tries=1", "@127.0.0.1", "-p"])
        .arg(port.to_string())
        .args(["A", &name])
        .output()
        .expect("dig");
    let full = String::from_utf8_lossy(&full.stdout);
    assert!(full.contains("status: SERVFAIL"), "{full}");
    srv.clear_servfail(&name).await;
    assert_eq!(srv.query("A", &name).await, ["127.0.0.1"]);

    let asked = srv.dns_request_history(&name).await;
    assert!(asked.len() >= 5, "{asked:?}");
    assert_eq!(asked[0]["Question"]["Name"], format!("{name}."));
    assert!(
        srv.log_text().contains("Added response for DNS A queries"),
        "{}",
        srv.log_text()
    );
}

/// Pebble's VA resolving through `pebble-challtestsrv` reaches an http-01 server on loopback
/// (lego's, standing in for the service under test): proves `dns_server` + `http_port` is the
/// set-up for http-01 end-to-end tests.
#[tokio::test]
async fn lego_passes_http01_through_challtestsrv_dns() {
    let srv = scaivault_testkit::ChallTestSrv::start().await;
    let http_port = scaivault_testkit::free_port(std::net::Ipv4Addr::LOCALHOST.into());
    let pebble = Pebble::start(PebbleOptions {
        dns_server: Some(srv.dns_addr()),
        http_port: Some(http_port),
        ..PebbleOptions::default()
    })
    .await;
    let domain = format!("h{:08x}.example.test", rand::random::<u32>());
    let work = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new("lego")
        .current_dir(work.path())
        .env("LEGO_CA_CERTIFICATES", pebble.listener_root_pem_path())
        .args([
            "--server",
            &pebble.directory_url(),
            "--accept-tos",
            "--email",
            "test@example.test",
            "--path",
            ".",
            "--http",
            "--http.port",
            &format!("127.0.0.1:{http_port}"),
            "--domains",
            &domain,
            "run",
        ])
        .output()
        .await
        .expect("lego (package lego; run scripts/test)");
    assert!(
        out.status.success(),
        "lego failed: {}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        pebble.log_text(),
        srv.log_text()
    );
    assert!(
        work.path()
            .join(format!("certificates/{domain}.crt"))
            .exists()
    );
    let asked = srv.dns_request_history(&domain).await;
    assert!(!asked.is_empty(), "Pebble's VA did not ask challtestsrv");
}
