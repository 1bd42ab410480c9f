//! Crash loop: 20 issuance flows (mostly dns-01 through a real BIND, some http-01) while the
//! service is killed with SIGKILL at random points and restarted at once, several times.
//!
//! What must hold afterwards, however the kills fell:
//! - every order that exists ends `valid`, and every requested order exists exactly once (a
//!   `POST /issue` that got no answer may or may not have created its order: the placer looks
//!   the order up by its names after the restart and only asks again when it is not there);
//! - no `_acme-challenge` TXT record is left in BIND, and every stored record says `removed`;
//! - no certificate is issued twice: Pebble logs one `Issued certificate serial` line per
//!   certificate, and their number and serials equal the orders' (one version each) in the store.
//!
//! Pebble's VA waits up to a second ([`VA_SLEEP_SECS`]) before validating, so kills land
//! between "challenge ready" and "valid" as well as during placement, publication, finalisation
//! and cleanup. The kill delays (and the order mix and pacing) come from a seeded RNG; the seed
//! is printed, and `SCAIVAULT_TEST_CRASH_SEED=<seed>` replays the same schedule (the peers'
//! timings still vary, so a replay is likely, not certain, to hit the same interleaving).

#[macro_use]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::{Db, custom_account, options, wait_final};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use scaivault_testkit::{ApiClient, Bind, BindOptions, Pebble, PebbleOptions, Service, free_port};
use serde_json::{Value, json};

/// Issuance flows driven through the crash loop.
const ORDERS: usize = 20;
/// Every this many orders one is http-01; the rest are dns-01.
const HTTP01_EVERY: usize = 4;
/// Kills over the run: at least, and at most.
const KILLS: std::ops::RangeInclusive<u32> = 5..=8;
/// Delay before each kill, after the previous restart (milliseconds).
const KILL_DELAY_MS: std::ops::Range<u64> = 150..1800;
/// Pause between two placements (milliseconds).
const PLACE_GAP_MS: std::ops::Range<u64> = 0..700;
/// `PEBBLE_VA_SLEEPTIME`: Pebble 2.4's VA waits a random whole number of seconds below N
/// before validating (here 0 or 1 s).
const VA_SLEEP_SECS: &str = "2";
/// Zone of the dns-01 names (TXT records written through rfc2136).
const DNS_ZONE: &str = "example.test";
/// Zone of the http-01 names: a wildcard A record points them at 127.0.0.1.
const HTTP_ZONE: &str = "http.test";
/// `[cluster] lease`: on PostgreSQL a restarted process is a new instance and takes over the
/// dead one's orders once their leases expire (SQLite drops them at start).
const LEASE: &str = "2s";
const ORDER_TIMEOUT: Duration = Duration::from_secs(60);
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(40);

/// One flow: the names (unique to this run) and how they are validated.
#[derive(Debug, Clone)]
struct Plan {
    domains: Vec<String>,
    challenge_type: &'static str,
}

impl Plan {
    /// The `_acme-challenge` names its TXT records go to (dns-01 only).
    fn txt_names(&self) -> BTreeSet<String> {
        match self.challenge_type {
            "dns-01" => self
                .domains
                .iter()
                .map(|d| format!("_acme-challenge.{}", d.trim_start_matches("*.")))
                .collect(),
            _ => BTreeSet::new(),
        }
    }
}

struct Env {
    service: Service,
    bind: Bind,
    pebble: Pebble,
    _pg: Option<scaivault_testkit::PgDatabase>,
    account_id: String,
    provider_id: String,
}

/// BIND (both zones, TSIG updates), Pebble validating through it with a VA delay, the service
/// (rfc2136 provider, http-01 listener on Pebble's http port), an account.
async fn env(db: Db) -> Env {
    let bind = Bind::start(
        BindOptions::zones([DNS_ZONE, HTTP_ZONE]).record(HTTP_ZONE, "* 60 IN A 127.0.0.1"),
    )
    .await;
    let http_port = free_port(std::net::Ipv4Addr::LOCALHOST.into());
    let pebble = Pebble::start(PebbleOptions {
        http_port: Some(http_port),
        dns_server: Some(bind.addr()),
        nonce_reject_percent: Some(0),
        va_nosleep: false,
        env: vec![("PEBBLE_VA_SLEEPTIME".into(), VA_SLEEP_SECS.into())],
        ..Default::default()
    })
    .await;
    let (opts, pg) = options(db);
    let service = Service::start(
        opts.extra_root(pebble.listener_root_pem_path())
            .set(
                "challenges",
                "http01_listen",
                format!("[\"127.0.0.1:{http_port}\"]"),
            )
            .set("dns", "resolvers", format!("[\"{}\"]", bind.addr()))
            .set_str("dns", "propagation_interval", "100ms")
            .set_str("dns", "propagation_timeout", "20s")
            .set_str("cluster", "lease", LEASE),
    )
    .await;
    let api = service.client();
    let (status, account) = api
        .post("/v1/pki/acme/accounts", &custom_account("crash", &pebble))
        .await;
    assert_eq!(status, 201, "{account}");
    let provider = common::bind_provider(&api, &bind, bind.tsig_secret_b64()).await;
    Env {
        account_id: account["id"].as_str().expect("id").to_owned(),
        provider_id: provider["id"].as_str().expect("id").to_owned(),
        service,
        bind,
        pebble,
        _pg: pg,
    }
}

/// The run's flows: every [`HTTP01_EVERY`]th http-01, the rest dns-01, some of those for a name
/// and its wildcard (two TXT values at one name) or two names.
fn plans(rng: &mut StdRng) -> Vec<Plan> {
    let tag = format!("c{:x}", rng.random::<u32>());
    (0..ORDERS)
        .map(|i| {
            if i % HTTP01_EVERY == HTTP01_EVERY - 1 {
                return Plan {
                    domains: vec![format!("h{i}-{tag}.{HTTP_ZONE}")],
                    challenge_type: "http-01",
                };
            }
            let name = format!("d{i}.{tag}.{DNS_ZONE}");
            let domains = match rng.random_range(0..3) {
                0 => vec![name.clone(), format!("*.{name}")],
                1 => vec![name, format!("e{i}.{tag}.{DNS_ZONE}")],
                _ => vec![name],
            };
            Plan {
                domains,
                challenge_type: "dns-01",
            }
        })
        .collect()
}

/// Every order the service holds, by its sorted names.
async fn orders_by_domains(api: &ApiClient) -> BTreeMap<Vec<String>, Vec<Value>> {
    let (status, page) = api.get("/v1/pki/acme/orders?limit=100").await;
    assert_eq!(status, 200, "{page}");
    assert!(page["next_cursor"].is_null(), "fewer than 100 orders");
    let mut by_domains: BTreeMap<Vec<String>, Vec<Value>> = BTreeMap::new();
    for order in page["orders"].as_array().expect("orders") {
        let mut domains: Vec<String> = order["domains"]
            .as_array()
            .expect("domains")
            .iter()
            .map(|d| d.as_str().expect("domain").to_owned())
            .collect();
        domains.sort();
        by_domains.entry(domains).or_default().push(order.clone());
    }
    by_domains
}

fn sorted(domains: &[String]) -> Vec<String> {
    let mut domains = domains.to_vec();
    domains.sort();
    domains
}

/// Waits until the service answers `/healthz` (it may be down between a kill and its restart).
async fn wait_up(api: &ApiClient) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(answer) = api
            .without_token()
            .try_raw(reqwest::Method::GET, "/healthz", None)
            .await
            && answer.status == 200
        {
            return;
        }
        assert!(Instant::now() < deadline, "the service did not come back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What the placer saw.
#[derive(Debug, Default)]
struct Placed {
    /// Plan index → order id.
    ids: BTreeMap<usize, String>,
    /// POSTs that got no answer (connection refused or cut by a kill).
    unanswered: usize,
    /// Of those, how many had created their order all the same.
    created_anyway: usize,
}

/// Places every plan over the API while the service may be killed at any moment. A POST that
/// gets no answer may or may not have created the order, so after the service is back the
/// order is looked up by its names (unique to the plan) and asked for again only if absent.
async fn place_all(
    api: ApiClient,
    account_id: String,
    provider_id: String,
    plans: Vec<Plan>,
    seed: u64,
) -> Placed {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut placed = Placed::default();
    for (i, plan) in plans.iter().enumerate() {
        tokio::time::sleep(Duration::from_millis(rng.random_range(PLACE_GAP_MS))).await;
        let mut body = json!({
            "account_id": account_id,
            "domains": plan.domains,
            "challenge_type": plan.challenge_type,
        });
        if plan.challenge_type == "dns-01" {
            body["dns_provider_id"] = json!(provider_id);
        }
        loop {
            match api
                .try_raw(reqwest::Method::POST, "/v1/pki/acme/issue", Some(&body))
                .await
            {
                Ok(answer) => {
                    assert_eq!(answer.status, 202, "POST /issue: {}", answer.body);
                    let id = answer.json()["order_id"]
                        .as_str()
                        .expect("order id")
                        .to_owned();
                    placed.ids.insert(i, id);
                    break;
                }
                Err(_) => {
                    placed.unanswered += 1;
                    wait_up(&api).await;
                    let existing = orders_by_domains(&api)
                        .await
                        .remove(&sorted(&plan.domains))
                        .unwrap_or_default();
                    assert!(existing.len() <= 1, "one order per request: {existing:?}");
                    if let Some(order) = existing.first() {
                        placed.created_anyway += 1;
                        let id = order["order_id"].as_str().expect("order id").to_owned();
                        placed.ids.insert(i, id);
                        break;
                    }
                }
            }
        }
    }
    placed
}

/// How many orders the service holds per status, and how many are not final.
#[derive(Debug)]
struct Snapshot {
    unfinished: usize,
    by_status: BTreeMap<String, usize>,
}

async fn status_counts(api: &ApiClient) -> Snapshot {
    let (status, page) = api.get("/v1/pki/acme/orders?limit=100").await;
    assert_eq!(status, 200, "{page}");
    let mut by_status = BTreeMap::new();
    for order in page["orders"].as_array().expect("orders") {
        let state = order["status"].as_str().expect("status").to_owned();
        *by_status.entry(state).or_default() += 1;
    }
    let unfinished = ["pending", "ready", "processing"]
        .iter()
        .filter_map(|s| by_status.get(*s))
        .sum();
    Snapshot {
        unfinished,
        by_status,
    }
}

/// A serial as upper-case hex without colons or leading zeros.
fn normal_serial(serial: &str) -> String {
    let hex: String = serial.chars().filter(|c| *c != ':').collect();
    hex.trim_start_matches('0').to_uppercase()
}

async fn crash_loop(db: Db) {
    let seed = std::env::var("SCAIVAULT_TEST_CRASH_SEED")
        .ok()
        .map(|s| {
            s.parse::<u64>()
                .expect("SCAIVAULT_TEST_CRASH_SEED is a u64")
        })
        .unwrap_or_else(rand::random);
    eprintln!("crash loop on {db:?}: seed {seed} (replay with SCAIVAULT_TEST_CRASH_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();
    let mut env = env(db).await;
    let set_up = started.elapsed();
    let plans = plans(&mut rng);
    let api = env.service.client();

    let placer = tokio::spawn(place_all(
        api.clone(),
        env.account_id.clone(),
        env.provider_id.clone(),
        plans.clone(),
        rng.random(),
    ));
    let kills = rng.random_range(KILLS);
    let mut killed = 0;
    let mut in_flight_at_kills = Vec::new();
    while killed < kills {
        let delay = Duration::from_millis(rng.random_range(KILL_DELAY_MS));
        tokio::time::sleep(delay).await;
        // What the kill interrupts (read just before it; an order may still finish in between).
        let snapshot = status_counts(&api).await;
        if placer.is_finished() && snapshot.unfinished == 0 {
            break;
        }
        env.service.kill9();
        env.service.restart().await;
        killed += 1;
        eprintln!(
            "seed {seed}: kill {killed} after {} ms, orders by status: {:?}",
            delay.as_millis(),
            snapshot.by_status
        );
        in_flight_at_kills.push(snapshot.unfinished);
    }
    let loop_ended = started.elapsed();
    let placed = placer.await.expect("placer");
    eprintln!(
        "seed {seed}: {killed} kills; {} POSTs unanswered, {} of them had created their order",
        placed.unanswered, placed.created_anyway
    );
    assert!(
        in_flight_at_kills.iter().filter(|n| **n > 0).count() >= 2,
        "seed {seed}: at least two kills hit orders in flight: {in_flight_at_kills:?}"
    );

    // Every requested order exists exactly once, and no other order exists.
    let by_domains = orders_by_domains(&api).await;
    assert_eq!(
        by_domains.values().map(Vec::len).sum::<usize>(),
        ORDERS,
        "seed {seed}: one order per request: {by_domains:#?}"
    );
    for (i, plan) in plans.iter().enumerate() {
        let orders = &by_domains[&sorted(&plan.domains)];
        assert_eq!(orders.len(), 1, "seed {seed}: {orders:?}");
        assert_eq!(
            orders[0]["order_id"].as_str(),
            placed.ids.get(&i).map(String::as_str)
        );
    }

    // Every order ends valid.
    let mut finals = Vec::new();
    for (i, plan) in plans.iter().enumerate() {
        let done = wait_final(&api, &placed.ids[&i], ORDER_TIMEOUT).await;
        assert_eq!(
            done["status"],
            "valid",
            "seed {seed}: {plan:?} ended {done}\n{}",
            env.service.log_tail()
        );
        finals.push(done);
    }
    let all_valid = started.elapsed();

    // No TXT record left: every stored record removed, and BIND serves none of the names.
    let txt_names: BTreeSet<String> = plans.iter().flat_map(Plan::txt_names).collect();
    let deadline = Instant::now() + CLEANUP_TIMEOUT;
    loop {
        let mut left = Vec::new();
        for (i, plan) in plans.iter().enumerate() {
            if plan.challenge_type != "dns-01" {
                continue;
            }
            let (_, order) = api
                .get(&format!("/v1/pki/acme/orders/{}", placed.ids[&i]))
                .await;
            for record in order["dns_records"].as_array().expect("dns_records") {
                if record["state"] != "removed" {
                    left.push(record.clone());
                }
            }
        }
        for name in &txt_names {
            let values = env.bind.txt(name).await;
            if !values.is_empty() {
                left.push(json!({"bind": name, "values": values}));
            }
        }
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "seed {seed}: TXT records left after {CLEANUP_TIMEOUT:?}: {left:#?}\n{}",
            env.service.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cleaned = started.elapsed();
    // An unreachable BIND would also answer "no TXT": it must still answer for its zone.
    assert!(
        !env.bind.query("SOA", DNS_ZONE).await.is_empty(),
        "BIND answers"
    );

    // No certificate issued twice: one version per order in the store, and exactly those
    // certificates at the CA.
    let mut stored_serials = BTreeSet::new();
    let mut certificate_ids = BTreeSet::new();
    for done in &finals {
        let id = done["certificate_id"].as_str().expect("certificate id");
        assert!(
            certificate_ids.insert(id.to_owned()),
            "seed {seed}: one certificate per order"
        );
        let (status, certificate) = api.get(&format!("/v1/pki/certificates/{id}")).await;
        assert_eq!(status, 200, "{certificate}");
        let versions = certificate["versions"].as_array().expect("versions");
        assert_eq!(versions.len(), 1, "seed {seed}: one version: {certificate}");
        assert_eq!(versions[0]["order_id"], done["order_id"]);
        stored_serials.insert(normal_serial(
            versions[0]["serial_number"].as_str().expect("serial"),
        ));
    }
    let (_, listed) = api.get("/v1/pki/certificates?limit=100").await;
    assert_eq!(
        listed["certificates"]
            .as_array()
            .expect("certificates")
            .len(),
        ORDERS,
        "seed {seed}: no certificate beyond the orders'"
    );
    let issued_at_ca: Vec<String> = env
        .pebble
        .log_text()
        .lines()
        .filter_map(|line| line.split("Issued certificate serial ").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(normal_serial)
        .collect();
    assert_eq!(
        issued_at_ca.len(),
        ORDERS,
        "seed {seed}: the CA issued one certificate per order: {issued_at_ca:?}"
    );
    assert_eq!(
        issued_at_ca.iter().cloned().collect::<BTreeSet<_>>(),
        stored_serials,
        "seed {seed}: the CA's certificates are the stored ones"
    );
    let reorders: i64 = finals
        .iter()
        .map(|o| o["ca_attempts"].as_i64().unwrap_or(1) - 1)
        .sum();
    eprintln!(
        "seed {seed} on {db:?}: set-up {set_up:.1?}, kill loop ended {loop_ended:.1?}, all valid \
         {all_valid:.1?}, TXT cleaned {cleaned:.1?}; {reorders} orders placed again at the CA"
    );
}
on_both_backends!(crash_loop);
