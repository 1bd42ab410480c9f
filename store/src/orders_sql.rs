//! Statements for orders and challenges, expanded inside each backend's `impl Store`.

macro_rules! order_columns {
    () => {
        "id, account_id, certificate_id, domains, challenge_type, key_type, csr_pem, profile, \
         auto_renew, dns_provider_id, status, order_url, error_code, error_message, not_after, \
         created_at, updated_at, ca_attempts"
    };
}
macro_rules! challenge_columns {
    () => {
        "order_id, domain, challenge_type, status, token, key_authorization, authorization_url, \
         challenge_url, error"
    };
}
/// Orders whose challenges may still be validated by the CA.
macro_rules! unfinished_statuses {
    () => {
        "('pending', 'ready', 'processing')"
    };
}

macro_rules! order_methods {
    ($conn:ty) => {
        /// Inserts an order's challenges inside the caller's transaction.
        async fn sql_insert_challenges(
            conn: &mut $conn,
            order_id: &str,
            challenges: &[ChallengeRecord],
        ) -> Result<()> {
            for challenge in challenges {
                sqlx::query(concat!(
                    "INSERT INTO acme_challenges (",
                    challenge_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                ))
                .bind(order_id)
                .bind(&challenge.domain)
                .bind(challenge.challenge_type.as_str())
                .bind(&challenge.status)
                .bind(&challenge.token)
                .bind(&challenge.key_authorization)
                .bind(&challenge.authorization_url)
                .bind(&challenge.challenge_url)
                .bind(&challenge.error)
                .execute(&mut *conn)
                .await
                .map_err(query_error)?;
            }
            Ok(())
        }

        async fn sql_insert_order(
            &self,
            order: &OrderRecord,
            challenges: &[ChallengeRecord],
        ) -> Result<()> {
            let mut tx = self.begin_write().await.map_err(query_error)?;
            sqlx::query(concat!(
                "INSERT INTO acme_orders (",
                order_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
            ))
            .bind(&order.id)
            .bind(&order.account_id)
            .bind(&order.certificate_id)
            .bind(to_json(&order.domains)?)
            .bind(order.challenge_type.as_str())
            .bind(order.key_type.as_str())
            .bind(&order.csr_pem)
            .bind(&order.profile)
            .bind(i64::from(order.auto_renew))
            .bind(&order.dns_provider_id)
            .bind(order.status.as_str())
            .bind(&order.order_url)
            .bind(order.error.as_ref().map(|e| e.code.clone()))
            .bind(order.error.as_ref().map(|e| e.message.clone()))
            .bind(order.not_after.map(to_millis))
            .bind(to_millis(order.created_at))
            .bind(to_millis(order.updated_at))
            .bind(order.ca_attempts)
            .execute(&mut *tx)
            .await
            .map_err(query_error)?;
            Self::sql_insert_challenges(&mut tx, &order.id, challenges).await?;
            tx.commit().await.map_err(query_error)
        }

        async fn sql_get_order(&self, id: &str) -> Result<Option<OrderRecord>> {
            sqlx::query(concat!("SELECT ", order_columns!(), " FROM acme_orders WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(query_error)?
                .map(|row| Self::order_from_row(&row))
                .transpose()
        }

        async fn sql_list_orders(&self, query: &OrderQuery) -> Result<Vec<OrderRecord>> {
            let (before_at, before_id) = query.before.clone().unwrap_or((i64::MAX, String::new()));
            let rows = match query.status {
                Some(status) => sqlx::query(concat!(
                    "SELECT ",
                    order_columns!(),
                    " FROM acme_orders WHERE status = $1 \
                     AND (created_at < $2 OR (created_at = $2 AND id < $3)) \
                     ORDER BY created_at DESC, id DESC LIMIT $4"
                ))
                .bind(status.as_str())
                .bind(before_at)
                .bind(before_id)
                .bind(i64::from(query.limit))
                .fetch_all(&self.pool)
                .await,
                None => sqlx::query(concat!(
                    "SELECT ",
                    order_columns!(),
                    " FROM acme_orders \
                     WHERE (created_at < $1 OR (created_at = $1 AND id < $2)) \
                     ORDER BY created_at DESC, id DESC LIMIT $3"
                ))
                .bind(before_at)
                .bind(before_id)
                .bind(i64::from(query.limit))
                .fetch_all(&self.pool)
                .await,
            };
            rows.map_err(query_error)?.iter().map(Self::order_from_row).collect()
        }

        async fn sql_unfinished_orders(&self) -> Result<Vec<String>> {
            sqlx::query_scalar(concat!(
                "SELECT id FROM acme_orders WHERE status IN ",
                unfinished_statuses!(),
                " ORDER BY created_at, id"
            ))
            .fetch_all(&self.pool)
            .await
            .map_err(query_error)
        }

        async fn sql_replace_ca_order(
            &self,
            id: &str,
            order_url: &str,
            challenges: &[ChallengeRecord],
        ) -> Result<i64> {
            let mut tx = self.begin_write().await.map_err(query_error)?;
            sqlx::query("DELETE FROM acme_challenges WHERE order_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(query_error)?;
            Self::sql_insert_challenges(&mut tx, id, challenges).await?;
            let attempts: i64 = sqlx::query_scalar(
                "UPDATE acme_orders SET order_url = $2, status = 'pending', error_code = NULL, \
                 error_message = NULL, sealed_key = NULL, ca_attempts = ca_attempts + 1, \
                 updated_at = $3 WHERE id = $1 RETURNING ca_attempts",
            )
            .bind(id)
            .bind(order_url)
            .bind(to_millis(scaivault_domain::timestamp::now()))
            .fetch_one(&mut *tx)
            .await
            .map_err(query_error)?;
            tx.commit().await.map_err(query_error)?;
            Ok(attempts)
        }

        async fn sql_set_order_progress(&self, id: &str, progress: &OrderProgress) -> Result<bool> {
            let done = sqlx::query(
                "UPDATE acme_orders SET status = $2, error_code = $3, error_message = $4, \
                 updated_at = $5 WHERE id = $1",
            )
            .bind(id)
            .bind(progress.status.as_str())
            .bind(progress.error.as_ref().map(|e| e.code.clone()))
            .bind(progress.error.as_ref().map(|e| e.message.clone()))
            .bind(to_millis(progress.at))
            .execute(&self.pool)
            .await
            .map_err(query_error)?;
            Ok(done.rows_affected() == 1)
        }

        async fn sql_set_order_key(&self, id: &str, sealed_key: &[u8]) -> Result<()> {
            sqlx::query("UPDATE acme_orders SET sealed_key = $2 WHERE id = $1")
                .bind(id)
                .bind(sealed_key)
                .execute(&self.pool)
                .await
                .map_err(query_error)?;
            Ok(())
        }

        async fn sql_order_key(&self, id: &str) -> Result<Option<Vec<u8>>> {
            let key: Option<Option<Vec<u8>>> =
                sqlx::query_scalar("SELECT sealed_key FROM acme_orders WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(query_error)?;
            Ok(key.flatten())
        }

        async fn sql_count_order_restart(&self, id: &str) -> Result<i64> {
            sqlx::query_scalar(
                "UPDATE acme_orders SET restarts = restarts + 1 WHERE id = $1 RETURNING restarts",
            )
            .bind(id)
            .fetch_one(&self.pool)
            .await
            .map_err(query_error)
        }

        async fn sql_renewal_in_flight(&self, certificate_id: &str) -> Result<Option<OrderRecord>> {
            sqlx::query(concat!(
                "SELECT ",
                order_columns!(),
                " FROM acme_orders WHERE certificate_id = $1 AND status IN ",
                unfinished_statuses!()
            ))
            .bind(certificate_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_error)?
            .map(|row| Self::order_from_row(&row))
            .transpose()
        }

        /// Two subqueries joined, so the order's columns keep their names and the challenges'
        /// (prefixed `c_`) cannot clash with them; the LEFT JOIN keeps an order without
        /// challenges (one row with NULL `c_` columns).
        async fn sql_get_order_with_challenges(
            &self,
            id: &str,
        ) -> Result<Option<(OrderRecord, Vec<ChallengeRecord>)>> {
            let rows = sqlx::query(concat!(
                "SELECT * FROM (SELECT ",
                order_columns!(),
                " FROM acme_orders WHERE id = $1) o LEFT JOIN (SELECT order_id AS c_order_id, \
                 domain AS c_domain, challenge_type AS c_challenge_type, status AS c_status, \
                 token AS c_token, key_authorization AS c_key_authorization, \
                 authorization_url AS c_authorization_url, challenge_url AS c_challenge_url, \
                 error AS c_error FROM acme_challenges WHERE order_id = $1) c \
                 ON c.c_order_id = o.id ORDER BY c.c_domain"
            ))
            .bind(id)
            .fetch_all(&self.pool)
            .await
            .map_err(query_error)?;
            let Some(first) = rows.first() else {
                return Ok(None);
            };
            let order = Self::order_from_row(first)?;
            let mut challenges = Vec::with_capacity(rows.len());
            for row in &rows {
                let joined: Option<String> = row.try_get("c_order_id").map_err(query_error)?;
                if joined.is_some() {
                    challenges.push(Self::challenge_from_prefixed_row(row, "c_")?);
                }
            }
            Ok(Some((order, challenges)))
        }

        async fn sql_order_challenges(&self, order_id: &str) -> Result<Vec<ChallengeRecord>> {
            sqlx::query(concat!(
                "SELECT ",
                challenge_columns!(),
                " FROM acme_challenges WHERE order_id = $1 ORDER BY domain"
            ))
            .bind(order_id)
            .fetch_all(&self.pool)
            .await
            .map_err(query_error)?
            .iter()
            .map(Self::challenge_from_row)
            .collect()
        }

        async fn sql_set_challenge_status(
            &self,
            order_id: &str,
            domain: &str,
            status: &str,
            error: Option<&str>,
        ) -> Result<()> {
            sqlx::query(
                "UPDATE acme_challenges SET status = $3, error = $4 WHERE order_id = $1 AND domain = $2",
            )
            .bind(order_id)
            .bind(domain)
            .bind(status)
            .bind(error)
            .execute(&self.pool)
            .await
            .map_err(query_error)?;
            Ok(())
        }

        async fn sql_http01_key_authorization(&self, token: &str) -> Result<Option<String>> {
            sqlx::query_scalar(concat!(
                "SELECT c.key_authorization FROM acme_challenges c \
                 JOIN acme_orders o ON o.id = c.order_id \
                 WHERE c.token = $1 AND c.challenge_type = 'http-01' AND o.status IN ",
                unfinished_statuses!(),
                " LIMIT 1"
            ))
            .bind(token)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_error)
        }

        async fn sql_tls_alpn01_key_authorization(&self, domain: &str) -> Result<Option<String>> {
            // Newest first: when two orders for one name overlap, the CA validates the newer.
            sqlx::query_scalar(concat!(
                "SELECT c.key_authorization FROM acme_challenges c \
                 JOIN acme_orders o ON o.id = c.order_id \
                 WHERE c.domain = $1 AND c.challenge_type = 'tls-alpn-01' \
                 AND c.status IN ('pending', 'processing') AND o.status IN ",
                unfinished_statuses!(),
                " ORDER BY o.created_at DESC LIMIT 1"
            ))
            .bind(domain)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_error)
        }
    };
}
