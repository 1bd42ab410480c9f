//! Start-up's bulk fill of missing renewal tasks (`Renewals::fill_gaps`, one insert per page of
//! certificates into apalis' table instead of one push per certificate): the task it writes must be
//! one the renewal worker decodes and runs, so a certificate whose task was lost still renews.
//! Pebble issues one-minute certificates, so `renew_at` comes about 30 s after issuance.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::{Db, drop_renewal_tasks, issuing};
use scaivault_testkit::PebbleOptions;

async fn filled_renewal_task_runs(db: Db) {
    let mut env = issuing(
        db,
        PebbleOptions {
            nonce_reject_percent: Some(0),
            validity_period_secs: Some(60),
            ..Default::default()
        },
        &[],
    )
    .await;
    let api = env.service.client();
    let done = common::issue_http01(&api, &env.account_id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "valid", "{done}");
    let id = done["certificate_id"]
        .as_str()
        .expect("certificate")
        .to_owned();
    let database = env.service.database_url();
    env.service.kill9();
    drop_renewal_tasks(&database).await;
    assert!(common::live_renewal_tasks(&database, &id).await.is_empty());

    // The service answers only once start-up has filled the gaps.
    env.service.restart().await;
    let live = common::live_renewal_tasks(&database, &id).await;
    assert_eq!(
        live,
        [format!("renewal:{id}:v1:c0:a0")],
        "{}",
        env.service.log_tail()
    );
    assert!(
        env.service.log_text().contains("scheduled=1"),
        "start-up reports the one task it stored\n{}",
        env.service.log_tail()
    );

    // The filled task runs at renew_at and renews: the worker decoded what the bulk insert wrote.
    let deadline = Instant::now() + Duration::from_secs(75);
    loop {
        let (_, certificate) = api.get(&format!("/v1/pki/certificates/{id}")).await;
        if certificate["current_version"].as_i64().unwrap_or(0) >= 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not renewed: {certificate}\n{}",
            env.service.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // The filled task finishes once its job sees the order valid (it looks every 250 ms);
    // then version 2's task is the one live task.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let live = common::live_renewal_tasks(&database, &id).await;
        if live.len() == 1 && live[0].starts_with(&format!("renewal:{id}:v2:")) {
            break;
        }
        assert!(Instant::now() < deadline, "live renewal tasks: {live:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

on_both_backends!(filled_renewal_task_runs);
