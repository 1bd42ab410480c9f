//! Recognising the master key that sealed the database, before anything reads a sealed value.
//!
//! The store keeps the [check value](MasterKey::check_value) of the key that sealed it under
//! `meta`'s [`META_KEY_CHECK`], written at the first start. A key whose check value differs stops
//! start-up with both keys' fingerprints, instead of a service that answers 500 on every sealed
//! read. A database from before check values existed gets one once a sealed value (if there is
//! any) opens with the key.

use std::path::Path;

use scaivault_domain::Store;
use scaivault_domain::seal::{
    Fingerprint, META_KEY_CHECK, META_KEY_ROTATING_TO, MasterKey, sealed_by,
};
use scaivault_domain::store::{SealedColumn, SealedValue};

/// The key at `file`, once the database is known to be sealed under it; creates the file when
/// it is missing and the database has nothing sealed yet.
pub async fn load_verified(store: &dyn Store, file: &Path) -> Result<MasterKey, String> {
    refuse_during_rotation(store).await?;
    let described = |err: String| format!("security.master_key_file: {err}");
    let key = match crate::master_key::load(file).map_err(described)? {
        Some(key) => key,
        None => {
            if let Some(check) = store.get_meta(META_KEY_CHECK).await.map_err(store_error)? {
                return Err(format!(
                    "security.master_key_file {}: no such file, but the database is sealed under \
                     the master key with fingerprint {}; restore that key file (a new key could \
                     not open anything)",
                    file.display(),
                    show(Fingerprint::of_check_value(&check)),
                ));
            }
            if let Some(value) = first_sealed_value(store).await? {
                return Err(format!(
                    "security.master_key_file {}: no such file, but the database holds sealed \
                     data (sealed under the master key with fingerprint {}); restore that key file",
                    file.display(),
                    show(sealed_by(&value.sealed)),
                ));
            }
            crate::master_key::create(file).map_err(described)?
        }
    };
    verify(store, &key, file).await?;
    Ok(key)
}

/// Checks that `key` (read from `file`) sealed the database, recording its check value when the
/// database has none yet.
pub async fn verify(store: &dyn Store, key: &MasterKey, file: &Path) -> Result<(), String> {
    // Two tries: when several instances record a check value at once, one of them wins and the
    // others compare against the winner's.
    for _ in 0..2 {
        if let Some(check) = store.get_meta(META_KEY_CHECK).await.map_err(store_error)? {
            return if check == key.check_value() {
                Ok(())
            } else {
                Err(mismatch(file, key, Fingerprint::of_check_value(&check)))
            };
        }
        if let Some(value) = first_sealed_value(store).await?
            && key.open(&value.row.aad(), &value.sealed).is_err()
        {
            return Err(mismatch(file, key, sealed_by(&value.sealed)));
        }
        if store
            .set_meta_if_absent(META_KEY_CHECK, &key.check_value())
            .await
            .map_err(store_error)?
        {
            tracing::info!(fingerprint = %key.fingerprint(), "recorded the master key's check value");
            return Ok(());
        }
    }
    Err("the master key's check value changed while it was being recorded".into())
}

/// Refuses while a master-key rotation is unfinished: values are then sealed under either key,
/// and a service sealing new values under the old key would leave work behind the rotation.
pub async fn refuse_during_rotation(store: &dyn Store) -> Result<(), String> {
    match store
        .get_meta(META_KEY_ROTATING_TO)
        .await
        .map_err(store_error)?
    {
        Some(check) => Err(format!(
            "a master-key rotation to the key with fingerprint {} is unfinished; run \
             `scaivault rotate-master-key --new-key-file <that key's file>` again to finish it \
             before starting the service",
            show(Fingerprint::of_check_value(&check)),
        )),
        None => Ok(()),
    }
}

/// The error naming the key file, its key's fingerprint and the one the database expects.
pub fn mismatch(file: &Path, key: &MasterKey, expected: Option<Fingerprint>) -> String {
    format!(
        "security.master_key_file {}: the master key in this file (fingerprint {}) is not the \
         one the database is sealed under (fingerprint {}); start with that key's file, or \
         re-seal the database with `scaivault rotate-master-key`",
        file.display(),
        key.fingerprint(),
        show(expected),
    )
}

/// Any one sealed value, whatever its column.
async fn first_sealed_value(store: &dyn Store) -> Result<Option<SealedValue>, String> {
    for column in SealedColumn::ALL {
        let first = store
            .sealed_values(column, None, 1)
            .await
            .map_err(store_error)?;
        if let Some(value) = first.into_iter().next() {
            return Ok(Some(value));
        }
    }
    Ok(None)
}

fn show(fingerprint: Option<Fingerprint>) -> String {
    fingerprint.map_or_else(
        || "unknown: sealed before fingerprints were recorded".to_owned(),
        |fingerprint| fingerprint.to_string(),
    )
}

pub fn store_error(err: scaivault_domain::Error) -> String {
    format!("database.url: {err}")
}
