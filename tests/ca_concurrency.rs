//! `[acme] max_concurrent_requests` bounds the requests in flight to one CA, however many orders
//! run at once: a local ACME front before Pebble counts how many it handles at the same time.

#[macro_use]
mod common;

use std::time::Duration;

use common::{Db, domains, issuing, wait_final};
use scaivault_testkit::{AcmeFront, AcmeFrontOptions, PebbleOptions};
use serde_json::json;

const ORDERS: usize = 16;

async fn peak_with_limit(limit: &str) -> usize {
    let pebble = PebbleOptions {
        nonce_reject_percent: Some(0),
        ..Default::default()
    };
    let env = issuing(
        Db::Sqlite,
        pebble,
        &[("SCAIVAULT_ACME__MAX_CONCURRENT_REQUESTS", limit)],
    )
    .await;
    let front = AcmeFront::start(&env.pebble, AcmeFrontOptions::default()).await;
    let api = env.service.client();
    let (status, account) = api
        .post(
            "/v1/pki/acme/accounts",
            &json!({"name": "bounded", "provider": "custom", "environment": "staging",
                    "email": "certs@acme.example", "directory_url": front.directory_url()}),
        )
        .await;
    assert_eq!(status, 201, "{account}");
    let account_id = account["id"].as_str().expect("account id");
    let bodies: Vec<_> = (0..ORDERS)
        .map(|_| {
            json!({"account_id": account_id, "domains": domains(1),
                   "challenge_type": "http-01", "auto_renew": false})
        })
        .collect();
    let placed = futures_util::future::join_all(
        bodies
            .iter()
            .map(|body| api.post("/v1/pki/acme/issue", body)),
    )
    .await;
    for (status, order) in &placed {
        assert_eq!(*status, 202, "{order}");
    }
    for (_, order) in &placed {
        let id = order["order_id"].as_str().expect("order id");
        let done = wait_final(&api, id, Duration::from_secs(60)).await;
        assert_eq!(done["status"], "valid", "{done}");
    }
    front.peak_in_flight()
}

#[tokio::test]
async fn requests_to_one_ca_stay_within_the_limit() {
    let bounded = peak_with_limit("2").await;
    assert!(
        (1..=2).contains(&bounded),
        "{bounded} requests were in flight at once with a limit of 2"
    );
    // The control: the same burst without a tight limit does overlap, so the bound above is
    // what kept the requests apart.
    let loose = peak_with_limit("64").await;
    assert!(
        loose > 2,
        "{ORDERS} orders at once never had more than {loose} requests in flight"
    );
}
