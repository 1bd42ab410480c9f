//! `CertificateStore`: managed certificates, their versions and renewal plans.

use async_trait::async_trait;
use scaivault_domain::certificate::{CertificateRecord, CertificateVersion, Issuance};
use scaivault_domain::metrics::CertificateExpiry;
use scaivault_domain::store::{CertificateStore, RenewalCandidate};
use scaivault_domain::timestamp::{from_millis, to_millis};
use scaivault_domain::{Error, Result};
use time::OffsetDateTime;

use crate::dialect::{Dialect, Statement, newest_first};
use crate::rows::{CertificateRow, ExpiryRow, VersionRow, to_json};
use crate::sql_store::{SqlStore, commit};

#[async_trait]
impl<D: Dialect> CertificateStore for SqlStore<D> {
    async fn record_issuance(&self, issuance: &Issuance) -> Result<()> {
        let cert = &issuance.certificate;
        let version = &issuance.version;
        let mut tx = self.begin_write().await?;
        let existing: Option<(String,)> =
            sqlx::query::<D>("SELECT certificate_id FROM certificate_versions WHERE order_id = $1")
                .arg(issuance.order_id.as_str())
                .row(D::on_conn(&mut tx))
                .await?;
        if let Some((certificate_id,)) = existing {
            return Err(Error::Conflict(format!(
                "order {} already issued a version of {certificate_id}",
                issuance.order_id
            )));
        }
        let updated = sqlx::query::<D>(
            "UPDATE certificates SET current_version = $2, status = $3, serial_number = $4, \
             not_after = $5, updated_at = $6, renew_at = $7 WHERE id = $1",
        )
        .arg(cert.id.as_str())
        .arg(cert.current_version)
        .arg(cert.status.as_str())
        .arg(cert.serial_number.as_str())
        .arg(to_millis(cert.not_after))
        .arg(to_millis(cert.updated_at))
        .arg(cert.renew_at.map(to_millis))
        .run(D::on_conn(&mut tx))
        .await?;
        if updated == 0 {
            sqlx::query::<D>(
                "INSERT INTO certificates (id, account_id, domains, challenge_type, key_type, \
                 dns_provider_id, profile, auto_renew, own_csr, current_version, status, \
                 serial_number, not_after, created_at, updated_at, renew_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
            )
            .arg(cert.id.as_str())
            .arg(cert.account_id.as_str())
            .arg(to_json(&cert.domains)?)
            .arg(cert.challenge_type.as_str())
            .arg(cert.key_type.as_str())
            .arg(cert.dns_provider_id.as_deref())
            .arg(cert.profile.as_deref())
            .arg(i64::from(cert.auto_renew))
            .arg(i64::from(cert.own_csr))
            .arg(cert.current_version)
            .arg(cert.status.as_str())
            .arg(cert.serial_number.as_str())
            .arg(to_millis(cert.not_after))
            .arg(to_millis(cert.created_at))
            .arg(to_millis(cert.updated_at))
            .arg(cert.renew_at.map(to_millis))
            .run(D::on_conn(&mut tx))
            .await?;
        }
        sqlx::query::<D>(
            "INSERT INTO certificate_versions (certificate_id, version, order_id, serial_number, \
             issuer, sans, not_before, not_after, chain_pem, sealed_key, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .arg(version.certificate_id.as_str())
        .arg(version.version)
        .arg(version.order_id.as_str())
        .arg(version.serial_number.as_str())
        .arg(version.issuer.as_str())
        .arg(to_json(&version.sans)?)
        .arg(to_millis(version.not_before))
        .arg(to_millis(version.not_after))
        .arg(version.chain_pem.as_str())
        .arg(issuance.sealed_key.as_deref())
        .arg(version.status.as_str())
        .arg(to_millis(version.created_at))
        .run(D::on_conn(&mut tx))
        .await?;
        // The key now lives (sealed for the version) with the certificate; the order's copy has
        // done its job.
        sqlx::query::<D>(
            "UPDATE acme_orders SET status = 'valid', certificate_id = $2, not_after = $3, \
             error_code = NULL, error_message = NULL, sealed_key = NULL, updated_at = $4 \
             WHERE id = $1",
        )
        .arg(issuance.order_id.as_str())
        .arg(cert.id.as_str())
        .arg(to_millis(version.not_after))
        .arg(to_millis(version.created_at))
        .run(D::on_conn(&mut tx))
        .await?;
        commit(tx).await
    }

    async fn get_certificate(&self, id: &str) -> Result<Option<CertificateRecord>> {
        let row: Option<CertificateRow> = sqlx::query::<D>(
            "SELECT id, account_id, domains, challenge_type, key_type, dns_provider_id, profile, \
             auto_renew, own_csr, current_version, status, serial_number, not_after, created_at, \
             updated_at, renew_at FROM certificates WHERE id = $1",
        )
        .arg(id)
        .row(self.on_pool())
        .await?;
        row.map(CertificateRow::into_record).transpose()
    }

    async fn list_certificates(
        &self,
        limit: u32,
        before: Option<(i64, String)>,
    ) -> Result<Vec<CertificateRecord>> {
        let rows: Vec<CertificateRow> = sqlx::query::<D>(newest_first!(
            "SELECT id, account_id, domains, challenge_type, key_type, dns_provider_id, profile, \
             auto_renew, own_csr, current_version, status, serial_number, not_after, created_at, \
             updated_at, renew_at FROM certificates"
        ))
        .page(limit, before)
        .rows(self.on_pool())
        .await?;
        rows.into_iter().map(CertificateRow::into_record).collect()
    }

    async fn expiring_certificates(
        &self,
        expires_before: OffsetDateTime,
        overdue_before: OffsetDateTime,
    ) -> Result<Vec<CertificateRecord>> {
        let rows: Vec<CertificateRow> = sqlx::query::<D>(
            "SELECT id, account_id, domains, challenge_type, key_type, dns_provider_id, profile, \
             auto_renew, own_csr, current_version, status, serial_number, not_after, created_at, \
             updated_at, renew_at FROM certificates WHERE status = 'valid' \
             AND (expiring_notified_version IS NULL \
                  OR expiring_notified_version <> current_version) \
             AND (not_after <= $1 OR renew_at <= $2) ORDER BY not_after",
        )
        .arg(to_millis(expires_before))
        .arg(to_millis(overdue_before))
        .rows(self.on_pool())
        .await?;
        rows.into_iter().map(CertificateRow::into_record).collect()
    }

    async fn mark_expiring_notified(&self, id: &str, version: i64) -> Result<()> {
        sqlx::query::<D>("UPDATE certificates SET expiring_notified_version = $2 WHERE id = $1")
            .arg(id)
            .arg(version)
            .run(self.on_pool())
            .await?;
        Ok(())
    }

    async fn renewal_candidates(&self, after: &str, limit: u32) -> Result<Vec<RenewalCandidate>> {
        let rows: Vec<(String, i64, i64)> = sqlx::query::<D>(
            "SELECT id, current_version, renew_at FROM certificates \
             WHERE status = 'valid' AND auto_renew = 1 AND renew_at IS NOT NULL AND id > $1 \
             ORDER BY id LIMIT $2",
        )
        .arg(after)
        .arg(i64::from(limit))
        .rows(self.on_pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(certificate_id, version, renew_at)| RenewalCandidate {
                certificate_id,
                version,
                renew_at: from_millis(renew_at),
            })
            .collect())
    }

    async fn set_renewal_plan(
        &self,
        id: &str,
        version: i64,
        renew_at: OffsetDateTime,
        window: Option<(OffsetDateTime, OffsetDateTime)>,
    ) -> Result<bool> {
        let updated = sqlx::query::<D>(
            "UPDATE certificates SET renew_at = $3, ari_window_start = $4, ari_window_end = $5 \
             WHERE id = $1 AND current_version = $2",
        )
        .arg(id)
        .arg(version)
        .arg(to_millis(renew_at))
        .arg(window.map(|(start, _)| to_millis(start)))
        .arg(window.map(|(_, end)| to_millis(end)))
        .run(self.on_pool())
        .await?;
        Ok(updated == 1)
    }

    async fn renewal_window(&self, id: &str) -> Result<Option<(OffsetDateTime, OffsetDateTime)>> {
        let row: Option<(Option<i64>, Option<i64>)> = sqlx::query::<D>(
            "SELECT ari_window_start, ari_window_end FROM certificates WHERE id = $1",
        )
        .arg(id)
        .row(self.on_pool())
        .await?;
        Ok(match row {
            Some((Some(start), Some(end))) => Some((from_millis(start), from_millis(end))),
            _ => None,
        })
    }

    async fn certificate_versions(&self, id: &str) -> Result<Vec<CertificateVersion>> {
        let rows: Vec<VersionRow> = sqlx::query::<D>(
            "SELECT certificate_id, version, order_id, serial_number, issuer, sans, not_before, \
             not_after, chain_pem, (sealed_key IS NOT NULL) AS has_key, status, created_at, \
             revoked_at, revocation_reason, revoked_via_acme FROM certificate_versions \
             WHERE certificate_id = $1 ORDER BY version DESC",
        )
        .arg(id)
        .rows(self.on_pool())
        .await?;
        rows.into_iter().map(VersionRow::into_record).collect()
    }

    async fn version_key(&self, id: &str, version: i64) -> Result<Option<Vec<u8>>> {
        let key: Option<(Option<Vec<u8>>,)> = sqlx::query::<D>(
            "SELECT sealed_key FROM certificate_versions WHERE certificate_id = $1 AND version = $2",
        )
        .arg(id)
        .arg(version)
        .row(self.on_pool())
        .await?;
        Ok(key.and_then(|(key,)| key))
    }

    async fn certificate_expiries(&self) -> Result<Vec<CertificateExpiry>> {
        let rows: Vec<ExpiryRow> = sqlx::query::<D>(
            "SELECT id, domains, not_after, renew_at FROM certificates WHERE status = 'valid' \
             ORDER BY id",
        )
        .rows(self.on_pool())
        .await?;
        rows.into_iter().map(ExpiryRow::into_record).collect()
    }
}
