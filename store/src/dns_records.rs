//! `DnsRecordStore`: the dns-01 TXT records orders wrote, until they are removed.

use async_trait::async_trait;
use scaivault_domain::Result;
use scaivault_domain::dns_provider::DnsChallengeRecord;
use scaivault_domain::store::DnsRecordStore;
use scaivault_domain::timestamp::{self, to_millis};
use time::OffsetDateTime;

use crate::dialect::{Dialect, Statement};
use crate::rows::DnsRecordRow;
use crate::sql_store::SqlStore;

#[async_trait]
impl<D: Dialect> DnsRecordStore for SqlStore<D> {
    async fn upsert_dns_record(&self, record: &DnsChallengeRecord) -> Result<()> {
        sqlx::query::<D>(
            "INSERT INTO dns_challenge_records (order_id, domain, provider_id, fqdn, value, \
             state, attempts, last_error, next_try_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9) \
             ON CONFLICT (order_id, domain) DO UPDATE SET provider_id = excluded.provider_id, \
             fqdn = excluded.fqdn, value = excluded.value, state = excluded.state, \
             updated_at = excluded.updated_at",
        )
        .arg(record.order_id.as_str())
        .arg(record.domain.as_str())
        .arg(record.provider_id.as_str())
        .arg(record.fqdn.as_str())
        .arg(record.value.as_str())
        .arg(record.state.as_str())
        .arg(record.attempts)
        .arg(record.last_error.as_deref())
        .arg(to_millis(timestamp::now()))
        .run(self.on_pool())
        .await?;
        Ok(())
    }

    async fn order_dns_records(&self, order_id: &str) -> Result<Vec<DnsChallengeRecord>> {
        let rows: Vec<DnsRecordRow> = sqlx::query::<D>(
            "SELECT order_id, domain, provider_id, fqdn, value, state, attempts, last_error \
             FROM dns_challenge_records WHERE order_id = $1 ORDER BY domain",
        )
        .arg(order_id)
        .rows(self.on_pool())
        .await?;
        Ok(rows.into_iter().map(DnsRecordRow::into_record).collect())
    }

    async fn set_dns_record_state(
        &self,
        order_id: &str,
        domain: &str,
        state: &str,
        error: Option<&str>,
        next_try_at: OffsetDateTime,
    ) -> Result<()> {
        sqlx::query::<D>(
            "UPDATE dns_challenge_records SET state = $3, last_error = $4, next_try_at = $5, \
             attempts = attempts + 1, updated_at = $6 WHERE order_id = $1 AND domain = $2",
        )
        .arg(order_id)
        .arg(domain)
        .arg(state)
        .arg(error)
        .arg(to_millis(next_try_at))
        .arg(to_millis(timestamp::now()))
        .run(self.on_pool())
        .await?;
        Ok(())
    }

    async fn due_dns_cleanups(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<DnsChallengeRecord>> {
        let rows: Vec<DnsRecordRow> = sqlx::query::<D>(
            "SELECT r.order_id, r.domain, r.provider_id, r.fqdn, r.value, r.state, r.attempts, \
             r.last_error FROM dns_challenge_records r JOIN acme_orders o ON o.id = r.order_id \
             WHERE r.state IN ('present', 'remove_failed') AND r.next_try_at <= $1 \
             AND o.status NOT IN ('pending', 'ready', 'processing') \
             ORDER BY r.next_try_at LIMIT $2",
        )
        .arg(to_millis(now))
        .arg(i64::from(limit))
        .rows(self.on_pool())
        .await?;
        Ok(rows.into_iter().map(DnsRecordRow::into_record).collect())
    }
}
