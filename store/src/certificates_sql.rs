//! Statements for managed certificates and their versions, expanded inside each backend's
//! `impl Store`.

macro_rules! certificate_columns {
    () => {
        "id, account_id, domains, challenge_type, key_type, dns_provider_id, profile, auto_renew, \
         own_csr, current_version, status, serial_number, not_after, created_at, updated_at, \
         renew_at"
    };
}
macro_rules! version_columns {
    () => {
        "certificate_id, version, order_id, serial_number, issuer, sans, not_before, not_after, \
         chain_pem, (sealed_key IS NOT NULL) AS has_key, status, created_at, revoked_at, \
         revocation_reason, revoked_via_acme"
    };
}

macro_rules! certificate_methods {
    () => {
        async fn sql_record_issuance(&self, issuance: &Issuance) -> Result<()> {
            let cert = &issuance.certificate;
            let version = &issuance.version;
            let mut tx = self.begin_write().await.map_err(query_error)?;
            let existing: Option<String> =
                sqlx::query_scalar("SELECT certificate_id FROM certificate_versions WHERE order_id = $1")
                    .bind(&issuance.order_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(query_error)?;
            if let Some(certificate_id) = existing {
                return Err(Error::Conflict(format!(
                    "order {} already issued a version of {certificate_id}",
                    issuance.order_id
                )));
            }
            let updated = sqlx::query(
                "UPDATE certificates SET current_version = $2, status = $3, serial_number = $4, \
                 not_after = $5, updated_at = $6, renew_at = $7 WHERE id = $1",
            )
            .bind(&cert.id)
            .bind(cert.current_version)
            .bind(cert.status.as_str())
            .bind(&cert.serial_number)
            .bind(to_millis(cert.not_after))
            .bind(to_millis(cert.updated_at))
            .bind(cert.renew_at.map(to_millis))
            .execute(&mut *tx)
            .await
            .map_err(query_error)?;
            if updated.rows_affected() == 0 {
                sqlx::query(concat!(
                    "INSERT INTO certificates (",
                    certificate_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
                ))
                .bind(&cert.id)
                .bind(&cert.account_id)
                .bind(to_json(&cert.domains)?)
                .bind(cert.challenge_type.as_str())
                .bind(cert.key_type.as_str())
                .bind(&cert.dns_provider_id)
                .bind(&cert.profile)
                .bind(i64::from(cert.auto_renew))
                .bind(i64::from(cert.own_csr))
                .bind(cert.current_version)
                .bind(cert.status.as_str())
                .bind(&cert.serial_number)
                .bind(to_millis(cert.not_after))
                .bind(to_millis(cert.created_at))
                .bind(to_millis(cert.updated_at))
                .bind(cert.renew_at.map(to_millis))
                .execute(&mut *tx)
                .await
                .map_err(query_error)?;
            }
            sqlx::query(
                "INSERT INTO certificate_versions (certificate_id, version, order_id, serial_number, \
                 issuer, sans, not_before, not_after, chain_pem, sealed_key, status, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(&version.certificate_id)
            .bind(version.version)
            .bind(&version.order_id)
            .bind(&version.serial_number)
            .bind(&version.issuer)
            .bind(to_json(&version.sans)?)
            .bind(to_millis(version.not_before))
            .bind(to_millis(version.not_after))
            .bind(&version.chain_pem)
            .bind(&issuance.sealed_key)
            .bind(version.status.as_str())
            .bind(to_millis(version.created_at))
            .execute(&mut *tx)
            .await
            .map_err(query_error)?;
            // The key now lives (sealed for the version) with the certificate; the order's copy
            // has done its job.
            sqlx::query(
                "UPDATE acme_orders SET status = 'valid', certificate_id = $2, not_after = $3, \
                 error_code = NULL, error_message = NULL, sealed_key = NULL, updated_at = $4 \
                 WHERE id = $1",
            )
            .bind(&issuance.order_id)
            .bind(&cert.id)
            .bind(to_millis(version.not_after))
            .bind(to_millis(version.created_at))
            .execute(&mut *tx)
            .await
            .map_err(query_error)?;
            tx.commit().await.map_err(query_error)
        }

        async fn sql_get_certificate(&self, id: &str) -> Result<Option<CertificateRecord>> {
            sqlx::query(concat!("SELECT ", certificate_columns!(), " FROM certificates WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(query_error)?
                .map(|row| Self::certificate_from_row(&row))
                .transpose()
        }

        async fn sql_list_certificates(
            &self,
            limit: u32,
            before: Option<(i64, String)>,
        ) -> Result<Vec<CertificateRecord>> {
            let (before_at, before_id) = before.unwrap_or((i64::MAX, String::new()));
            sqlx::query(concat!(
                "SELECT ",
                certificate_columns!(),
                " FROM certificates WHERE (created_at < $1 OR (created_at = $1 AND id < $2)) \
                 ORDER BY created_at DESC, id DESC LIMIT $3"
            ))
            .bind(before_at)
            .bind(before_id)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(query_error)?
            .iter()
            .map(Self::certificate_from_row)
            .collect()
        }

        async fn sql_expiring_certificates(
            &self,
            expires_before: OffsetDateTime,
            overdue_before: OffsetDateTime,
        ) -> Result<Vec<CertificateRecord>> {
            sqlx::query(concat!(
                "SELECT ",
                certificate_columns!(),
                " FROM certificates WHERE status = 'valid' \
                 AND (expiring_notified_version IS NULL OR expiring_notified_version <> current_version) \
                 AND (not_after <= $1 OR renew_at <= $2) ORDER BY not_after"
            ))
            .bind(to_millis(expires_before))
            .bind(to_millis(overdue_before))
            .fetch_all(&self.pool)
            .await
            .map_err(query_error)?
            .iter()
            .map(Self::certificate_from_row)
            .collect()
        }

        async fn sql_mark_expiring_notified(&self, id: &str, version: i64) -> Result<()> {
            sqlx::query("UPDATE certificates SET expiring_notified_version = $2 WHERE id = $1")
                .bind(id)
                .bind(version)
                .execute(&self.pool)
                .await
                .map_err(query_error)?;
            Ok(())
        }

        async fn sql_certificate_versions(&self, id: &str) -> Result<Vec<CertificateVersion>> {
            sqlx::query(concat!(
                "SELECT ",
                version_columns!(),
                " FROM certificate_versions WHERE certificate_id = $1 ORDER BY version DESC"
            ))
            .bind(id)
            .fetch_all(&self.pool)
            .await
            .map_err(query_error)?
            .iter()
            .map(Self::version_from_row)
            .collect()
        }

        async fn sql_version_key(&self, id: &str, version: i64) -> Result<Option<Vec<u8>>> {
            let key: Option<Option<Vec<u8>>> = sqlx::query_scalar(
                "SELECT sealed_key FROM certificate_versions WHERE certificate_id = $1 AND version = $2",
            )
            .bind(id)
            .bind(version)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_error)?;
            Ok(key.flatten())
        }
    };
}
