//! `RevocationStore`: finding a version by serial, and marking it revoked with everything that
//! follows from that in one transaction (see `scaivault_domain::revocation`).

use async_trait::async_trait;
use scaivault_domain::certificate::CertificateVersion;
use scaivault_domain::pki::serial_with_colons;
use scaivault_domain::revocation::Revocation;
use scaivault_domain::store::RevocationStore;
use scaivault_domain::timestamp::to_millis;
use scaivault_domain::{Error, Result};

use crate::dialect::{Dialect, Statement};
use crate::events::insert_event_in;
use crate::rows::{RevocationRow, VersionRow};
use crate::sql_store::{SqlStore, commit};

#[async_trait]
impl<D: Dialect> RevocationStore for SqlStore<D> {
    /// Served by the UNIQUE index on serial_number (migration 0002).
    async fn version_by_serial(&self, serial: &str) -> Result<Option<CertificateVersion>> {
        let row: Option<VersionRow> = sqlx::query::<D>(
            "SELECT certificate_id, version, order_id, serial_number, issuer, sans, not_before, \
             not_after, chain_pem, (sealed_key IS NOT NULL) AS has_key, status, created_at, \
             revoked_at, revocation_reason, revoked_via_acme FROM certificate_versions \
             WHERE serial_number = $1",
        )
        .arg(serial)
        .row(self.on_pool())
        .await?;
        row.map(VersionRow::into_record).transpose()
    }

    async fn record_revocation(&self, revocation: &Revocation) -> Result<bool> {
        let mark = &revocation.revocation;
        let mut tx = self.begin_write().await?;
        // Only a version not yet revoked is marked: a second revocation, also one racing this
        // (PostgreSQL re-checks the condition after the first commits; SQLite runs one writer),
        // changes nothing and is reported, so the first mark's time and reason stay.
        let marked = sqlx::query::<D>(
            "UPDATE certificate_versions SET status = 'revoked', revoked_at = $3, \
             revocation_reason = $4, revoked_via_acme = $5 \
             WHERE certificate_id = $1 AND version = $2 AND status <> 'revoked'",
        )
        .arg(revocation.certificate_id.as_str())
        .arg(revocation.version)
        .arg(to_millis(mark.at))
        .arg(mark.reason.as_str())
        .arg(i64::from(mark.via_acme))
        .run(D::on_conn(&mut tx))
        .await?;
        if marked == 0 {
            let existing: Option<RevocationRow> = sqlx::query::<D>(
                "SELECT revoked_at, revocation_reason, revoked_via_acme \
                 FROM certificate_versions WHERE certificate_id = $1 AND version = $2",
            )
            .arg(revocation.certificate_id.as_str())
            .arg(revocation.version)
            .row(D::on_conn(&mut tx))
            .await?;
            let name = format!(
                "certificate {} version {} (serial {})",
                revocation.certificate_id,
                revocation.version,
                serial_with_colons(&revocation.serial_number)
            );
            return Err(match existing {
                None => Error::not_found("certificate version", name),
                Some(row) => Error::Conflict(match row.into_record()? {
                    Some(earlier) => format!("{name} was already revoked {}", earlier.describe()),
                    None => format!("{name} was already revoked"),
                }),
            });
        }
        sqlx::query::<D>(
            "UPDATE acme_orders SET status = 'revoked', updated_at = $2 WHERE id = $1",
        )
        .arg(revocation.order_id.as_str())
        .arg(to_millis(mark.at))
        .run(D::on_conn(&mut tx))
        .await?;
        // The managed certificate follows only its current version: revoking an older one
        // (already replaced by a renewal) leaves the certificate valid and renewing.
        let certificate = sqlx::query::<D>(
            "UPDATE certificates SET status = 'revoked', updated_at = $3 \
             WHERE id = $1 AND current_version = $2",
        )
        .arg(revocation.certificate_id.as_str())
        .arg(revocation.version)
        .arg(to_millis(mark.at))
        .run(D::on_conn(&mut tx))
        .await?;
        insert_event_in::<D>(&mut tx, &revocation.event).await?;
        commit(tx).await?;
        Ok(certificate == 1)
    }
}
