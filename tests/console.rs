//! The PKI admin console end to end, in a headless Chromium against real peers: log in, register
//! an ACME account at Pebble, create an RFC 2136 DNS provider for BIND and test it, issue a
//! wildcard certificate from the console and watch its order become valid without a reload,
//! renew and revoke it, log out. Screenshots of every page go to
//! `target/tmp/console-screenshots/`. Also: the same information reaches `curl` with a session
//! cookie as HTML; a token without `admin` cannot log in; a form post without the CSRF token is
//! refused; the pages send a strict Content-Security-Policy.

#[macro_use]
mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use common::Db;
use common::browser::Browser;
use reqwest::redirect::Policy;
use scaivault_testkit::{
    Bind, BindOptions, Pebble, PebbleOptions, Service, free_port, lock_loopback_ip,
};
use serde_json::json;

/// The page's visible form fields that have no label (inside a `<label>`, or named by one).
const UNLABELLED_FIELDS: &str = "[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]\
    .filter(e => !e.closest('label') && !(e.id && document.querySelector(`label[for=\"${e.id}\"]`)))\
    .map(e => e.name)";

/// Where the screenshots go (kept after the run, as test artifacts).
fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots")
}

/// A client that keeps no cookies and follows no redirects (to see them).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

struct Console {
    service: Service,
    bind: Bind,
    /// The zone's second nameserver: it serves a challenge's TXT only once the test says so
    /// ([`release`]), which holds an order in flight (dns-01 waits for every nameserver).
    ns2: Bind,
    pebble: Pebble,
    _pg: Option<scaivault_testkit::PgDatabase>,
    base: String,
}

/// BIND serving `example.test` (with a second nameserver the test controls) and `probe.test`,
/// Pebble validating through it, and the service with the console on a free port and the TSIG
/// secret stored at `dns/bind/tsig`.
async fn console(db: Db) -> Console {
    let (first_ip, second_ip) = (lock_loopback_ip(), lock_loopback_ip());
    let example = BindOptions::zones(["example.test"])
        .record("example.test", "@ IN NS ns2.example.test.")
        .record("example.test", &format!("ns2 IN A {}", second_ip.ip()));
    let mut with_probe = example.clone();
    with_probe.zones.push("probe.test".to_owned());
    let bind = Bind::start_on(first_ip, with_probe).await;
    let ns2 = Bind::start_on(second_ip, example).await;
    let pebble = Pebble::start(PebbleOptions {
        dns_server: Some(bind.addr()),
        nonce_reject_percent: Some(0),
        // Let's Encrypt's `tlsserver` lifetime since 2026-05-13: the certificate shows on the
        // overview's 90-day timeline.
        validity_period_secs: Some(45 * 86_400),
        // No reuse of valid authorizations: a renewal must wait on its own TXT records (held
        // back on ns2) to be watched in flight; a reused one is ready before its page opens.
        authz_reuse: Some(0),
        ..Default::default()
    })
    .await;
    let port = free_port(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let admin = format!("127.0.0.1:{port}");
    let (opts, pg) = common::options(db);
    let service = Service::start(
        opts.extra_root(pebble.listener_root_pem_path())
            .set_str("server", "admin_listen", &admin)
            .set("dns", "resolvers", format!("[\"{}\"]", bind.addr()))
            .set_str("dns", "propagation_interval", "100ms")
            .set_str("dns", "propagation_timeout", "20s")
            .set("webhooks", "allow_private_targets", "true"),
    )
    .await;
    let (status, _) = service
        .client()
        .put(
            "/v1/secrets/dns/bind/tsig",
            &json!({ "value": bind.tsig_secret_b64() }),
        )
        .await;
    assert_eq!(status, 201);
    Console {
        service,
        bind,
        ns2,
        pebble,
        _pg: pg,
        base: format!("http://{admin}"),
    }
}

/// Logs in with `token`; the session cookie (`name=value`), or the refusal's status.
async fn login(http: &reqwest::Client, base: &str, token: &str) -> Result<String, u16> {
    let resp = http
        .post(format!("{base}/login"))
        .form(&[("token", token)])
        .send()
        .await
        .expect("login");
    if resp.status() != 303 {
        return Err(resp.status().as_u16());
    }
    let cookie = resp.headers()["set-cookie"].to_str().expect("cookie");
    Ok(cookie.split(';').next().expect("pair").to_owned())
}

/// A console page as `curl` sees it with the session cookie.
async fn page(http: &reqwest::Client, base: &str, cookie: &str, path: &str) -> String {
    let resp = http
        .get(format!("{base}{path}"))
        .header("cookie", cookie)
        .send()
        .await
        .expect(path);
    assert_eq!(resp.status(), 200, "{path}");
    resp.text().await.expect("page")
}

/// The id at the end of the page's path once the browser is at `<route><id_prefix>...`.
async fn id_in_path(browser: &mut Browser, route: &str, id_prefix: &str, what: &str) -> String {
    let path = browser
        .wait_for(
            &format!(
                "location.pathname.startsWith({}) && document.readyState === 'complete' && location.pathname",
                json!(format!("{route}{id_prefix}"))
            ),
            Duration::from_secs(30),
            what,
        )
        .await;
    path.as_str()
        .expect("path")
        .trim_start_matches(route)
        .to_owned()
}

/// Lets the second nameserver serve the TXT values of `order_id`'s challenges (RFC 8555 §8.4:
/// base64url of the SHA-256 of each key authorization), with `nsupdate`.
async fn release(env: &Console, order_id: &str) {
    use base64::Engine;
    use sha2::Digest;
    let (status, order) = env
        .service
        .client()
        .get(&format!("/v1/pki/acme/orders/{order_id}"))
        .await;
    assert_eq!(status, 200, "{order}");
    let mut script = format!("server {} 53\n", env.ns2.ip());
    for challenge in order["challenges"].as_array().expect("challenges") {
        let domain = challenge["domain"].as_str().expect("domain");
        let name = format!("_acme-challenge.{}", domain.trim_start_matches("*."));
        let key_authorization = challenge["key_authorization"].as_str().expect("key authz");
        let value = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(key_authorization.as_bytes()));
        script.push_str(&format!("update add {name}. 60 TXT \"{value}\"\n"));
    }
    script.push_str("send\n");
    let mut child = tokio::process::Command::new("nsupdate")
        .arg("-y")
        .arg(env.ns2.nsupdate_key_arg())
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

/// On an order's page: the order is still in flight when the page opens (its TXT records are
/// not yet on the second nameserver), then the test releases them and the page turns `valid`
/// without reloading (a marker set on the page survives).
async fn watch_order_become_valid(env: &Console, browser: &mut Browser, order_id: &str) {
    let first = browser
        .wait_for(
            "document.getElementById('order-status').dataset.status",
            Duration::from_secs(30),
            "the order's status",
        )
        .await;
    assert!(
        ["pending", "ready", "processing"].contains(&first.as_str().unwrap_or_default()),
        "order {order_id} was {first} when its page opened: nothing to watch"
    );
    browser.eval("window.__notReloaded = true").await;
    release(env, order_id).await;
    browser
        .wait_for(
            "document.getElementById('order-status').dataset.status === 'valid'",
            Duration::from_secs(90),
            "the order becoming valid on the open page",
        )
        .await;
    assert_eq!(
        browser.eval("window.__notReloaded === true").await,
        true,
        "the page reloaded instead of updating"
    );
    assert_eq!(
        browser
            .eval("document.getElementById('finalised').textContent.trim()")
            .await,
        "yes"
    );
}

async fn issues_renews_and_revokes_from_the_browser(db: Db) {
    let env = console(db).await;
    let base = env.base.clone();
    let shots = screenshots().join(match db {
        Db::Sqlite => "sqlite",
        Db::Postgres => "postgres",
    });
    let token = env.service.admin_token().to_owned();
    let mut browser = Browser::start(1280, 800).await;

    // Log in.
    browser.navigate(&format!("{base}/")).await;
    browser
        .wait_for(
            "!!document.getElementById('login')",
            Duration::from_secs(20),
            "the login form",
        )
        .await;
    browser.screenshot(&shots, "login").await;
    browser.fill("token", &token).await;
    browser.submit("login").await;
    browser
        .wait_for(
            "!!document.getElementById('counts')",
            Duration::from_secs(20),
            "the overview",
        )
        .await;

    // Register an ACME account at Pebble.
    browser.navigate(&format!("{base}/accounts")).await;
    browser
        .wait_for(
            "!!document.getElementById('register')",
            Duration::from_secs(20),
            "the registration form",
        )
        .await;
    browser.fill("name", "pebble").await;
    browser.fill("provider", "custom").await;
    browser.fill("environment", "staging").await;
    browser.fill("email", "certs@acme.example").await;
    browser
        .fill("directory_url", &env.pebble.directory_url())
        .await;
    browser.submit("register").await;
    let account_id = id_in_path(
        &mut browser,
        "/accounts/",
        "acme_",
        "the new account's page",
    )
    .await;
    browser
        .wait_for(
            "document.getElementById('account-status').textContent.includes('active')",
            Duration::from_secs(10),
            "the account active",
        )
        .await;
    browser.screenshot(&shots, "account").await;

    // Create the RFC 2136 provider for BIND, its secret picked from the stored paths.
    browser.navigate(&format!("{base}/dns-providers")).await;
    browser
        .wait_for(
            "!!document.getElementById('new-dns')",
            Duration::from_secs(20),
            "the provider list",
        )
        .await;
    browser.fill("type", "rfc2136").await;
    browser.submit("new-dns").await;
    browser
        .wait_for(
            "!!document.getElementById('create-dns')",
            Duration::from_secs(20),
            "the provider form",
        )
        .await;
    let offered = browser
        .eval("[...document.getElementById('cfg.tsig_secret_path').options].map(o => o.value).join(',')")
        .await;
    assert!(
        offered
            .as_str()
            .unwrap_or_default()
            .contains("dns/bind/tsig"),
        "the stored secret path is offered: {offered}"
    );
    assert!(
        !browser
            .eval("document.body.innerHTML")
            .await
            .as_str()
            .unwrap_or_default()
            .contains(env.bind.tsig_secret_b64()),
        "the form shows a secret's value"
    );
    browser.fill("name", "bind").await;
    browser.fill("zones", "example.test").await;
    browser.fill("cfg.nameserver", &env.bind.addr()).await;
    browser
        .fill("cfg.tsig_key_name", env.bind.tsig_key_name())
        .await;
    browser
        .fill("cfg.tsig_algorithm", env.bind.tsig_algorithm())
        .await;
    browser.fill("cfg.tsig_secret_path", "dns/bind/tsig").await;
    browser.screenshot(&shots, "dns-provider-new").await;
    browser.submit("create-dns").await;
    let provider_id = id_in_path(
        &mut browser,
        "/dns-providers/",
        "dnsp_",
        "the new provider's page",
    )
    .await;

    // Its test writes a probe TXT record, sees it propagate, and removes it.
    let tag = format!("c{:x}", rand::random::<u32>());
    browser
        .fill("test-domain", &format!("{tag}.probe.test"))
        .await;
    browser.submit("test").await;
    let probe = browser
        .wait_for(
            "document.getElementById('probe-result') && document.getElementById('probe-result').textContent",
            Duration::from_secs(30),
            "the probe's outcome",
        )
        .await;
    assert!(
        probe
            .as_str()
            .unwrap_or_default()
            .contains("has been removed"),
        "{probe}"
    );
    assert!(
        env.bind
            .txt(&format!("_acme-challenge.{tag}.probe.test"))
            .await
            .is_empty()
    );
    browser.screenshot(&shots, "dns-provider").await;

    // Subscribe a webhook to issuances, at a port where nobody listens: its deliveries fail.
    let receiver = free_port(IpAddr::V4(Ipv4Addr::LOCALHOST));
    browser.navigate(&format!("{base}/webhooks")).await;
    browser
        .wait_for(
            "!!document.getElementById('create-webhook')",
            Duration::from_secs(20),
            "the webhook form",
        )
        .await;
    browser
        .fill("url", &format!("http://127.0.0.1:{receiver}/hook"))
        .await;
    browser.fill("events", "certificate.issued").await;
    browser.submit("create-webhook").await;
    browser
        .wait_for(
            "!!document.getElementById('webhook-secret')",
            Duration::from_secs(20),
            "the new webhook's secret, shown once",
        )
        .await;

    // Issue a wildcard certificate through BIND; its order page updates itself to valid.
    browser.navigate(&format!("{base}/issue")).await;
    browser
        .wait_for(
            "!!document.getElementById('issue')",
            Duration::from_secs(20),
            "the issue form",
        )
        .await;
    let names = format!("*.{tag}.example.test\n{tag}.example.test");
    browser.fill("account_id", &account_id).await;
    browser.fill("domains", &names).await;
    browser.fill("challenge_type", "dns-01").await;
    browser.fill("dns_provider_id", &provider_id).await;
    browser.screenshot(&shots, "issue").await;
    browser.submit("issue").await;
    let order_id = id_in_path(&mut browser, "/orders/", "acme_order_", "the order's page").await;
    watch_order_become_valid(&env, &mut browser, &order_id).await;
    browser.screenshot(&shots, "order").await;
    browser.navigate(&format!("{base}/")).await;
    browser
        .wait_for(
            "!!document.getElementById('expiry-chart')",
            Duration::from_secs(20),
            "the overview",
        )
        .await;
    browser.screenshot(&shots, "overview-issued").await;
    browser.navigate(&format!("{base}/orders/{order_id}")).await;
    browser
        .wait_for(
            "!!document.getElementById('certificate-link')",
            Duration::from_secs(20),
            "the order's page",
        )
        .await;

    // The certificate's page.
    browser.click("certificate-link").await;
    let certificate_id = id_in_path(
        &mut browser,
        "/certificates/",
        "cert_",
        "the certificate's page",
    )
    .await;
    browser
        .wait_for(
            "!!document.getElementById('renew')",
            Duration::from_secs(20),
            "the renew form",
        )
        .await;
    let sans = browser
        .eval("document.getElementById('sans').textContent")
        .await;
    assert!(
        sans.as_str()
            .unwrap_or_default()
            .contains(&format!("*.{tag}.example.test")),
        "{sans}"
    );
    browser.screenshot(&shots, "certificate").await;

    // Renew now: the renewal order becomes valid on its page too.
    browser.submit("renew").await;
    let renewal_id = browser
        .wait_for(
            &format!(
                "location.pathname.startsWith('/orders/') && location.pathname !== '/orders/{order_id}' && document.readyState === 'complete' && location.pathname"
            ),
            Duration::from_secs(30),
            "the renewal order's page",
        )
        .await
        .as_str()
        .expect("path")
        .trim_start_matches("/orders/")
        .to_owned();
    watch_order_become_valid(&env, &mut browser, &renewal_id).await;

    // Revoke, through the confirmation step.
    browser
        .navigate(&format!("{base}/certificates/{certificate_id}"))
        .await;
    browser
        .wait_for(
            "!!document.getElementById('revoke-link')",
            Duration::from_secs(20),
            "the revoke link",
        )
        .await;
    let versions = browser
        .eval("document.querySelectorAll('#versions tbody tr').length")
        .await;
    assert_eq!(versions, 2, "two versions after the renewal");
    browser.click("revoke-link").await;
    browser
        .wait_for(
            "!!document.getElementById('revoke')",
            Duration::from_secs(20),
            "the confirmation step",
        )
        .await;
    browser.screenshot(&shots, "revoke").await;
    browser.fill("reason", "superseded").await;
    browser
        .eval("document.querySelector('#revoke [name=confirm]').checked = true")
        .await;
    browser.submit("revoke").await;
    browser
        .wait_for(
            &format!(
                "location.pathname === '/certificates/{certificate_id}' && document.getElementById('certificate-status') && document.getElementById('certificate-status').textContent.includes('revoked')"
            ),
            Duration::from_secs(60),
            "the certificate revoked",
        )
        .await;
    browser.screenshot(&shots, "certificate-revoked").await;

    // The webhook's delivery of the issuance, with its failed attempt; redeliver it.
    browser.navigate(&format!("{base}/webhooks")).await;
    let webhook_id = browser
        .wait_for(
            "document.querySelector('#webhooks tbody tr').dataset.id",
            Duration::from_secs(20),
            "the webhook in the list",
        )
        .await
        .as_str()
        .expect("webhook id")
        .to_owned();
    browser
        .navigate(&format!("{base}/webhooks/{webhook_id}"))
        .await;
    browser
        .wait_for(
            "document.querySelectorAll('#deliveries ol.attempts li').length >= 1 || (location.reload(), false)",
            Duration::from_secs(30),
            "a delivery attempt",
        )
        .await;
    let attempt = browser
        .eval("document.querySelector('#deliveries ol.attempts li').textContent")
        .await;
    assert!(
        attempt.as_str().unwrap_or_default().contains("no answer"),
        "{attempt}"
    );
    browser
        .navigate_by("document.querySelector('#deliveries form.redeliver').requestSubmit()")
        .await;
    browser
        .wait_for(
            "document.querySelectorAll('#deliveries tbody tr').length === 2 && document.body.innerText.includes('redelivery of')",
            Duration::from_secs(20),
            "the redelivery listed",
        )
        .await;
    browser.screenshot(&shots, "webhook").await;

    // An order that fails: http-01 where Pebble's validator finds no responder. Its page turns
    // invalid by itself and shows the CA's error in full.
    browser.navigate(&format!("{base}/issue")).await;
    browser
        .wait_for(
            "!!document.getElementById('issue')",
            Duration::from_secs(20),
            "the issue form",
        )
        .await;
    browser.fill("account_id", &account_id).await;
    browser
        .fill("domains", &format!("bad-{tag}.example.test"))
        .await;
    browser.fill("challenge_type", "http-01").await;
    browser.submit("issue").await;
    let failed_id = browser
        .wait_for(
            &format!(
                "location.pathname.startsWith('/orders/acme_order_') && location.pathname !== '/orders/{order_id}' && location.pathname !== '/orders/{renewal_id}' && document.readyState === 'complete' && location.pathname"
            ),
            Duration::from_secs(30),
            "the failing order's page",
        )
        .await;
    browser
        .wait_for(
            "document.getElementById('order-status').dataset.status === 'invalid' && !!document.getElementById('order-error')",
            Duration::from_secs(90),
            "the order turning invalid with its error",
        )
        .await;
    let error = browser
        .eval("document.getElementById('order-error').innerText")
        .await;
    assert!(
        error.as_str().unwrap_or_default().contains("failed"),
        "{failed_id}: {error}"
    );
    browser.screenshot(&shots, "order-invalid").await;

    // Every other page, for the record.
    for (path, name, ready) in [
        ("/", "overview", "counts"),
        ("/certificates", "certificates", "certificates"),
        ("/orders", "orders", "orders"),
        ("/accounts", "accounts", "accounts"),
        ("/dns-providers", "dns-providers", "dns-providers"),
        ("/webhooks", "webhooks", "webhooks"),
        ("/events", "events", "events"),
    ] {
        browser.navigate(&format!("{base}{path}")).await;
        browser
            .wait_for(
                &format!("!!document.getElementById('{ready}')"),
                Duration::from_secs(20),
                path,
            )
            .await;
        browser.screenshot(&shots, name).await;
        assert_eq!(
            browser.eval(UNLABELLED_FIELDS).await,
            json!([]),
            "{path}: form fields without a label"
        );
    }
    // Keyboard: the first Tab lands on the skip link, which leads to the content.
    browser.navigate(&format!("{base}/certificates")).await;
    browser
        .wait_for(
            "!!document.getElementById('certificates')",
            Duration::from_secs(20),
            "the list",
        )
        .await;
    for kind in ["keyDown", "keyUp"] {
        browser
            .call(
                "Input.dispatchKeyEvent",
                json!({"type": kind, "key": "Tab", "code": "Tab", "windowsVirtualKeyCode": 9}),
            )
            .await;
    }
    assert_eq!(
        browser
            .eval("document.activeElement.getAttribute('href')")
            .await,
        "#main",
        "the first Tab reaches the skip link"
    );
    // A phone's width: nothing wider than the screen, so nothing needs sideways scrolling.
    browser
        .call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": true}),
        )
        .await;
    for (path, name, ready) in [
        ("/", "phone-overview", "counts"),
        (
            &*format!("/certificates/{certificate_id}"),
            "phone-certificate",
            "versions",
        ),
    ] {
        browser.navigate(&format!("{base}{path}")).await;
        browser
            .wait_for(
                &format!("!!document.getElementById('{ready}')"),
                Duration::from_secs(20),
                path,
            )
            .await;
        assert_eq!(
            browser
                .eval("document.documentElement.scrollWidth <= window.innerWidth")
                .await,
            true,
            "{path} overflows a phone's width"
        );
        browser.screenshot(&shots, name).await;
    }
    browser
        .call("Emulation.clearDeviceMetricsOverride", json!({}))
        .await;
    browser.navigate(&format!("{base}/events")).await;
    browser
        .wait_for(
            "!!document.getElementById('events')",
            Duration::from_secs(20),
            "/events",
        )
        .await;
    let events = browser
        .eval("document.getElementById('events').innerText")
        .await;
    for kind in [
        "certificate.issued",
        "certificate.renewed",
        "certificate.revoked",
    ] {
        assert!(
            events.as_str().unwrap_or_default().contains(kind),
            "{kind} in {events}"
        );
    }
    browser.navigate(&format!("{base}/jobs")).await;
    browser
        .wait_for(
            "document.body && document.body.innerText.includes('renewals')",
            Duration::from_secs(30),
            "the job board",
        )
        .await;
    browser.screenshot(&shots, "jobs").await;

    // Deactivate the account and delete the DNS provider, each after its confirmation box.
    browser
        .navigate(&format!("{base}/accounts/{account_id}"))
        .await;
    browser
        .wait_for(
            "!!document.getElementById('deactivate')",
            Duration::from_secs(20),
            "the account",
        )
        .await;
    browser
        .eval("document.querySelector('#deactivate [name=confirm]').checked = true")
        .await;
    browser.submit("deactivate").await;
    browser
        .wait_for(
            "document.getElementById('account-status').textContent.includes('deactivated')",
            Duration::from_secs(30),
            "the account deactivated",
        )
        .await;
    browser
        .navigate(&format!("{base}/dns-providers/{provider_id}"))
        .await;
    browser
        .wait_for(
            "!!document.getElementById('delete')",
            Duration::from_secs(20),
            "the provider",
        )
        .await;
    browser
        .eval("document.querySelector('#delete [name=confirm]').checked = true")
        .await;
    browser.submit("delete").await;
    browser
        .wait_for(
            &format!(
                "location.pathname === '/dns-providers' && !document.querySelector('#dns-providers tr[data-id=\"{provider_id}\"]')"
            ),
            Duration::from_secs(20),
            "the provider gone from the list",
        )
        .await;

    // The same information without a browser: curl with a session cookie gets it as HTML.
    let http = client();
    let cookie = login(&http, &base, &token).await.expect("login");
    let overview = page(&http, &base, &cookie, "/").await;
    assert!(
        overview.contains("data-count=\"certificates-revoked\""),
        "{overview}"
    );
    assert!(overview.contains("id=\"expiry-chart\""), "{overview}");
    let list = page(&http, &base, &cookie, &format!("/certificates?q={tag}")).await;
    assert!(list.contains(&certificate_id), "{list}");
    let detail = page(
        &http,
        &base,
        &cookie,
        &format!("/certificates/{certificate_id}"),
    )
    .await;
    assert!(
        detail.contains(&format!("*.{tag}.example.test")),
        "{detail}"
    );
    assert!(detail.contains("superseded"), "{detail}");
    assert!(
        detail.contains("certificate.renewed"),
        "the renewal history: {detail}"
    );
    let order = page(&http, &base, &cookie, &format!("/orders/{order_id}")).await;
    assert!(order.contains("data-status=\"valid\""), "{order}");
    assert!(order.contains("TXT written"), "{order}");

    // Log out: the browser is back at the login form, and the console refuses it.
    browser.navigate(&format!("{base}/")).await;
    browser
        .wait_for(
            "!!document.getElementById('logout')",
            Duration::from_secs(20),
            "the logout form",
        )
        .await;
    browser.submit("logout").await;
    browser
        .wait_for(
            "location.pathname === '/login'",
            Duration::from_secs(20),
            "the login form after logout",
        )
        .await;
    browser.navigate(&format!("{base}/certificates")).await;
    browser
        .wait_for(
            "location.pathname === '/login' && !!document.getElementById('login')",
            Duration::from_secs(20),
            "a redirect to the login form",
        )
        .await;
}
on_both_backends!(issues_renews_and_revokes_from_the_browser);

/// A token without `admin` cannot log in; a form post without the session's CSRF token (or with
/// another session's) is refused before anything happens; with it, the action runs. Pages carry
/// a strict Content-Security-Policy and their assets come from the binary.
async fn refuses_non_admins_and_forged_forms(db: Db) {
    let port = free_port(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let admin = format!("127.0.0.1:{port}");
    let (opts, _pg) = common::options(db);
    let service = Service::start(opts.set_str("server", "admin_listen", &admin).set(
        "webhooks",
        "allow_private_targets",
        "true",
    ))
    .await;
    let base = format!("http://{admin}");
    let http = client();
    let api = service.client();

    let (status, reader) = api
        .post(
            "/v1/auth/tokens",
            &json!({"name": "reader", "scopes": ["pki:read", "pki:write", "secrets:read"]}),
        )
        .await;
    assert_eq!(status, 201, "{reader}");
    let reader = reader["token"].as_str().expect("token").to_owned();
    assert_eq!(
        login(&http, &base, &reader).await,
        Err(403),
        "a token without admin"
    );
    assert_eq!(login(&http, &base, "svt_not_a_token").await, Err(401));

    let token = service.admin_token().to_owned();
    let cookie = login(&http, &base, &token).await.expect("login");
    let webhooks = page(&http, &base, &cookie, "/webhooks").await;
    let csrf = common::csrf_token(&webhooks);

    // A webhook subscription, posted three ways.
    let form = [("url", "http://127.0.0.1:9/in"), ("events", "*")];
    let forged = http
        .post(format!("{base}/webhooks"))
        .header("cookie", &cookie)
        .form(&form)
        .send()
        .await
        .expect("post without csrf");
    assert_eq!(forged.status(), 403, "a form post without the CSRF token");
    let other = login(&http, &base, &token).await.expect("second session");
    let other_csrf = common::csrf_token(&page(&http, &base, &other, "/webhooks").await);
    assert_ne!(other_csrf, csrf);
    let wrong = http
        .post(format!("{base}/webhooks"))
        .header("cookie", &cookie)
        .form(&[form[0], form[1], ("csrf", other_csrf.as_str())])
        .send()
        .await
        .expect("post with another session's csrf");
    assert_eq!(wrong.status(), 403, "another session's CSRF token");
    let (_, listed) = api.get("/v1/webhooks").await;
    assert_eq!(
        listed["webhooks"],
        json!([]),
        "a refused form changed nothing: {listed}"
    );
    let accepted = http
        .post(format!("{base}/webhooks"))
        .header("cookie", &cookie)
        .form(&[form[0], form[1], ("csrf", csrf.as_str())])
        .send()
        .await
        .expect("post with csrf");
    assert_eq!(accepted.status(), 201);
    let (_, listed) = api.get("/v1/webhooks").await;
    assert_eq!(
        listed["webhooks"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );

    // The console's rules are the API's: a bad value gets the API's status and code.
    let invalid = http
        .post(format!("{base}/issue"))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("account_id", "acct_missing"),
            ("domains", "not a name!"),
            ("challenge_type", "http-01"),
        ])
        .send()
        .await
        .expect("bad issue");
    assert_eq!(invalid.status(), 400);
    let body = invalid.text().await.expect("body");
    assert!(body.contains("invalid_request"), "{body}");

    // Headers and assets.
    let resp = http
        .get(format!("{base}/"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("overview");
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(resp.headers()["x-frame-options"], "DENY");
    let html = resp.text().await.expect("html");
    assert!(
        !html.contains("<script>") && !html.contains(" style=\""),
        "no inline script or style"
    );
    for (path, kind) in [
        ("/assets/console.css", "text/css"),
        ("/assets/console.js", "text/javascript"),
    ] {
        let resp = http
            .get(format!("{base}{path}"))
            .header("cookie", &cookie)
            .send()
            .await
            .expect(path);
        assert_eq!(resp.status(), 200, "{path}");
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap_or_default()
                .starts_with(kind)
        );
    }
    // A bearer token reaches the pages too (no CSRF: a bearer is not sent by a browser on its own).
    let resp = http
        .get(format!("{base}/certificates"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("bearer page");
    assert_eq!(resp.status(), 200);
}
on_both_backends!(refuses_non_admins_and_forged_forms);
