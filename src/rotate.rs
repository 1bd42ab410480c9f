//! `scaivault rotate-master-key`: re-seals every sealed value under a new master key.
//!
//! Every instance must be stopped first. The rotation records the new key's check value in `meta`
//! ([`META_KEY_ROTATING_TO`]), which makes every instance refuse to start until it is finished.
//! Then it pages through each sealed column and re-seals, in one transaction per batch, the
//! values not yet sealed under the new key; each value names the key that sealed it, so an
//! interrupted rotation run again skips what is done and opens the rest with the old key. A row
//! changed between its read and its write is left alone and picked up by the next pass; passes
//! repeat until one finds nothing left to do. Only then does the check value switch to the new
//! key. The key files are not touched: the operator points `master_key_file` at the new key.

use std::path::Path;

use scaivault_domain::Store;
use scaivault_domain::seal::{Fingerprint, META_KEY_CHECK, META_KEY_ROTATING_TO, MasterKey};
use scaivault_domain::store::{Resealed, SealedColumn, SealedRow};

use crate::config::Config;
use crate::key_check::store_error;

/// Rows read and re-sealed per transaction.
const BATCH: u32 = 50;
/// Passes over every column before giving up on values that keep changing (an instance still
/// running and sealing under the old key).
const MAX_PASSES: usize = 5;

/// Runs the rotation to the key at `new_key_file` (created 0600 if missing).
pub async fn run(config: &Config, new_key_file: &Path) -> Result<(), String> {
    let old_file = &config.security.master_key_file;
    let old = crate::master_key::load(old_file)
        .map_err(|err| format!("security.master_key_file: {err}"))?
        .ok_or_else(|| {
            format!(
                "security.master_key_file {}: no such file; the rotation needs the current key",
                old_file.display()
            )
        })?;
    let new = crate::master_key::load_or_create(new_key_file)
        .map_err(|err| format!("--new-key-file: {err}"))?;
    if new.check_value() == old.check_value() {
        return Err(format!(
            "--new-key-file {}: holds the current master key (fingerprint {})",
            new_key_file.display(),
            old.fingerprint()
        ));
    }
    let store = scaivault_store::connect(&config.database.url)
        .await
        .map_err(|err| format!("database.url: {err}"))?;
    let store = store.as_ref();
    let rotating = store
        .get_meta(META_KEY_ROTATING_TO)
        .await
        .map_err(store_error)?;
    match rotating {
        Some(to) if to == new.check_value() => {
            check_old(store, &old, old_file).await?;
            tracing::info!(to = %new.fingerprint(), "resuming the unfinished rotation");
        }
        Some(to) => {
            return Err(format!(
                "a rotation to another master key (fingerprint {}) is unfinished; finish it first \
                 by running this command with that key's file",
                Fingerprint::of_check_value(&to).map_or_else(|| to.clone(), |f| f.to_string())
            ));
        }
        None => {
            let check = store.get_meta(META_KEY_CHECK).await.map_err(store_error)?;
            if check.as_deref() == Some(new.check_value().as_str()) {
                println!(
                    "The database is already sealed under the new key (fingerprint {}). Point \
                     [security] master_key_file at {}.",
                    new.fingerprint(),
                    new_key_file.display()
                );
                return Ok(());
            }
            crate::key_check::verify(store, &old, old_file).await?;
            store
                .update_meta(&[(META_KEY_ROTATING_TO, &new.check_value())], &[])
                .await
                .map_err(store_error)?;
            tracing::info!(from = %old.fingerprint(), to = %new.fingerprint(), "rotation started");
        }
    }
    let mut resealed = 0;
    let mut stop = test_stop_after();
    for pass in 1..=MAX_PASSES {
        let done = reseal_pass(store, &old, &new, &mut stop).await?;
        resealed += done.resealed;
        if done.resealed == 0 && done.missed == 0 {
            store
                .update_meta(
                    &[(META_KEY_CHECK, &new.check_value())],
                    &[META_KEY_ROTATING_TO],
                )
                .await
                .map_err(store_error)?;
            tracing::info!(resealed, to = %new.fingerprint(), "rotation finished");
            println!(
                "Re-sealed {resealed} values under the new master key (fingerprint {}). Now point \
                 [security] master_key_file at {} (or move that file to {}), start the service, \
                 and keep the old key until a backup taken after this rotation is verified.",
                new.fingerprint(),
                new_key_file.display(),
                old_file.display()
            );
            return Ok(());
        }
        tracing::info!(
            pass,
            resealed = done.resealed,
            missed = done.missed,
            "pass done; checking again"
        );
    }
    Err(format!(
        "sealed values keep changing under the old key after {MAX_PASSES} passes: stop every \
         instance of the service and run this command again (it resumes)"
    ))
}

/// The database must be sealed under the old key while a rotation away from it is unfinished.
async fn check_old(store: &dyn Store, old: &MasterKey, old_file: &Path) -> Result<(), String> {
    let check = store.get_meta(META_KEY_CHECK).await.map_err(store_error)?;
    match check {
        Some(check) if check == old.check_value() => Ok(()),
        other => Err(crate::key_check::mismatch(
            old_file,
            old,
            other.as_deref().and_then(Fingerprint::of_check_value),
        )),
    }
}

/// What one pass over every column did.
struct Pass {
    /// Values re-sealed under the new key.
    resealed: u64,
    /// Values that changed between their read and their write.
    missed: u64,
}

async fn reseal_pass(
    store: &dyn Store,
    old: &MasterKey,
    new: &MasterKey,
    stop: &mut Option<u64>,
) -> Result<Pass, String> {
    let mut pass = Pass {
        resealed: 0,
        missed: 0,
    };
    for column in SealedColumn::ALL {
        let mut after: Option<SealedRow> = None;
        loop {
            let page = store
                .sealed_values(column, after.as_ref(), BATCH)
                .await
                .map_err(store_error)?;
            let Some(last) = page.last() else { break };
            after = Some(last.row.clone());
            let mut changes = Vec::new();
            for value in page {
                if new.sealed_this(&value.sealed) {
                    continue;
                }
                let aad = value.row.aad();
                let plain = old.open(&aad, &value.sealed).map_err(|err| {
                    format!(
                        "{err}; nothing was changed for it and the rotation is unfinished (the \
                         service will not start until it is run again and finishes)"
                    )
                })?;
                let sealed = new.seal(&aad, &plain).map_err(|err| err.to_string())?;
                changes.push(Resealed {
                    row: value.row,
                    was: value.sealed,
                    sealed,
                });
            }
            if changes.is_empty() {
                continue;
            }
            let wanted = changes.len() as u64;
            let done = store.reseal(&changes).await.map_err(store_error)?;
            pass.resealed += done;
            pass.missed += wanted - done;
            tracing::debug!(?column, resealed = done, "batch re-sealed");
            if let Some(left) = stop {
                *left = left.saturating_sub(done);
                if *left == 0 {
                    eprintln!("scaivault: SV_TEST_ROTATE_STOP_AFTER reached; exiting mid-rotation");
                    std::process::exit(86);
                }
            }
        }
    }
    Ok(pass)
}

/// Fault injection for the end-to-end test of an interrupted rotation, in debug builds only:
/// `SV_TEST_ROTATE_STOP_AFTER=N` ends the process once at least N values are re-sealed
/// (after the batch that reached N committed).
fn test_stop_after() -> Option<u64> {
    #[cfg(debug_assertions)]
    {
        std::env::var("SV_TEST_ROTATE_STOP_AFTER")
            .ok()
            .and_then(|n| n.parse().ok())
    }
    #[cfg(not(debug_assertions))]
    None
}
