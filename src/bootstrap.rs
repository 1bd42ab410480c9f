//! The bootstrap admin token. With `[security] admin_token` set, that value is the admin token
//! (nothing stored). Otherwise the first start mints one with every scope, stores only its hash
//! and prints the value once; later starts (and other instances sharing the database) find the
//! marker and print nothing.

use scaivault_domain::scope::Scope;
use scaivault_domain::{SharedStore, timestamp, token};

const MARKER: &str = "bootstrap_token_id";

/// Mints and prints the bootstrap token if none was ever minted.
pub async fn ensure_admin_token(store: &SharedStore, configured: &str) -> Result<(), String> {
    if !configured.is_empty() {
        return Ok(());
    }
    if let Some(id) = store.get_meta(MARKER).await.map_err(|e| e.to_string())? {
        tracing::info!(token = %id, "bootstrap admin token exists (shown once at first start)");
        return Ok(());
    }
    let minted = token::mint("bootstrap", Scope::ALL.to_vec(), timestamp::now(), None);
    // Token first, marker second: a crash between them leaves an unused token, never a marker
    // without a token (which would lock everyone out).
    store
        .insert_token(&minted.record)
        .await
        .map_err(|e| e.to_string())?;
    if !store
        .set_meta_if_absent(MARKER, &minted.record.id)
        .await
        .map_err(|e| e.to_string())?
    {
        // Another instance won the race and printed its own.
        store
            .delete_token(&minted.record.id)
            .await
            .map_err(|e| e.to_string())?;
        return Ok(());
    }
    println!(
        "\n  ScaiVault bootstrap admin token (shown only this once; it has every scope):\n\n    {}\n\n  Create narrower tokens with POST /v1/auth/tokens and keep this one safe.\n",
        minted.value
    );
    tracing::info!(token = %minted.record.id, "generated the bootstrap admin token");
    Ok(())
}
