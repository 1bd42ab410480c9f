//! Statements for revocation, expanded as inherent methods of each backend's store: finding a
//! version by serial, and marking it revoked with everything that follows from that in one
//! transaction (see `scaivault_domain::revocation`).

macro_rules! revocation_methods {
    () => {
        async fn sql_version_by_serial(&self, serial: &str) -> Result<Option<CertificateVersion>> {
            // Served by the UNIQUE index on serial_number (migration 0002).
            sqlx::query(concat!(
                "SELECT ",
                version_columns!(),
                " FROM certificate_versions WHERE serial_number = $1"
            ))
            .bind(serial)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_error)?
            .map(|row| Self::version_from_row(&row))
            .transpose()
        }

        async fn sql_record_revocation(&self, revocation: &Revocation) -> Result<bool> {
            let mark = &revocation.revocation;
            let mut tx = self.begin_write().await.map_err(query_error)?;
            // Only a version not yet revoked is marked: a second revocation, also one racing
            // this (PostgreSQL re-checks the condition after the first commits; SQLite runs one
            // writer), changes nothing and is reported, so the first mark's time and reason
            // stay.
            let marked = sqlx::query(
                "UPDATE certificate_versions SET status = 'revoked', revoked_at = $3, \
                 revocation_reason = $4, revoked_via_acme = $5 \
                 WHERE certificate_id = $1 AND version = $2 AND status <> 'revoked'",
            )
            .bind(&revocation.certificate_id)
            .bind(revocation.version)
            .bind(to_millis(mark.at))
            .bind(mark.reason.as_str())
            .bind(i64::from(mark.via_acme))
            .execute(&mut *tx)
            .await
            .map_err(query_error)?;
            if marked.rows_affected() == 0 {
                let existing = sqlx::query(
                    "SELECT revoked_at, revocation_reason, revoked_via_acme \
                     FROM certificate_versions WHERE certificate_id = $1 AND version = $2",
                )
                .bind(&revocation.certificate_id)
                .bind(revocation.version)
                .fetch_optional(&mut *tx)
                .await
                .map_err(query_error)?;
                let name = format!(
                    "certificate {} version {} (serial {})",
                    revocation.certificate_id,
                    revocation.version,
                    scaivault_domain::pki::serial_with_colons(&revocation.serial_number)
                );
                return Err(match existing {
                    None => Error::not_found("certificate version", name),
                    Some(row) => {
                        let earlier = revocation_from_columns(
                            row.try_get("revoked_at").map_err(query_error)?,
                            row.try_get("revocation_reason").map_err(query_error)?,
                            row.try_get("revoked_via_acme").map_err(query_error)?,
                        )?;
                        Error::Conflict(match earlier {
                            Some(earlier) => {
                                format!("{name} was already revoked {}", earlier.describe())
                            }
                            None => format!("{name} was already revoked"),
                        })
                    }
                });
            }
            sqlx::query("UPDATE acme_orders SET status = 'revoked', updated_at = $2 WHERE id = $1")
                .bind(&revocation.order_id)
                .bind(to_millis(mark.at))
                .execute(&mut *tx)
                .await
                .map_err(query_error)?;
            // The managed certificate follows only its current version: revoking an older one
            // (already replaced by a renewal) leaves the certificate valid and renewing.
            let certificate = sqlx::query(
                "UPDATE certificates SET status = 'revoked', updated_at = $3 \
                 WHERE id = $1 AND current_version = $2",
            )
            .bind(&revocation.certificate_id)
            .bind(revocation.version)
            .bind(to_millis(mark.at))
            .execute(&mut *tx)
            .await
            .map_err(query_error)?;
            let event = &revocation.event;
            sqlx::query("INSERT INTO events (id, kind, created_at, data) VALUES ($1, $2, $3, $4)")
                .bind(&event.id)
                .bind(&event.kind)
                .bind(to_millis(event.created_at))
                .bind(event.data.to_string())
                .execute(&mut *tx)
                .await
                .map_err(query_error)?;
            // The event's webhook deliveries, in the same transaction (webhooks_sql.rs).
            Self::sql_fan_out_event(&mut tx, event).await?;
            tx.commit().await.map_err(query_error)?;
            Ok(certificate.rows_affected() == 1)
        }
    };
}
