//! `SealedStore`: every sealed column, paged in key order and re-sealed row by row, for a
//! master-key rotation.

use async_trait::async_trait;
use scaivault_domain::Result;
use scaivault_domain::store::{Resealed, SealedColumn, SealedRow, SealedStore, SealedValue};

use crate::dialect::{Dialect, Statement};
use crate::sql_store::{SqlStore, commit};

/// The statements of a column whose rows have a one-column key (all but certificate versions).
struct Keyed {
    /// Rows after key `$1`, at most `$2`.
    select: &'static str,
    /// Row `$1` set to `$3` where it holds `$2`.
    update: &'static str,
    row: fn(String) -> SealedRow,
}

fn keyed(column: SealedColumn) -> Option<Keyed> {
    Some(match column {
        SealedColumn::Secrets => Keyed {
            select: "SELECT path, sealed FROM secrets WHERE path > $1 ORDER BY path LIMIT $2",
            update: "UPDATE secrets SET sealed = $3 WHERE path = $1 AND sealed = $2",
            row: |path| SealedRow::Secret { path },
        },
        SealedColumn::AccountCredentials => Keyed {
            select: "SELECT id, sealed_credentials FROM acme_accounts WHERE id > $1 \
                     ORDER BY id LIMIT $2",
            update: "UPDATE acme_accounts SET sealed_credentials = $3 \
                     WHERE id = $1 AND sealed_credentials = $2",
            row: |id| SealedRow::Account { id },
        },
        SealedColumn::PendingAccountKeys => Keyed {
            select: "SELECT id, pending_credentials FROM acme_accounts \
                     WHERE pending_credentials IS NOT NULL AND id > $1 ORDER BY id LIMIT $2",
            update: "UPDATE acme_accounts SET pending_credentials = $3 \
                     WHERE id = $1 AND pending_credentials = $2",
            row: |id| SealedRow::PendingAccountKey { id },
        },
        SealedColumn::OrderKeys => Keyed {
            select: "SELECT id, sealed_key FROM acme_orders \
                     WHERE sealed_key IS NOT NULL AND id > $1 ORDER BY id LIMIT $2",
            update: "UPDATE acme_orders SET sealed_key = $3 WHERE id = $1 AND sealed_key = $2",
            row: |id| SealedRow::Order { id },
        },
        SealedColumn::WebhookSecrets => Keyed {
            select: "SELECT id, sealed_secret FROM webhooks WHERE id > $1 ORDER BY id LIMIT $2",
            update: "UPDATE webhooks SET sealed_secret = $3 WHERE id = $1 AND sealed_secret = $2",
            row: |id| SealedRow::Webhook { id },
        },
        SealedColumn::CertificateKeys => return None,
    })
}

/// The one-column key of `row`; `None` for a certificate version.
fn single_key(row: &SealedRow) -> Option<&str> {
    match row {
        SealedRow::Secret { path: key }
        | SealedRow::Account { id: key }
        | SealedRow::PendingAccountKey { id: key }
        | SealedRow::Order { id: key }
        | SealedRow::Webhook { id: key } => Some(key),
        SealedRow::CertificateVersion { .. } => None,
    }
}

#[async_trait]
impl<D: Dialect> SealedStore for SqlStore<D> {
    async fn sealed_values(
        &self,
        column: SealedColumn,
        after: Option<&SealedRow>,
        limit: u32,
    ) -> Result<Vec<SealedValue>> {
        let limit = i64::from(limit);
        let Some(keyed) = keyed(column) else {
            // Every id sorts after "", and versions start at 1.
            let (after_id, after_version) = match after {
                Some(SealedRow::CertificateVersion {
                    certificate_id,
                    version,
                }) => (certificate_id.as_str(), *version),
                _ => ("", i64::MIN),
            };
            let rows: Vec<(String, i64, Vec<u8>)> = sqlx::query::<D>(
                "SELECT certificate_id, version, sealed_key FROM certificate_versions \
                 WHERE sealed_key IS NOT NULL \
                 AND (certificate_id > $1 OR (certificate_id = $1 AND version > $2)) \
                 ORDER BY certificate_id, version LIMIT $3",
            )
            .arg(after_id)
            .arg(after_version)
            .arg(limit)
            .rows(self.on_pool())
            .await?;
            return Ok(rows
                .into_iter()
                .map(|(certificate_id, version, sealed)| SealedValue {
                    row: SealedRow::CertificateVersion {
                        certificate_id,
                        version,
                    },
                    sealed,
                })
                .collect());
        };
        let rows: Vec<(String, Vec<u8>)> = sqlx::query::<D>(keyed.select)
            .arg(after.and_then(single_key).unwrap_or(""))
            .arg(limit)
            .rows(self.on_pool())
            .await?;
        Ok(rows
            .into_iter()
            .map(|(key, sealed)| SealedValue {
                row: (keyed.row)(key),
                sealed,
            })
            .collect())
    }

    async fn reseal(&self, changes: &[Resealed]) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let mut changed = 0;
        for change in changes {
            let (was, sealed) = (change.was.as_slice(), change.sealed.as_slice());
            changed += match (&change.row, keyed(change.row.column())) {
                (
                    SealedRow::CertificateVersion {
                        certificate_id,
                        version,
                    },
                    _,
                ) => {
                    sqlx::query::<D>(
                        "UPDATE certificate_versions SET sealed_key = $4 \
                         WHERE certificate_id = $1 AND version = $2 AND sealed_key = $3",
                    )
                    .arg(certificate_id.as_str())
                    .arg(*version)
                    .arg(was)
                    .arg(sealed)
                    .run(D::on_conn(&mut tx))
                    .await?
                }
                (row, Some(keyed)) => {
                    sqlx::query::<D>(keyed.update)
                        .arg(single_key(row).unwrap_or_default())
                        .arg(was)
                        .arg(sealed)
                        .run(D::on_conn(&mut tx))
                        .await?
                }
                (_, None) => unreachable!("only certificate versions have no one-column key"),
            };
        }
        commit(tx).await?;
        Ok(changed)
    }
}
