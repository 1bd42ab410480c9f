//! `OrderStore`: orders and their challenges.
//!
//! "Unfinished" is `status IN ('pending', 'ready', 'processing')` in every statement here: the
//! orders whose challenges the CA may still validate.

use async_trait::async_trait;
use scaivault_domain::Result;
use scaivault_domain::order::{ChallengeRecord, OrderProgress, OrderQuery, OrderRecord};
use scaivault_domain::store::OrderStore;
use scaivault_domain::timestamp::{self, to_millis};

use crate::dialect::{Dialect, Statement};
use crate::rows::{ChallengeRow, OrderRow, OrderWithChallengeRow, to_json};
use crate::sql_store::{SqlStore, commit};

#[async_trait]
impl<D: Dialect> OrderStore for SqlStore<D> {
    async fn insert_order(
        &self,
        order: &OrderRecord,
        challenges: &[ChallengeRecord],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query::<D>(
            "INSERT INTO acme_orders (id, account_id, certificate_id, domains, challenge_type, \
             key_type, csr_pem, profile, auto_renew, dns_provider_id, status, order_url, \
             error_code, error_message, not_after, created_at, updated_at, ca_attempts) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
             $17, $18)",
        )
        .arg(order.id.as_str())
        .arg(order.account_id.as_str())
        .arg(order.certificate_id.as_deref())
        .arg(to_json(&order.domains)?)
        .arg(order.challenge_type.as_str())
        .arg(order.key_type.as_str())
        .arg(order.csr_pem.as_deref())
        .arg(order.profile.as_deref())
        .arg(i64::from(order.auto_renew))
        .arg(order.dns_provider_id.as_deref())
        .arg(order.status.as_str())
        .arg(order.order_url.as_str())
        .arg(order.error.as_ref().map(|e| e.code.as_str()))
        .arg(order.error.as_ref().map(|e| e.message.as_str()))
        .arg(order.not_after.map(to_millis))
        .arg(to_millis(order.created_at))
        .arg(to_millis(order.updated_at))
        .arg(order.ca_attempts)
        .run(D::on_conn(&mut tx))
        .await?;
        insert_challenges::<D>(&mut tx, &order.id, challenges).await?;
        commit(tx).await
    }

    async fn get_order(&self, id: &str) -> Result<Option<OrderRecord>> {
        let row: Option<OrderRow> = sqlx::query::<D>(
            "SELECT id, account_id, certificate_id, domains, challenge_type, key_type, csr_pem, \
             profile, auto_renew, dns_provider_id, status, order_url, error_code, error_message, \
             not_after, created_at, updated_at, ca_attempts FROM acme_orders WHERE id = $1",
        )
        .arg(id)
        .row(self.on_pool())
        .await?;
        row.map(OrderRow::into_record).transpose()
    }

    /// Two subqueries joined, so the order's columns keep their names and the challenges'
    /// (prefixed `c_`) cannot clash with them; the LEFT JOIN keeps an order without challenges
    /// (one row with NULL `c_` columns).
    async fn get_order_with_challenges(
        &self,
        id: &str,
    ) -> Result<Option<(OrderRecord, Vec<ChallengeRecord>)>> {
        let rows: Vec<OrderWithChallengeRow> = sqlx::query::<D>(
            "SELECT * FROM (SELECT id, account_id, certificate_id, domains, challenge_type, \
             key_type, csr_pem, profile, auto_renew, dns_provider_id, status, order_url, \
             error_code, error_message, not_after, created_at, updated_at, ca_attempts \
             FROM acme_orders WHERE id = $1) o LEFT JOIN (SELECT order_id AS c_order_id, \
             domain AS c_domain, challenge_type AS c_challenge_type, status AS c_status, \
             token AS c_token, key_authorization AS c_key_authorization, \
             authorization_url AS c_authorization_url, challenge_url AS c_challenge_url, \
             error AS c_error FROM acme_challenges WHERE order_id = $1) c \
             ON c.c_order_id = o.id ORDER BY c.c_domain",
        )
        .arg(id)
        .rows(self.on_pool())
        .await?;
        let mut order = None;
        let mut challenges = Vec::with_capacity(rows.len());
        for row in rows {
            let (order_row, challenge) = row.into_parts()?;
            if order.is_none() {
                order = Some(order_row.into_record()?);
            }
            challenges.extend(challenge);
        }
        Ok(order.map(|order| (order, challenges)))
    }

    async fn list_orders(&self, query: &OrderQuery) -> Result<Vec<OrderRecord>> {
        let (before_at, before_id) = query.before.clone().unwrap_or((i64::MAX, String::new()));
        let rows: Vec<OrderRow> = match query.status {
            Some(status) => {
                sqlx::query::<D>(
                    "SELECT id, account_id, certificate_id, domains, challenge_type, key_type, \
                 csr_pem, profile, auto_renew, dns_provider_id, status, order_url, error_code, \
                 error_message, not_after, created_at, updated_at, ca_attempts \
                 FROM acme_orders WHERE status = $1 \
                 AND (created_at < $2 OR (created_at = $2 AND id < $3)) \
                 ORDER BY created_at DESC, id DESC LIMIT $4",
                )
                .arg(status.as_str())
                .arg(before_at)
                .arg(before_id)
                .arg(i64::from(query.limit))
                .rows(self.on_pool())
                .await
            }
            None => {
                sqlx::query::<D>(
                    "SELECT id, account_id, certificate_id, domains, challenge_type, key_type, \
                 csr_pem, profile, auto_renew, dns_provider_id, status, order_url, error_code, \
                 error_message, not_after, created_at, updated_at, ca_attempts \
                 FROM acme_orders WHERE (created_at < $1 OR (created_at = $1 AND id < $2)) \
                 ORDER BY created_at DESC, id DESC LIMIT $3",
                )
                .arg(before_at)
                .arg(before_id)
                .arg(i64::from(query.limit))
                .rows(self.on_pool())
                .await
            }
        }?;
        rows.into_iter().map(OrderRow::into_record).collect()
    }

    async fn unfinished_orders(&self) -> Result<Vec<String>> {
        let ids: Vec<(String,)> = sqlx::query::<D>(
            "SELECT id FROM acme_orders WHERE status IN ('pending', 'ready', 'processing') \
             ORDER BY created_at, id",
        )
        .rows(self.on_pool())
        .await?;
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }

    async fn replace_ca_order(
        &self,
        id: &str,
        order_url: &str,
        challenges: &[ChallengeRecord],
    ) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        sqlx::query::<D>("DELETE FROM acme_challenges WHERE order_id = $1")
            .arg(id)
            .run(D::on_conn(&mut tx))
            .await?;
        insert_challenges::<D>(&mut tx, id, challenges).await?;
        let (attempts,): (i64,) = sqlx::query::<D>(
            "UPDATE acme_orders SET order_url = $2, status = 'pending', error_code = NULL, \
             error_message = NULL, sealed_key = NULL, ca_attempts = ca_attempts + 1, \
             updated_at = $3 WHERE id = $1 RETURNING ca_attempts",
        )
        .arg(id)
        .arg(order_url)
        .arg(to_millis(timestamp::now()))
        .one(D::on_conn(&mut tx))
        .await?;
        commit(tx).await?;
        Ok(attempts)
    }

    async fn set_order_progress(&self, id: &str, progress: &OrderProgress) -> Result<bool> {
        let updated = sqlx::query::<D>(
            "UPDATE acme_orders SET status = $2, error_code = $3, error_message = $4, \
             updated_at = $5 WHERE id = $1",
        )
        .arg(id)
        .arg(progress.status.as_str())
        .arg(progress.error.as_ref().map(|e| e.code.as_str()))
        .arg(progress.error.as_ref().map(|e| e.message.as_str()))
        .arg(to_millis(progress.at))
        .run(self.on_pool())
        .await?;
        Ok(updated == 1)
    }

    async fn end_orders_of_account(
        &self,
        account_id: &str,
        progress: &OrderProgress,
    ) -> Result<u64> {
        sqlx::query::<D>(
            "UPDATE acme_orders SET status = $2, error_code = $3, error_message = $4, \
             updated_at = $5 WHERE account_id = $1 AND status IN ('pending', 'ready', 'processing')",
        )
        .arg(account_id)
        .arg(progress.status.as_str())
        .arg(progress.error.as_ref().map(|e| e.code.as_str()))
        .arg(progress.error.as_ref().map(|e| e.message.as_str()))
        .arg(to_millis(progress.at))
        .run(self.on_pool())
        .await
    }

    async fn set_order_key(&self, id: &str, sealed_key: &[u8]) -> Result<()> {
        sqlx::query::<D>("UPDATE acme_orders SET sealed_key = $2 WHERE id = $1")
            .arg(id)
            .arg(sealed_key)
            .run(self.on_pool())
            .await?;
        Ok(())
    }

    async fn order_key(&self, id: &str) -> Result<Option<Vec<u8>>> {
        let key: Option<(Option<Vec<u8>>,)> =
            sqlx::query::<D>("SELECT sealed_key FROM acme_orders WHERE id = $1")
                .arg(id)
                .row(self.on_pool())
                .await?;
        Ok(key.and_then(|(key,)| key))
    }

    async fn count_order_restart(&self, id: &str) -> Result<i64> {
        let (restarts,): (i64,) = sqlx::query::<D>(
            "UPDATE acme_orders SET restarts = restarts + 1 WHERE id = $1 RETURNING restarts",
        )
        .arg(id)
        .one(self.on_pool())
        .await?;
        Ok(restarts)
    }

    async fn renewal_in_flight(&self, certificate_id: &str) -> Result<Option<OrderRecord>> {
        let row: Option<OrderRow> = sqlx::query::<D>(
            "SELECT id, account_id, certificate_id, domains, challenge_type, key_type, csr_pem, \
             profile, auto_renew, dns_provider_id, status, order_url, error_code, error_message, \
             not_after, created_at, updated_at, ca_attempts FROM acme_orders \
             WHERE certificate_id = $1 AND status IN ('pending', 'ready', 'processing')",
        )
        .arg(certificate_id)
        .row(self.on_pool())
        .await?;
        row.map(OrderRow::into_record).transpose()
    }

    async fn order_challenges(&self, order_id: &str) -> Result<Vec<ChallengeRecord>> {
        let rows: Vec<ChallengeRow> = sqlx::query::<D>(
            "SELECT order_id, domain, challenge_type, status, token, key_authorization, \
             authorization_url, challenge_url, error FROM acme_challenges WHERE order_id = $1 \
             ORDER BY domain",
        )
        .arg(order_id)
        .rows(self.on_pool())
        .await?;
        rows.into_iter().map(ChallengeRow::into_record).collect()
    }

    async fn set_challenge_status(
        &self,
        order_id: &str,
        domain: &str,
        status: &str,
        error: Option<&str>,
    ) -> Result<()> {
        sqlx::query::<D>(
            "UPDATE acme_challenges SET status = $3, error = $4 WHERE order_id = $1 AND domain = $2",
        )
        .arg(order_id)
        .arg(domain)
        .arg(status)
        .arg(error)
        .run(self.on_pool())
        .await?;
        Ok(())
    }

    async fn set_challenge_key_authorization(
        &self,
        order_id: &str,
        domain: &str,
        key_authorization: &str,
    ) -> Result<()> {
        sqlx::query::<D>(
            "UPDATE acme_challenges SET key_authorization = $3 WHERE order_id = $1 AND domain = $2",
        )
        .arg(order_id)
        .arg(domain)
        .arg(key_authorization)
        .run(self.on_pool())
        .await?;
        Ok(())
    }

    async fn http01_key_authorization(&self, token: &str) -> Result<Option<String>> {
        let found: Option<(String,)> = sqlx::query::<D>(
            "SELECT c.key_authorization FROM acme_challenges c \
             JOIN acme_orders o ON o.id = c.order_id \
             WHERE c.token = $1 AND c.challenge_type = 'http-01' \
             AND o.status IN ('pending', 'ready', 'processing') LIMIT 1",
        )
        .arg(token)
        .row(self.on_pool())
        .await?;
        Ok(found.map(|(key_authorization,)| key_authorization))
    }

    /// Newest first: when two orders for one name overlap, the CA validates the newer.
    async fn tls_alpn01_key_authorization(&self, domain: &str) -> Result<Option<String>> {
        let found: Option<(String,)> = sqlx::query::<D>(
            "SELECT c.key_authorization FROM acme_challenges c \
             JOIN acme_orders o ON o.id = c.order_id \
             WHERE c.domain = $1 AND c.challenge_type = 'tls-alpn-01' \
             AND c.status IN ('pending', 'processing') \
             AND o.status IN ('pending', 'ready', 'processing') \
             ORDER BY o.created_at DESC LIMIT 1",
        )
        .arg(domain)
        .row(self.on_pool())
        .await?;
        Ok(found.map(|(key_authorization,)| key_authorization))
    }

    async fn order_counts_by_status(&self) -> Result<Vec<(String, i64)>> {
        sqlx::query::<D>("SELECT status, COUNT(*) FROM acme_orders GROUP BY status ORDER BY status")
            .rows(self.on_pool())
            .await
    }
}

/// Inserts an order's challenges inside the caller's transaction.
async fn insert_challenges<D: Dialect>(
    conn: &mut D::Connection,
    order_id: &str,
    challenges: &[ChallengeRecord],
) -> Result<()> {
    for challenge in challenges {
        sqlx::query::<D>(
            "INSERT INTO acme_challenges (order_id, domain, challenge_type, status, token, \
             key_authorization, authorization_url, challenge_url, error) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .arg(order_id)
        .arg(challenge.domain.as_str())
        .arg(challenge.challenge_type.as_str())
        .arg(challenge.status.as_str())
        .arg(challenge.token.as_str())
        .arg(challenge.key_authorization.as_str())
        .arg(challenge.authorization_url.as_str())
        .arg(challenge.challenge_url.as_str())
        .arg(challenge.error.as_deref())
        .run(D::on_conn(conn))
        .await?;
    }
    Ok(())
}
