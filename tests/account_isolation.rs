//! One stalled CA must not hold up another account's orders. Account A talks to its CA through
//! an `AcmeFront` that is made to stall like a hung CA (connections accepted, nothing answered);
//! account B talks to a healthy CA. While an order through A hangs, orders through B must be
//! placed and become valid about as fast as without the stall — both while A's account actor is
//! running and after a restart, when the service restores accounts lazily on first use and so
//! tries to restore A against the stalled CA.
//!
//! After the restart, looking up B must not wait for the restoration of A: account actors are
//! found in ractor's registry with no lock of ours, and an actor restores its account at its
//! first message, so the stalled CA holds up only A's own work.
//!
//! B uses the same Pebble directly: the service tells CAs apart by directory URL and by
//! `host:port` (connection pool, per-CA request limit), and the front has its own port, so one
//! Pebble already gives two independent CAs, and Pebble's http-01 validation keeps reaching the
//! service's one http-01 listener.

mod common;

use std::time::{Duration, Instant};

use common::{Db, domains, issuing, register_custom};
use scaivault_testkit::{AcmeFront, AcmeFrontOptions, ApiClient, PebbleOptions};
use serde_json::json;
use tokio::task::JoinHandle;

/// How long `POST /v1/pki/acme/issue` through B may take while A's CA stalls. Without the stall
/// it answers well within a second; a lookup blocked behind A's would take the service's 90 s
/// call timeout, or forever.
const PLACED_WITHIN: Duration = Duration::from_secs(20);
/// The baseline order through B, without any stall.
const BASELINE_WITHIN: Duration = Duration::from_secs(60);
/// How long the service may take to reach A's CA after the order through A is sent.
const REACHES_CA_WITHIN: Duration = Duration::from_secs(20);

/// An API call that cannot finish (its CA stalls), run in the background and aborted when this
/// is dropped, so the test never waits for it and never leaves it running.
struct Hung(JoinHandle<()>);

impl Drop for Hung {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Sends an order through `account_id`, whose CA is `front` (stalled), in the background, and
/// returns once the front has seen the service try to reach it: from then on the service is
/// busy with A's stalled CA (after a restart: restoring A, inside the account lookup).
async fn start_hung_order(api: &ApiClient, front: &AcmeFront, account_id: &str) -> Hung {
    let held = || front.stalled_connections() + front.stalled_requests();
    let before = held();
    let api = api.clone();
    let body =
        json!({"account_id": account_id, "domains": domains(1), "challenge_type": "http-01"});
    let hung = Hung(tokio::spawn(async move {
        let _ = api
            .try_raw(reqwest::Method::POST, "/v1/pki/acme/issue", Some(&body))
            .await;
    }));
    let deadline = Instant::now() + REACHES_CA_WITHIN;
    while held() == before {
        assert!(
            Instant::now() < deadline,
            "the order through account A did not reach its (stalled) CA within \
             {REACHES_CA_WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "account A's order ran into its stalled CA (held so far: {} new connections, {} requests \
         on kept-alive ones)",
        front.stalled_connections(),
        front.stalled_requests()
    );
    hung
}

/// Issues an http-01 certificate through `account_id` and returns how long the order took from
/// `POST /v1/pki/acme/issue` to `valid`; fails if it is not placed within `PLACED_WITHIN` or not
/// valid within `within`. `when` describes the situation for the failure messages.
async fn timed_issue(api: &ApiClient, account_id: &str, within: Duration, when: &str) -> Duration {
    let start = Instant::now();
    let body =
        json!({"account_id": account_id, "domains": domains(1), "challenge_type": "http-01"});
    let Ok((status, placed)) =
        tokio::time::timeout(PLACED_WITHIN, api.post("/v1/pki/acme/issue", &body)).await
    else {
        panic!(
            "the order through account B was not placed within {PLACED_WITHIN:?} {when}: a \
             stalled CA blocks other accounts"
        );
    };
    assert_eq!(status, 202, "{when}: {placed}");
    let placed_after = start.elapsed();
    let id = placed["order_id"].as_str().expect("order id");
    let deadline = start + within;
    loop {
        let (status, order) = api.get(&format!("/v1/pki/acme/orders/{id}")).await;
        assert_eq!(status, 200, "{order}");
        match order["status"].as_str().unwrap_or_default() {
            "valid" => return start.elapsed(),
            "pending" | "ready" | "processing" => {}
            _ => panic!("the order through account B failed {when}: {order}"),
        }
        assert!(
            Instant::now() < deadline,
            "the order through account B was not valid within {within:?} {when} \
             (placed after {placed_after:?}): a stalled CA slows other accounts down: {order}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_stalled_ca_does_not_hold_up_another_accounts_orders() {
    let pebble = PebbleOptions {
        nonce_reject_percent: Some(0),
        ..Default::default()
    };
    // Account B ("issuer") is registered directly at Pebble.
    let mut env = issuing(Db::Sqlite, pebble, &[]).await;
    let front = AcmeFront::start(&env.pebble, AcmeFrontOptions::default()).await;
    let api = env.service.client();
    let a = register_custom(&api, "behind-stalling-ca", &front.directory_url()).await;
    let b = env.account_id.clone();

    let baseline = timed_issue(&api, &b, BASELINE_WITHIN, "without a stall").await;
    let bound = (baseline * 3).max(baseline + Duration::from_secs(5));
    eprintln!("account B without a stall: valid after {baseline:?}; bound {bound:?}");

    // A's actor is running (A was just registered).
    front.set_stalled(true);
    let hung = start_hung_order(&api, &front, &a).await;
    let running = timed_issue(
        &api,
        &b,
        bound,
        "while account A's CA stalls (A's actor running)",
    )
    .await;
    eprintln!("account B while A's CA stalls, A's actor running: valid after {running:?}");
    // Aborting the call closes its connection, so the service drops the request and its graceful
    // shutdown, which waits for requests in flight, is not held up by it.
    drop(hung);

    // After a restart no account actor runs: the order through A makes the service restore A
    // against the stalled CA, and B is restored on first use while that hangs.
    env.service.restart().await;
    let hung = start_hung_order(&api, &front, &a).await;
    let restored = timed_issue(
        &api,
        &b,
        bound,
        "while account A's CA stalls (after a restart, A being restored)",
    )
    .await;
    eprintln!("account B while A's CA stalls, after a restart: valid after {restored:?}");
    drop(hung);
}
