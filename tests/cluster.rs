//! Several instances on one PostgreSQL: two `scaivault` processes (A and B) share the database,
//! the master key and the admin token. Pebble validates http-01 only on B's listener and
//! tls-alpn-01 only on A's (B's own TLS-ALPN-01 responder is on a port Pebble does not use), so
//! an order started on one instance is validated through the other.
//! Orders are driven under leases (`[cluster] lease`, 3 s here): a kill -9 of A hands its orders
//! to B once the leases expire, 50 orders over both give exactly 50 CA orders and certificates,
//! and a renewal due on both instances happens once.

mod common;

use std::time::{Duration, Instant};

use common::{custom_account, domains, wait_final};
use scaivault_testkit::{
    ChallTestSrv, Pebble, PebbleOptions, PgDatabase, Service, ServiceOptions, free_port,
};
use serde_json::{Value, json};

const LEASE: Duration = Duration::from_secs(3);
const ORDER_TIMEOUT: Duration = Duration::from_secs(90);

/// Two instances and their peers; dropped in field order (services first).
struct Cluster {
    a: Service,
    b: Service,
    pebble: Pebble,
    _dns: ChallTestSrv,
    pg: PgDatabase,
    account_id: String,
}

async fn cluster(pebble: PebbleOptions) -> Cluster {
    let dns = ChallTestSrv::start().await;
    let loopback = std::net::Ipv4Addr::LOCALHOST.into();
    let http_port_b = free_port(loopback);
    let tls_port_a = free_port(loopback);
    let pebble = Pebble::start(PebbleOptions {
        http_port: Some(http_port_b),
        tls_port: Some(tls_port_a),
        dns_server: Some(dns.dns_addr()),
        ..pebble
    })
    .await;
    let pg = PgDatabase::create();
    let base = || {
        ServiceOptions::new(env!("CARGO_BIN_EXE_scaivault"))
            .postgres(pg.url())
            .extra_root(pebble.listener_root_pem_path())
            .set_str("cluster", "lease", &format!("{}s", LEASE.as_secs()))
    };
    let a = Service::start(base().set(
        "challenges",
        "tls_alpn01_listen",
        format!("[\"127.0.0.1:{tls_port_a}\"]"),
    ))
    .await;
    // B shares A's database, master key (it opens the account keys A sealed) and admin token.
    let b = Service::start(
        base()
            .set_str(
                "security",
                "master_key_file",
                &a.data_dir().join("master.key").display().to_string(),
            )
            .set_str("security", "admin_token", a.admin_token())
            .set(
                "challenges",
                "http01_listen",
                format!("[\"127.0.0.1:{http_port_b}\"]"),
            )
            // B has a TLS-ALPN-01 responder too (an instance without one refuses tls-alpn-01
            // orders), on a port Pebble never connects to: its tls-alpn-01 orders are still
            // validated through A's.
            .set(
                "challenges",
                "tls_alpn01_listen",
                format!("[\"127.0.0.1:{}\"]", free_port(loopback)),
            ),
    )
    .await;
    let (status, account) = a
        .client()
        .post("/v1/pki/acme/accounts", &custom_account("cluster", &pebble))
        .await;
    assert_eq!(status, 201, "{account}");
    Cluster {
        account_id: account["id"].as_str().expect("account id").to_owned(),
        a,
        b,
        pebble,
        _dns: dns,
        pg,
    }
}

fn quiet_pebble() -> PebbleOptions {
    PebbleOptions {
        nonce_reject_percent: Some(0),
        ..Default::default()
    }
}

/// Places an order through `service`; returns its id.
async fn issue(service: &Service, account_id: &str, challenge_type: &str) -> String {
    let (status, placed) = service
        .client()
        .post(
            "/v1/pki/acme/issue",
            &json!({"account_id": account_id, "domains": domains(1),
                    "challenge_type": challenge_type}),
        )
        .await;
    assert_eq!(status, 202, "{placed}");
    placed["order_id"].as_str().expect("order id").to_owned()
}

async fn instance_id(service: &Service) -> String {
    let (status, ready) = service.client().without_token().get("/readyz").await;
    assert_eq!(status, 200, "{ready}");
    ready["instance_id"]
        .as_str()
        .expect("instance_id in /readyz")
        .to_owned()
}

/// One line of `SELECT` output through psql.
fn scalar(pg: &PgDatabase, sql: &str) -> String {
    pg.query(sql).trim().to_owned()
}

fn count_lines(text: &str, needle: &str) -> usize {
    text.lines().filter(|line| line.contains(needle)).count()
}

/// Waits until no order lease is left (each is handed back when its order ends).
async fn wait_no_leases(pg: &PgDatabase) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = scalar(pg, "SELECT count(*) FROM order_leases");
        if left == "0" {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "leases left after the orders ended: {left}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn orders_are_validated_through_the_other_instance() {
    let env = cluster(quiet_pebble()).await;
    let (id_a, id_b) = (instance_id(&env.a).await, instance_id(&env.b).await);
    assert!(id_a.starts_with("inst_") && id_b.starts_with("inst_"));
    assert_ne!(id_a, id_b, "one instance id per process");
    assert!(
        env.a.log_text().contains(&id_a),
        "the instance id is logged"
    );

    // http-01 from A: Pebble validates on B's http-01 listener only.
    let http = issue(&env.a, &env.account_id, "http-01").await;
    // tls-alpn-01 from B: Pebble validates on A's tls-alpn-01 responder only.
    let tls = issue(&env.b, &env.account_id, "tls-alpn-01").await;
    for (order_id, via) in [(&http, &env.b), (&tls, &env.a)] {
        // Either instance answers for any order.
        let done = wait_final(&via.client(), order_id, ORDER_TIMEOUT).await;
        assert_eq!(
            done["status"],
            "valid",
            "{done}\nA:\n{}\nB:\n{}",
            env.a.log_tail(),
            env.b.log_tail()
        );
    }
    assert!(
        env.b.log_text().contains("answered http-01 challenge"),
        "B's listener answered A's http-01 order"
    );
    wait_no_leases(&env.pg).await;
    // An instance killed between an order's end and handing its lease back leaves an expired
    // lease on a final order: the next takeover pass of a live instance drops it.
    env.pg.query(&format!(
        "INSERT INTO order_leases (order_id, owner, expires_at, acquired_at) \
         VALUES ('{http}', 'inst_dead', 1, 1)"
    ));
    wait_no_leases(&env.pg).await;
}

#[tokio::test]
async fn kill9_of_one_instance_hands_its_orders_to_the_other() {
    // Pebble's VA waits up to 3 s before validating, so orders are still in flight at the kill.
    let pebble = PebbleOptions {
        va_nosleep: false,
        nonce_reject_percent: Some(0),
        env: vec![("PEBBLE_VA_SLEEPTIME".into(), "3".into())],
        ..Default::default()
    };
    let mut env = cluster(pebble).await;
    let id_a = instance_id(&env.a).await;
    let mut orders = Vec::new();
    for _ in 0..6 {
        orders.push(issue(&env.a, &env.account_id, "http-01").await);
    }
    env.a.kill9();
    let killed = Instant::now();
    // A drove the orders it placed: the ones still unfinished at the kill keep A's leases
    // until they expire, and B must take exactly those over. (Read after the kill: before it,
    // A may still finish some.)
    let held_by_a: Vec<String> = orders
        .iter()
        .filter(|id| {
            scalar(
                &env.pg,
                &format!(
                    "SELECT owner FROM order_leases l JOIN acme_orders o ON o.id = l.order_id \
                     WHERE l.order_id = '{id}' AND o.status IN ('pending', 'ready', 'processing')"
                ),
            ) == id_a
        })
        .cloned()
        .collect();
    assert!(
        !held_by_a.is_empty(),
        "A holds leases of orders in flight at the kill"
    );
    let api = env.b.client();
    for id in &orders {
        let done = wait_final(&api, id, ORDER_TIMEOUT).await;
        assert_eq!(done["status"], "valid", "{done}\n{}", env.b.log_tail());
    }
    let took = killed.elapsed();
    eprintln!(
        "B completed {} orders ({} taken over from A) {took:?} after the kill",
        orders.len(),
        held_by_a.len()
    );
    // Lease expiry (3 s) + a takeover pass (1.5 s) + Pebble's validation wait (up to 3 s) +
    // issuance, with slack for a loaded machine.
    assert!(
        took < LEASE + Duration::from_secs(12),
        "B completed A's orders {took:?} after the kill"
    );
    let log_b = env.b.log_text();
    for id in &held_by_a {
        assert!(
            log_b
                .lines()
                .any(|l| l.contains("taking over an order nobody drives") && l.contains(id)),
            "B took {id} over\n{}",
            env.b.log_tail()
        );
    }
    // One CA order and one certificate per order, no duplicates.
    assert_eq!(
        scalar(
            &env.pg,
            "SELECT count(*), sum(ca_attempts) FROM acme_orders"
        ),
        "6|6"
    );
    assert_eq!(
        scalar(
            &env.pg,
            "SELECT count(*), count(DISTINCT serial_number) FROM certificate_versions"
        ),
        "6|6"
    );
    assert_eq!(
        count_lines(&env.pebble.log_text(), "Issued certificate serial"),
        6
    );
    wait_no_leases(&env.pg).await;
}

#[tokio::test]
async fn fifty_orders_over_both_give_fifty_certificates() {
    let env = cluster(quiet_pebble()).await;
    let mut placing = tokio::task::JoinSet::new();
    for i in 0..50 {
        let via = if i % 2 == 0 { &env.a } else { &env.b };
        let (client, account_id) = (via.client(), env.account_id.clone());
        placing.spawn(async move {
            let (status, placed) = client
                .post(
                    "/v1/pki/acme/issue",
                    &json!({"account_id": account_id, "domains": domains(1),
                            "challenge_type": if i % 4 < 2 { "http-01" } else { "tls-alpn-01" }}),
                )
                .await;
            assert_eq!(status, 202, "{placed}");
            placed["order_id"].as_str().expect("order id").to_owned()
        });
    }
    let orders: Vec<String> = placing.join_all().await;
    let api = env.a.client();
    for id in &orders {
        let done = wait_final(&api, id, ORDER_TIMEOUT).await;
        assert_eq!(
            done["status"],
            "valid",
            "{done}\nA:\n{}\nB:\n{}",
            env.a.log_tail(),
            env.b.log_tail()
        );
    }
    let (_, certificates) = api.get("/v1/pki/certificates?limit=100").await;
    assert_eq!(
        certificates["certificates"]
            .as_array()
            .expect("certificates")
            .len(),
        50
    );
    assert_eq!(
        scalar(
            &env.pg,
            "SELECT count(*), sum(ca_attempts) FROM acme_orders"
        ),
        "50|50"
    );
    assert_eq!(
        scalar(
            &env.pg,
            "SELECT count(*), count(DISTINCT serial_number) FROM certificate_versions"
        ),
        "50|50"
    );
    // At the CA: exactly 50 orders and 50 certificates.
    let pebble_log = env.pebble.log_text();
    assert_eq!(count_lines(&pebble_log, "Added order"), 50);
    assert_eq!(count_lines(&pebble_log, "Issued certificate serial"), 50);
    // Both instances drove orders.
    for (name, service) in [("A", &env.a), ("B", &env.b)] {
        assert!(
            service.log_text().contains("certificate issued"),
            "{name} drove none of the orders"
        );
    }
    wait_no_leases(&env.pg).await;
}

/// The certificate's versions.
async fn versions(service: &Service, certificate_id: &str) -> Vec<Value> {
    let (status, certificate) = service
        .client()
        .get(&format!("/v1/pki/certificates/{certificate_id}"))
        .await;
    assert_eq!(status, 200, "{certificate}");
    certificate["versions"]
        .as_array()
        .expect("versions")
        .clone()
}

#[tokio::test]
async fn a_renewal_due_on_both_instances_happens_once() {
    // One-minute certificates: the renewal is due about 30 s after issuance, on both instances'
    // renewal workers (one job queue in the shared database).
    let env = cluster(PebbleOptions {
        nonce_reject_percent: Some(0),
        validity_period_secs: Some(60),
        ..Default::default()
    })
    .await;
    let order_id = issue(&env.a, &env.account_id, "http-01").await;
    let done = wait_final(&env.a.client(), &order_id, ORDER_TIMEOUT).await;
    assert_eq!(done["status"], "valid", "{done}");
    let certificate_id = done["certificate_id"].as_str().expect("certificate");

    let deadline = Instant::now() + Duration::from_secs(75);
    while versions(&env.b, certificate_id).await.len() < 2 {
        assert!(
            Instant::now() < deadline,
            "not renewed\nA:\n{}\nB:\n{}",
            env.a.log_tail(),
            env.b.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Give a second renewal every chance to show up: there is none.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(versions(&env.a, certificate_id).await.len(), 2);
    assert_eq!(
        scalar(
            &env.pg,
            &format!("SELECT count(*) FROM acme_orders WHERE certificate_id = '{certificate_id}'")
        ),
        // The first order gets the certificate id when it is issued, the renewal has it at once.
        "2"
    );
    assert_eq!(count_lines(&env.pebble.log_text(), "Added order"), 2);

    // Asked to renew on both at the same moment: one order, the other request joins it.
    let path = format!("/v1/pki/certificates/{certificate_id}/renew");
    let (client_a, client_b) = (env.a.client(), env.b.client());
    let body = json!({});
    let ((status_a, renewal_a), (status_b, renewal_b)) =
        tokio::join!(client_a.post(&path, &body), client_b.post(&path, &body));
    assert_eq!((status_a, status_b), (202, 202), "{renewal_a} {renewal_b}");
    let ids = [&renewal_a["order_id"], &renewal_b["order_id"]].map(|id| id.as_str().expect("id"));
    for id in ids {
        let done = wait_final(&client_b, id, ORDER_TIMEOUT).await;
        assert_eq!(done["status"], "valid", "{done}");
    }
    // Joined (one order) when the first renewal was still in flight as the second was asked
    // for; two orders only when the first had already finished, which happens when Pebble
    // reuses the valid authorization and the renewal completes in a few ms. Two renewal
    // orders in flight at once cannot both be stored (a unique index on acme_orders); the
    // join itself is tested deterministically in tests/issuance.rs.
    eprintln!(
        "forced renewals on A and B: {}",
        if ids[0] == ids[1] {
            "joined"
        } else {
            "one after the other"
        }
    );
    let renewals = if ids[0] == ids[1] { 1 } else { 2 };
    assert_eq!(
        versions(&env.a, certificate_id).await.len(),
        2 + renewals,
        "{renewal_a} {renewal_b}"
    );
}
