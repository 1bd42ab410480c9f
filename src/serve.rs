//! Start-up and graceful shutdown of the service.

use std::sync::Arc;

use scaivault_actors::{Accounts, AcmeHttp};
use tokio::net::TcpListener;

use crate::api;
use crate::api::auth::Authenticator;
use crate::config::Config;
use crate::state::AppState;

/// Runs until SIGTERM or SIGINT; then stops accepting, finishes in-flight requests and stops
/// the actors.
pub async fn run(config: Config) -> Result<(), String> {
    let key = crate::master_key::load_or_create(&config.security.master_key_file)?;
    let store = scaivault_store::connect(&config.database.url)
        .await
        .map_err(|err| format!("database.url: {err}"))?;
    tracing::info!(
        backend = store.backend(),
        "database ready (migrations applied)"
    );
    let http = AcmeHttp::new(&config.acme.extra_roots)
        .map_err(|err| format!("acme.extra_roots: {err}"))?;
    crate::bootstrap::ensure_admin_token(&store, &config.security.admin_token).await?;
    let accounts = Accounts::start(store.clone(), key.clone(), http)
        .await
        .map_err(|err| err.to_string())?;
    let state = AppState {
        auth: Arc::new(Authenticator::new(
            &config.security.admin_token,
            store.clone(),
        )),
        store,
        key,
        accounts: accounts.clone(),
    };

    let listener = TcpListener::bind(config.server.listen)
        .await
        .map_err(|err| format!("server.listen {}: {err}", config.server.listen))?;
    tracing::info!(address = %config.server.listen, "API listening on http://{}", config.server.listen);
    if let Some(admin) = config.server.admin_listen {
        tracing::info!(address = %admin, "server.admin_listen is set; the job dashboard is served there once renewal jobs exist (not in this version)");
    }

    axum::serve(listener, api::router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|err| format!("API server: {err}"))?;
    accounts.shutdown();
    tracing::info!("stopped");
    Ok(())
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
