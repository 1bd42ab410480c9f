//! Start-up and graceful shutdown of the service.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use scaivault_actors::{
    Accounts, AccountsConfig, AcmeHttp, Cluster, DnsSettings, EventNotifier, Events, Faults,
    HttpLimits, HttpPolicy, Orders, OrdersConfig, RenewalService, SharedScheduler,
};
use scaivault_jobs::{Backoff, JobDatabase, JobQueue, QueueOptions, Renewals};
use scaivault_store::Pool;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::api;
use crate::api::auth::Authenticator;
use crate::challenges;
use crate::config::Config;
use crate::listen::{self, TlsFiles};
use crate::state::AppState;

/// Runs until SIGTERM or SIGINT; then stops accepting, finishes in-flight requests and stops
/// the actors. Orders in flight are persisted at every step and resume at the next start.
pub async fn run(config: Config) -> Result<(), String> {
    // One id per process: in the logs, in /readyz and in the order leases it holds.
    let cluster = Cluster::new(config.cluster.lease.0);
    tracing::info!(instance_id = %cluster.instance_id, lease = ?cluster.lease, "instance starting");
    let database = scaivault_store::open(&config.database.url)
        .await
        .map_err(|err| format!("database.url: {err}"))?;
    let store = database.store;
    tracing::info!(
        backend = store.backend(),
        "database ready (migrations applied)"
    );
    // Before anything reads a sealed value: a wrong key stops start-up here.
    let key =
        crate::key_check::load_verified(store.as_ref(), &config.security.master_key_file).await?;
    let policy = HttpPolicy {
        allow_private: config.acme.allow_private_directories,
        limits: HttpLimits {
            connect: config.acme.connect_timeout.0,
            headers: config.acme.header_timeout.0,
            total: config.acme.request_timeout.0,
        },
    };
    let http = AcmeHttp::new(&config.acme.extra_roots, policy)
        .map_err(|err| format!("acme.extra_roots: {err}"))?
        .with_requests_per_ca(config.acme.max_concurrent_requests);
    crate::bootstrap::ensure_admin_token(&store, &config.security.admin_token).await?;
    let notifier = EventNotifier::default();
    let events = Events::new(store.clone(), notifier.clone());
    let faults = faults_from_env()?;
    let accounts = Accounts::start(AccountsConfig {
        store: store.clone(),
        key: key.clone(),
        http,
        events: events.clone(),
        directories: config.directories(),
        zerossl: scaivault_actors::ZeroSslApi::new(&config.acme.zerossl_api)
            .map_err(|err| err.to_string())?,
        faults: faults.clone(),
    })
    .await
    .map_err(|err| err.to_string())?;
    let dns_endpoints =
        scaivault_dns::EndpointPolicy::from_allow_insecure(config.dns.allow_insecure_endpoints);
    let dns = DnsSettings {
        resolvers: config.dns.resolvers.clone(),
        propagation_timeout: config.dns.propagation_timeout.0,
        propagation_interval: config.dns.propagation_interval.0,
        max_concurrent_requests: config.dns.max_concurrent_requests,
        endpoints: dns_endpoints,
    };
    // Renewals and scans are durable jobs in the same database, on the same pool (apalis keeps
    // its own tables).
    let jobs = match database.pool {
        Pool::Sqlite(pool) => JobDatabase::sqlite(pool).await,
        Pool::Postgres(pool) => JobDatabase::postgres(pool).await,
    }
    .map_err(|err| format!("database.url (job queue): {err}"))?;
    let queue = Renewals::new(JobQueue::open(
        &jobs,
        queue_options(
            (config.renewal.retry_base.0, config.renewal.retry_max.0),
            None,
        ),
    ));
    let scans = JobQueue::open(
        &jobs,
        queue_options((Duration::from_secs(10), Duration::from_secs(600)), Some(3)),
    );
    // Webhook deliveries: a failed attempt comes back with durable backoff, up to max_attempts.
    let webhook_settings = scaivault_jobs::WebhookSettings {
        allow_private_targets: config.webhooks.allow_private_targets,
        timeout: config.webhooks.timeout.0,
    };
    let webhooks = scaivault_jobs::Webhooks::new(
        JobQueue::open(
            &jobs,
            queue_options(
                (config.webhooks.retry_base.0, config.webhooks.retry_max.0),
                Some(config.webhooks.max_attempts),
            ),
        ),
        store.clone(),
        key.clone(),
        webhook_settings,
    );
    let scheduler: SharedScheduler = Arc::new(queue.clone());
    let orders = Orders::start(OrdersConfig {
        store: store.clone(),
        key: key.clone(),
        accounts: accounts.clone(),
        events: events.clone(),
        scheduler: Some(scheduler),
        cluster,
        dns,
        before_expiry: config.renewal.before_expiry.0,
        rate_limits: config.provider_limits(),
        tls_alpn01: !config.challenges.tls_alpn01_listen.is_empty(),
        caa_precheck: config.acme.caa_precheck,
        faults,
    })
    .await
    .map_err(|err| err.to_string())?;
    let renewal = RenewalService::new(orders.clone());

    // HTTPS on the API and admin listeners; http-01 stays plain HTTP (the CA asks on port 80).
    let tls = match (&config.server.tls_cert_file, &config.server.tls_key_file) {
        (Some(cert), Some(key)) => Some(Arc::new(TlsFiles::load(cert, key)?)),
        _ => None,
    };

    // Bind every listener before resuming work, so a CA validating a resumed order finds them.
    let api_listener = bind("server.listen", config.server.listen).await?;
    let mut http01 = Vec::new();
    for addr in &config.challenges.http01_listen {
        http01.push(bind("challenges.http01_listen", *addr).await?);
    }
    let mut tls_alpn = Vec::new();
    for addr in &config.challenges.tls_alpn01_listen {
        tls_alpn.push(bind("challenges.tls_alpn01_listen", *addr).await?);
    }
    let admin_listener = match config.server.admin_listen {
        Some(addr) => Some(bind("server.admin_listen", addr).await?),
        None => None,
    };
    let auth = Arc::new(Authenticator::new(
        &config.security.admin_token,
        &config.security.metrics_token,
        store.clone(),
    ));
    let limits = config.server.limits();

    let state = AppState {
        auth: auth.clone(),
        store: store.clone(),
        key: key.clone(),
        accounts: accounts.clone(),
        orders: orders.clone(),
        dns_endpoints,
        webhooks: webhook_settings,
        webhook_dispatch: notifier.clone(),
        jobs: jobs.clone(),
        order_rate: Arc::new(api::order_rate::OrderRate::new(
            config.server.orders_per_minute,
        )),
        registration_rate: Arc::new(api::order_rate::OrderRate::registrations(
            config.server.registrations_per_minute,
        )),
    };

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    for listener in http01 {
        let router = challenges::http01::router(store.clone());
        tasks.spawn(listen::serve(
            listener,
            router,
            limits,
            None,
            stopped(stop_rx.clone()),
        ));
    }
    if let Some(listener) = admin_listener {
        // The admin console and the job board behind admin auth; its session cookie is
        // `Secure` when the browser reaches it over TLS.
        let router = crate::admin::router(
            state.clone(),
            crate::admin::Queues {
                renewals: &queue,
                scans: &scans,
                webhooks: webhooks.queue(),
            },
            config.provider_limits(),
            tls.is_some(),
        );
        tasks.spawn(listen::serve(
            listener,
            router,
            limits,
            tls.clone(),
            stopped(stop_rx.clone()),
        ));
    }
    for listener in tls_alpn {
        tasks.spawn(challenges::tls_alpn01::run(
            listener,
            store.clone(),
            limits,
            stop_rx.clone(),
        ));
    }

    let resumed = orders
        .resume_unfinished()
        .await
        .map_err(|err| err.to_string())?;
    if resumed > 0 {
        tracing::info!(orders = resumed, "resuming unfinished orders");
    }
    let renewals = scaivault_jobs::start_worker(&queue, renewal.clone(), events, stop_rx.clone());
    let scan = scaivault_jobs::start_expiry_scan(
        &scans,
        renewal,
        config.renewal.expiring_within.0,
        config.renewal.scan_interval.0,
        stop_rx.clone(),
    )
    .await
    .map_err(|err| format!("expiry scan: {err}"))?;
    // Queues the deliveries a crash left unqueued, then those of each event as it is recorded.
    let deliveries = webhooks.start(notifier.clone(), stop_rx.clone());
    let missing = queue
        .fill_gaps(&*store)
        .await
        .map_err(|err| format!("scheduling renewals: {err}"))?;
    tracing::info!(
        backend = jobs.backend(),
        scheduled = missing,
        "renewal and scan workers running"
    );

    listen::serve(
        api_listener,
        api::router(state),
        limits,
        tls,
        shutdown_signal(),
    )
    .await;
    let _ = stop_tx.send(true);
    let _ = renewals.await;
    let _ = scan.await;
    let _ = deliveries.await;
    let released = orders.stop().await;
    tracing::info!(leases = released, "order leases handed back");
    accounts.shutdown();
    while tasks.join_next().await.is_some() {}
    tracing::info!("stopped");
    Ok(())
}

/// A job queue polled every 500 ms, retrying with backoff from `base` doubling up to `max`, up
/// to `max_attempts` attempts (`None`: for ever).
fn queue_options((base, max): (Duration, Duration), max_attempts: Option<u32>) -> QueueOptions {
    QueueOptions {
        poll_interval: Duration::from_millis(500),
        backoff: Backoff { base, max },
        max_attempts,
    }
}

/// Fault injection for the end-to-end tests of crash recovery, from the environment, in debug
/// builds only: `SV_TEST_PANIC_ORDER_STEP` (`ready`, `finalize` or `certificate`) makes each
/// order's actor panic once at that step, to show supervision restarts it from the store;
/// `SV_TEST_CRASH_AFTER_CA_REVOKE` ends the process right after the CA accepted a revocation;
/// `SV_TEST_CRASH_AT_KEY_CHANGE` (`before_ca` or `after_ca`) ends it around the CA's answer to
/// an account key change.
fn faults_from_env() -> Result<Faults, String> {
    #[cfg(debug_assertions)]
    {
        let mut faults = Faults::default();
        if let Ok(step) = std::env::var("SV_TEST_PANIC_ORDER_STEP") {
            faults = faults.panic_at(step.parse()?);
        }
        if std::env::var_os("SV_TEST_CRASH_AFTER_CA_REVOKE").is_some() {
            faults = faults.exit_after_ca_revocation();
        }
        if let Ok(at) = std::env::var("SV_TEST_CRASH_AT_KEY_CHANGE") {
            faults = faults.crash_at_key_change(at.parse()?);
        }
        Ok(faults)
    }
    #[cfg(not(debug_assertions))]
    Ok(Faults::default())
}

/// Binds `addr`, naming the configuration key on failure.
async fn bind(key: &str, addr: SocketAddr) -> Result<TcpListener, String> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|err| format!("{key} {addr}: {err}"))?;
    tracing::info!(address = %addr, "{key}: listening on {addr}");
    Ok(listener)
}

/// Resolves once the stop flag is raised (or its sender is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => term,
        Err(err) => {
            tracing::error!(error = %err, "cannot listen for SIGTERM");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
    }
}
