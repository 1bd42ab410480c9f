//! The renewal queue on both backends: every test runs once on a fresh SQLite file and once on a
//! fresh PostgreSQL database (127.0.0.1:5432, user postgres, dropped afterwards).

#[macro_use]
mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{DEADLINE, options};
use scaivault_jobs::{Backoff, Job, JobError, JobQueue, QueueOptions, RenewalTask};

type RenewalQueue = JobQueue<RenewalTask>;
const QUEUE_NAME: &str = RenewalTask::QUEUE;
use sqlx::Connection;
use time::OffsetDateTime;
use tokio::sync::watch;

fn task(certificate_id: &str) -> RenewalTask {
    RenewalTask {
        certificate_id: certificate_id.into(),
        version: 1,
        check: 0,
        attempt: 0,
    }
}

/// Each handler call: the task and when it came.
type Calls = Arc<Mutex<Vec<(RenewalTask, OffsetDateTime, Instant)>>>;

/// A handler that records its calls and fails while `attempt < fail_below`.
fn recorder(
    calls: Calls,
    fail_below: u32,
) -> impl Fn(RenewalTask) -> std::future::Ready<Result<(), JobError>> + Clone + Send + Sync + 'static
{
    move |task: RenewalTask| {
        let attempt = task.attempt;
        calls
            .lock()
            .unwrap()
            .push((task, OffsetDateTime::now_utc(), Instant::now()));
        std::future::ready(if attempt < fail_below {
            Err(JobError::new(format!("attempt {attempt} fails")))
        } else {
            Ok(())
        })
    }
}

/// The statuses of the renewal queue's rows in apalis' own table, sorted.
async fn job_statuses(url: &str) -> Vec<String> {
    let mut statuses: Vec<String> = if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.expect("sqlite");
        sqlx::query_scalar("SELECT status FROM Jobs WHERE job_type = ?")
            .bind(QUEUE_NAME)
            .fetch_all(&mut conn)
            .await
            .expect("read Jobs")
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.expect("postgres");
        sqlx::query_scalar("SELECT status FROM apalis.jobs WHERE job_type = $1")
            .bind(QUEUE_NAME)
            .fetch_all(&mut conn)
            .await
            .expect("read apalis.jobs")
    };
    statuses.sort();
    statuses
}

/// Waits until the queue holds exactly `n` tasks, all completed (so none can run again).
async fn all_done(url: &str, n: usize) {
    let want = vec!["Done".to_owned(); n];
    let start = Instant::now();
    loop {
        let statuses = job_statuses(url).await;
        if statuses == want {
            return;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "timed out waiting for {n} completed tasks: {statuses:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether both migration tables exist, each with its own rows.
async fn migration_tables(url: &str) -> (i64, i64) {
    const APP: &str = "SELECT COUNT(*) FROM scaivault_migrations";
    if url.starts_with("sqlite:") {
        // apalis-sqlite keeps sqlx' default table.
        const JOBS: &str = "SELECT COUNT(*) FROM _sqlx_migrations";
        let mut conn = sqlx::SqliteConnection::connect(url).await.expect("sqlite");
        let app = sqlx::query_scalar(APP).fetch_one(&mut conn).await;
        let jobs = sqlx::query_scalar(JOBS).fetch_one(&mut conn).await;
        (app.expect("app migrations"), jobs.expect("job migrations"))
    } else {
        // apalis-postgres' sqlx.toml moves its table into its own schema.
        const JOBS: &str = "SELECT COUNT(*) FROM apalis._sqlx_migrations";
        let mut conn = sqlx::PgConnection::connect(url).await.expect("postgres");
        let app = sqlx::query_scalar(APP).fetch_one(&mut conn).await;
        let jobs = sqlx::query_scalar(JOBS).fetch_one(&mut conn).await;
        (app.expect("app migrations"), jobs.expect("job migrations"))
    }
}

// A keyed task is stored once, however often it is pushed: SQLite ignores the repeat,
// PostgreSQL's unique violation is taken as "already there".
on_both!(a_keyed_task_is_stored_once, |url: String| async move {
    let queue = RenewalQueue::connect_with(&url, options())
        .await
        .expect("connect");
    let run_at = OffsetDateTime::now_utc() + Duration::from_secs(60);
    let retry = RenewalTask {
        attempt: 1,
        ..task("crt_once")
    };
    for _ in 0..2 {
        queue.schedule(retry.clone(), run_at).await.expect("push");
    }
    assert_eq!(job_statuses(&url).await, ["Pending"]);
});

on_both!(delayed_task_runs_once_on_time, |url: String| async move {
    let queue = RenewalQueue::connect_with(&url, options())
        .await
        .expect("connect");
    let calls = Calls::default();
    let (stop, shutdown) = watch::channel(false);
    let worker = queue.run(recorder(calls.clone(), 0), shutdown);

    let run_at = OffsetDateTime::now_utc() + Duration::from_secs(1);
    queue
        .schedule(task("crt_on_time"), run_at)
        .await
        .expect("schedule");
    all_done(&url, 1).await;

    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let (ran, at, _) = &calls[0];
    assert_eq!(ran, &task("crt_on_time"));
    assert!(*at >= run_at, "ran at {at}, before {run_at}");

    stop.send(true).expect("signal");
    worker.await.expect("worker ends");
});

on_both!(delayed_task_survives_restart, |url: String| async move {
    let calls = Calls::default();
    let run_at = OffsetDateTime::now_utc() + Duration::from_secs(2);
    {
        let queue = RenewalQueue::connect_with(&url, options())
            .await
            .expect("connect");
        let (stop, shutdown) = watch::channel(false);
        let worker = queue.run(recorder(calls.clone(), 0), shutdown);
        queue
            .schedule(task("crt_durable"), run_at)
            .await
            .expect("schedule");
        stop.send(true).expect("signal");
        worker.await.expect("worker ends");
        assert!(
            OffsetDateTime::now_utc() < run_at,
            "the first worker stopped too late for this test to mean anything"
        );
        assert_eq!(job_statuses(&url).await, ["Pending"]);
    }
    assert!(calls.lock().unwrap().is_empty());

    let queue = RenewalQueue::connect_with(&url, options())
        .await
        .expect("reconnect");
    let (stop, shutdown) = watch::channel(false);
    let worker = queue.run(recorder(calls.clone(), 0), shutdown);
    all_done(&url, 1).await;

    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].0, task("crt_durable"));
    assert!(calls[0].1 >= run_at);

    stop.send(true).expect("signal");
    worker.await.expect("worker ends");
});

on_both!(failures_back_off_durably, |url: String| async move {
    let queue = RenewalQueue::connect_with(&url, options())
        .await
        .expect("connect");
    let calls = Calls::default();
    let (stop, shutdown) = watch::channel(false);
    let worker = queue.run(recorder(calls.clone(), 2), shutdown);

    queue
        .schedule(task("crt_flaky"), OffsetDateTime::now_utc())
        .await
        .expect("schedule");
    // Each failed attempt is completed and a new task carries the next attempt.
    all_done(&url, 3).await;

    let calls = calls.lock().unwrap().clone();
    let attempts: Vec<u32> = calls.iter().map(|(t, _, _)| t.attempt).collect();
    assert_eq!(attempts, [0, 1, 2], "{calls:?}");
    assert!(
        calls
            .iter()
            .all(|(t, _, _)| t.certificate_id == "crt_flaky")
    );

    let backoff = options().backoff;
    let gaps: Vec<Duration> = calls.windows(2).map(|w| w[1].2 - w[0].2).collect();
    for (attempt, gap) in (0u32..).zip(&gaps) {
        // Jitter is ±20 %; allow a few ms for the millisecond rounding of the due time.
        let floor = backoff.nominal(attempt).mul_f64(0.8) - Duration::from_millis(5);
        assert!(
            *gap >= floor,
            "attempt {attempt} retried after {gap:?} < {floor:?}"
        );
    }
    assert!(gaps[1] > gaps[0], "delays do not grow: {gaps:?}");

    stop.send(true).expect("signal");
    worker.await.expect("worker ends");
});

/// Opens the service's store and the queue on one database in the given order, then both again,
/// and checks each works and keeps its migrations in its own table.
async fn coexist(url: String, store_first: bool) {
    if store_first {
        let store = scaivault_store::connect(&url).await.expect("store");
        store.ping().await.expect("ping");
        RenewalQueue::connect_with(&url, QueueOptions::default())
            .await
            .expect("queue");
    } else {
        RenewalQueue::connect_with(&url, QueueOptions::default())
            .await
            .expect("queue");
        let store = scaivault_store::connect(&url).await.expect("store");
        store.ping().await.expect("ping");
    }
    // Reopening re-runs both migrators over the other's tables.
    let store = scaivault_store::connect(&url).await.expect("store again");
    store.ping().await.expect("ping");
    let queue = RenewalQueue::connect_with(&url, options())
        .await
        .expect("queue again");
    let (app, jobs) = migration_tables(&url).await;
    assert!(app > 0 && jobs > 0, "app {app}, jobs {jobs}");

    let calls = Calls::default();
    let (stop, shutdown) = watch::channel(false);
    let worker = queue.run(recorder(calls.clone(), 0), shutdown);
    queue
        .schedule(task("crt_shared_db"), OffsetDateTime::now_utc())
        .await
        .expect("schedule");
    all_done(&url, 1).await;
    assert_eq!(calls.lock().unwrap().len(), 1);
    stop.send(true).expect("signal");
    worker.await.expect("worker ends");
}

on_both!(coexists_with_store_opened_first, |url: String| coexist(
    url, true
));

on_both!(coexists_with_queue_opened_first, |url: String| coexist(
    url, false
));

#[tokio::test]
async fn unsupported_url_is_refused() {
    let err = RenewalQueue::connect_with("mysql://localhost/db", QueueOptions::default())
        .await
        .expect_err("mysql");
    assert!(
        matches!(err, scaivault_jobs::Error::UnsupportedUrl),
        "{err}"
    );
}

on_both!(
    a_new_version_retires_older_renewal_tasks,
    |url: String| async move {
        let queue = RenewalQueue::connect_with(&url, options())
            .await
            .expect("queue");
        let database = queue.database().clone();
        let renewals = scaivault_jobs::Renewals::new(queue);
        let later = OffsetDateTime::now_utc() + Duration::from_secs(3600);
        let for_version = |version: i64, attempt: u32| RenewalTask {
            version,
            attempt,
            ..task("crt_versions")
        };
        renewals.push(for_version(1, 0), later).await.expect("v1");
        // A retry chain of v1 and a task of another certificate.
        renewals
            .push(for_version(1, 1), later)
            .await
            .expect("v1 retry");
        renewals
            .push(task("crt_other"), later)
            .await
            .expect("other certificate");
        // Pushing the same task again changes nothing.
        renewals
            .push(for_version(1, 1), later)
            .await
            .expect("again");
        assert_eq!(
            database
                .live_renewal_tasks("crt_versions")
                .await
                .expect("read"),
            [for_version(1, 1).key().expect("key")]
        );

        renewals.push(for_version(2, 0), later).await.expect("v2");
        assert_eq!(
            database
                .live_renewal_tasks("crt_versions")
                .await
                .expect("read"),
            [for_version(2, 0).key().expect("key")]
        );
        assert_eq!(
            database
                .live_renewal_tasks("crt_other")
                .await
                .expect("read"),
            [task("crt_other").key().expect("key")]
        );
        let mut statuses = job_statuses(&url).await;
        statuses.dedup();
        assert_eq!(statuses, ["Killed", "Pending"]);
    }
);

// A handler that always fails is given up after `max_attempts`, and the hook is told so.
on_both!(
    failing_task_is_given_up_after_max_attempts,
    |url: String| async move {
        let queue = RenewalQueue::connect_with(
            &url,
            QueueOptions {
                max_attempts: Some(2),
                backoff: Backoff {
                    base: Duration::from_millis(100),
                    max: Duration::from_millis(200),
                },
                ..options()
            },
        )
        .await
        .expect("connect");
        let given_up = Arc::new(Mutex::new(Vec::new()));
        let seen = given_up.clone();
        queue.on_failure(move |failed| seen.lock().unwrap().push(failed.next_attempt_at));
        let calls = Calls::default();
        let (stop, shutdown) = watch::channel(false);
        let worker = queue.run(recorder(calls.clone(), u32::MAX), shutdown);
        queue
            .schedule(task("crt_hopeless"), OffsetDateTime::now_utc())
            .await
            .expect("schedule");
        all_done(&url, 2).await;
        let attempts: Vec<u32> = calls.lock().unwrap().iter().map(|c| c.0.attempt).collect();
        assert_eq!(attempts, [0, 1]);
        let hook = given_up.lock().unwrap().clone();
        assert_eq!(hook.len(), 2, "{hook:?}");
        assert!(hook[0].is_some() && hook[1].is_none(), "{hook:?}");
        stop.send(true).expect("signal");
        worker.await.expect("worker ends");
    }
);

/// On PostgreSQL a task due now starts at once, by apalis' insert notification, not at the next
/// poll: with a one-hour poll interval the second task could otherwise only run after an hour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_wakes_the_worker_on_insert() {
    common::on_postgres(|url: String| async move {
        let queue = RenewalQueue::connect_with(
            &url,
            QueueOptions {
                poll_interval: Duration::from_secs(3600),
                ..options()
            },
        )
        .await
        .expect("connect");
        // The first task is found by the worker's first poll, at its start.
        queue
            .schedule(task("crt_first"), OffsetDateTime::now_utc())
            .await
            .expect("schedule");
        let calls = Calls::default();
        let (stop, shutdown) = watch::channel(false);
        let worker = queue.run(recorder(calls.clone(), 0), shutdown);
        all_done(&url, 1).await;
        // The next poll is an hour away: only the notification can start this one.
        queue
            .schedule(task("crt_second"), OffsetDateTime::now_utc())
            .await
            .expect("schedule");
        all_done(&url, 2).await;
        assert_eq!(calls.lock().unwrap().len(), 2);
        stop.send(true).expect("signal");
        worker.await.expect("worker ends");
    })
    .await;
}

// A gated worker (`JobQueue::gate_polls`; on SQLite the queue gates itself the same way) polls
// apalis only when the probe says a task is due. The probe here asks the database
// (`JobDatabase::task_due`), but only once the test opens it: a task past its due time waits
// while the probe says no (ungated, the 50 ms poll would run it at once), and runs once the
// probe answers from the database.
on_both!(
    gated_worker_polls_only_when_a_task_is_due,
    |url: String| async move {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

        let queue = RenewalQueue::connect_with(&url, options())
            .await
            .expect("connect");
        let store = queue.database().clone();
        let open = Arc::new(AtomicBool::new(false));
        let asked = Arc::new(AtomicUsize::new(0));
        let probe: scaivault_jobs::DueProbe = {
            let (store, open, asked) = (store.clone(), open.clone(), asked.clone());
            Arc::new(move |name| {
                assert_eq!(name, QUEUE_NAME);
                asked.fetch_add(1, Ordering::SeqCst);
                let (store, open) = (store.clone(), open.clone());
                Box::pin(async move {
                    open.load(Ordering::SeqCst) && store.task_due(name).await.expect("task_due")
                })
            })
        };
        queue.gate_polls(probe);
        let calls = Calls::default();
        let (stop, shutdown) = watch::channel(false);
        let worker = queue.run(recorder(calls.clone(), 0), shutdown);

        // apalis keeps `run_at` in whole seconds, rounded down, so the database sees a task due up
        // to a second before its time: two seconds ahead, it is surely not due yet.
        let run_at = OffsetDateTime::now_utc() + Duration::from_secs(2);
        queue
            .schedule(task("crt_gated"), run_at)
            .await
            .expect("schedule");
        assert!(
            !store.task_due(QUEUE_NAME).await.expect("task_due"),
            "a task due in two seconds is not due"
        );
        let start = Instant::now();
        while !store.task_due(QUEUE_NAME).await.expect("task_due") {
            assert!(start.elapsed() < DEADLINE, "the task never came due");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Ten probe rounds (half a second) with the task due and the gate shut: not run.
        let seen = asked.load(Ordering::SeqCst);
        while asked.load(Ordering::SeqCst) < seen + 10 {
            assert!(start.elapsed() < DEADLINE, "the probe is not asked");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(calls.lock().unwrap().is_empty(), "ran behind a shut gate");

        open.store(true, Ordering::SeqCst);
        all_done(&url, 1).await;
        let calls = calls.lock().unwrap().clone();
        assert_eq!(calls.len(), 1, "{calls:?}");
        assert!(
            calls[0].1 >= run_at,
            "ran at {}, before {run_at}",
            calls[0].1
        );
        assert!(
            !store.task_due(QUEUE_NAME).await.expect("task_due"),
            "a done task is not due"
        );
        stop.send(true).expect("signal");
        worker.await.expect("worker ends");
    }
);
