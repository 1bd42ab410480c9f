//! DNS providers and the dns-01 records orders wrote.

use scaivault_domain::dns_provider::{DnsChallengeRecord, DnsProviderRecord};
use scaivault_domain::timestamp::from_millis;
use scaivault_domain::{Error, Result};

/// `dns_providers`.
#[derive(sqlx::FromRow)]
pub(crate) struct DnsProviderRow {
    id: String,
    name: String,
    kind: String,
    config: String,
    zones: String,
    is_default: i64,
    created_at: i64,
}

impl DnsProviderRow {
    pub(crate) fn into_record(self) -> Result<DnsProviderRecord> {
        Ok(DnsProviderRecord {
            id: self.id,
            name: self.name,
            kind: self.kind,
            config: serde_json::from_str(&self.config)
                .map_err(|e| Error::corrupt(format!("column config: {e}")))?,
            zones: serde_json::from_str(&self.zones)
                .map_err(|e| Error::corrupt(format!("column zones: {e}")))?,
            is_default: self.is_default != 0,
            created_at: from_millis(self.created_at),
        })
    }
}

/// `dns_challenge_records`.
#[derive(sqlx::FromRow)]
pub(crate) struct DnsRecordRow {
    order_id: String,
    domain: String,
    provider_id: String,
    fqdn: String,
    value: String,
    state: String,
    attempts: i64,
    last_error: Option<String>,
}

impl DnsRecordRow {
    pub(crate) fn into_record(self) -> DnsChallengeRecord {
        DnsChallengeRecord {
            order_id: self.order_id,
            domain: self.domain,
            provider_id: self.provider_id,
            fqdn: self.fqdn,
            value: self.value,
            state: self.state,
            attempts: self.attempts,
            last_error: self.last_error,
        }
    }
}
