//! `/v1/pki/dns-providers`, and the TXT records of a dns-01 order.

use std::collections::BTreeMap;

use scaivault_domain::dns_provider::{DnsChallengeRecord, DnsProviderRecord};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// `POST /v1/pki/dns-providers`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDnsProvider {
    /// 1 to 100 characters.
    pub name: String,
    /// `aws_route53`, `cloudflare`, `google_cloud_dns`, `azure_dns`, `digitalocean`, `hetzner`
    /// or `rfc2136`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The type's keys, with string values. Keys ending in `_path` name ScaiVault secrets.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// DNS zones this provider serves (e.g. `["acme.example"]`): a dns-01 order that names no
    /// `dns_provider_id` goes to the provider with the longest zone containing its names. An
    /// rfc2136 provider also knows the zones its nameserver is authoritative for (SOA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zones: Option<Vec<String>>,
    /// The provider for names no provider's zone contains; at most one provider is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<bool>,
}

/// `POST /v1/pki/dns-providers/{id}/test`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestDnsProvider {
    /// A name the provider serves, as an order would name it (IDNA, a wildcard's base); the
    /// probe goes to `_acme-challenge.<domain>`, or where a CNAME there points.
    pub domain: String,
}

/// The outcome of a provider test: a probe TXT record was written, served by every
/// authoritative nameserver, and removed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DnsProviderTest {
    /// Where the probe was written (lower case, no trailing dot).
    pub fqdn: String,
    /// From the write being accepted to every authoritative nameserver serving it.
    pub propagation_ms: u64,
    /// Whether the provider removed the probe again.
    pub removed: bool,
    /// Why the removal failed (the provider's error), when `removed` is false: the probe
    /// value is then still at `fqdn` and must be removed by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removal_error: Option<String>,
}

/// A DNS provider: its configuration holds secret paths, never secrets.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DnsProvider {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub config: BTreeMap<String, String>,
    /// The zones configured for it.
    pub zones: Vec<String>,
    /// Whether it serves names no provider's zone contains.
    pub default: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&DnsProviderRecord> for DnsProvider {
    fn from(record: &DnsProviderRecord) -> Self {
        Self {
            id: record.id.clone(),
            name: record.name.clone(),
            kind: record.kind.clone(),
            config: record.config.clone(),
            zones: record.zones.clone(),
            default: record.is_default,
            created_at: record.created_at,
        }
    }
}

/// A page of DNS providers, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DnsProviderList {
    pub dns_providers: Vec<DnsProvider>,
    /// Pass back as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// One TXT record of a dns-01 order: where it went and whether its removal is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DnsRecord {
    pub domain: String,
    /// Where the value was written (after CNAME delegation).
    pub fqdn: String,
    /// `present` (written, not yet removed), `removed`, or `remove_failed` (retried later).
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

impl From<&DnsChallengeRecord> for DnsRecord {
    fn from(record: &DnsChallengeRecord) -> Self {
        Self {
            domain: record.domain.clone(),
            fqdn: record.fqdn.clone(),
            state: record.state.clone(),
            attempts: record.attempts,
            last_error: record.last_error.clone(),
        }
    }
}
