//! Statements for DNS providers and the TXT records orders wrote, expanded as inherent methods
//! of each backend's store.

macro_rules! dns_record_columns {
    () => {
        "order_id, domain, provider_id, fqdn, value, state, attempts, last_error"
    };
}

macro_rules! dns_methods {
    () => {
        async fn sql_insert_dns_provider(&self, provider: &DnsProviderRecord) -> Result<()> {
            let config = serde_json::to_string(&provider.config).map_err(|e| Error::Store(e.to_string()))?;
            sqlx::query("INSERT INTO dns_providers (id, name, kind, config, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(&provider.id)
                .bind(&provider.name)
                .bind(&provider.kind)
                .bind(config)
                .bind(to_millis(provider.created_at))
                .execute(&self.pool)
                .await
                .map_err(|err| match query_error(err) {
                    Error::Conflict(_) => Error::Conflict(format!("a DNS provider named {:?} already exists", provider.name)),
                    other => other,
                })?;
            Ok(())
        }

        async fn sql_get_dns_provider(&self, id: &str) -> Result<Option<DnsProviderRecord>> {
            sqlx::query("SELECT id, name, kind, config, created_at FROM dns_providers WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(query_error)?
                .map(|row| Self::dns_provider_from_row(&row))
                .transpose()
        }

        async fn sql_list_dns_providers(&self) -> Result<Vec<DnsProviderRecord>> {
            sqlx::query("SELECT id, name, kind, config, created_at FROM dns_providers ORDER BY created_at DESC, id")
                .fetch_all(&self.pool)
                .await
                .map_err(query_error)?
                .iter()
                .map(Self::dns_provider_from_row)
                .collect()
        }

        async fn sql_delete_dns_provider(&self, id: &str) -> Result<bool> {
            let mut tx = self.begin_write().await.map_err(query_error)?;
            let in_use: i64 = sqlx::query_scalar(concat!(
                "SELECT count(*) FROM acme_orders WHERE dns_provider_id = $1 AND status IN ",
                unfinished_statuses!()
            ))
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .map_err(query_error)?;
            if in_use > 0 {
                return Err(Error::Conflict(format!(
                    "DNS provider {id} is used by {in_use} order(s) in flight; delete it when they finish"
                )));
            }
            let done = sqlx::query("DELETE FROM dns_providers WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(query_error)?;
            tx.commit().await.map_err(query_error)?;
            Ok(done.rows_affected() == 1)
        }

        async fn sql_upsert_dns_record(&self, record: &DnsChallengeRecord) -> Result<()> {
            sqlx::query(
                "INSERT INTO dns_challenge_records (order_id, domain, provider_id, fqdn, value, state, \
                 attempts, last_error, next_try_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9) \
                 ON CONFLICT (order_id, domain) DO UPDATE SET provider_id = excluded.provider_id, \
                 fqdn = excluded.fqdn, value = excluded.value, state = excluded.state, \
                 updated_at = excluded.updated_at",
            )
            .bind(&record.order_id)
            .bind(&record.domain)
            .bind(&record.provider_id)
            .bind(&record.fqdn)
            .bind(&record.value)
            .bind(&record.state)
            .bind(record.attempts)
            .bind(&record.last_error)
            .bind(to_millis(scaivault_domain::timestamp::now()))
            .execute(&self.pool)
            .await
            .map_err(query_error)?;
            Ok(())
        }

        async fn sql_order_dns_records(&self, order_id: &str) -> Result<Vec<DnsChallengeRecord>> {
            sqlx::query(concat!(
                "SELECT ",
                dns_record_columns!(),
                " FROM dns_challenge_records WHERE order_id = $1 ORDER BY domain"
            ))
            .bind(order_id)
            .fetch_all(&self.pool)
            .await
            .map_err(query_error)?
            .iter()
            .map(Self::dns_record_from_row)
            .collect()
        }

        async fn sql_set_dns_record_state(
            &self,
            order_id: &str,
            domain: &str,
            state: &str,
            error: Option<&str>,
            next_try_at: OffsetDateTime,
        ) -> Result<()> {
            sqlx::query(
                "UPDATE dns_challenge_records SET state = $3, last_error = $4, next_try_at = $5, \
                 attempts = attempts + 1, updated_at = $6 WHERE order_id = $1 AND domain = $2",
            )
            .bind(order_id)
            .bind(domain)
            .bind(state)
            .bind(error)
            .bind(to_millis(next_try_at))
            .bind(to_millis(scaivault_domain::timestamp::now()))
            .execute(&self.pool)
            .await
            .map_err(query_error)?;
            Ok(())
        }

        async fn sql_due_dns_cleanups(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<DnsChallengeRecord>> {
            sqlx::query(concat!(
                "SELECT r.order_id, r.domain, r.provider_id, r.fqdn, r.value, r.state, r.attempts, r.last_error \
                 FROM dns_challenge_records r JOIN acme_orders o ON o.id = r.order_id \
                 WHERE r.state IN ('present', 'remove_failed') AND r.next_try_at <= $1 \
                 AND o.status NOT IN ",
                unfinished_statuses!(),
                " ORDER BY r.next_try_at LIMIT $2"
            ))
            .bind(to_millis(now))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(query_error)?
            .iter()
            .map(Self::dns_record_from_row)
            .collect()
        }
    };
}
