//! DNS providers: where dns-01 TXT records are written (RFC 8555 §8.4). A provider's config is
//! a flat map of strings; keys ending in `_path` name ScaiVault secrets, resolved only when the
//! provider is used and never returned by the API.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::{Error, Result};

/// The config keys of one provider type.
#[derive(Debug, Clone, Copy)]
pub struct ProviderSpec {
    pub kind: &'static str,
    pub required: &'static [&'static str],
    pub optional: &'static [&'static str],
}

/// Every supported type with its keys. `endpoint` (every type) points the provider at another
/// API base URL or nameserver, e.g. a local test server.
pub const SPECS: [ProviderSpec; 7] = [
    ProviderSpec {
        kind: "rfc2136",
        required: &["nameserver", "tsig_key_name", "tsig_secret_path"],
        optional: &["tsig_algorithm", "zone"],
    },
    ProviderSpec {
        kind: "aws_route53",
        required: &[
            "access_key_id_path",
            "secret_access_key_path",
            "hosted_zone_id",
        ],
        optional: &["region", "endpoint"],
    },
    ProviderSpec {
        kind: "cloudflare",
        required: &["api_token_path"],
        optional: &["zone_id", "endpoint"],
    },
    ProviderSpec {
        kind: "google_cloud_dns",
        required: &["service_account_json_path", "project", "managed_zone"],
        optional: &["endpoint", "token_endpoint"],
    },
    ProviderSpec {
        kind: "azure_dns",
        required: &[
            "tenant_id",
            "client_id",
            "client_secret_path",
            "subscription_id",
            "resource_group",
            "zone",
        ],
        optional: &["endpoint", "login_endpoint"],
    },
    ProviderSpec {
        kind: "digitalocean",
        required: &["api_token_path"],
        optional: &["endpoint"],
    },
    ProviderSpec {
        kind: "hetzner",
        required: &["api_token_path"],
        optional: &["zone_id", "endpoint"],
    },
];

/// The spec for `kind`.
pub fn spec(kind: &str) -> Result<&'static ProviderSpec> {
    SPECS.iter().find(|s| s.kind == kind).ok_or_else(|| {
        Error::invalid(
            "type",
            format!(
                "unknown DNS provider type {kind:?}; known: {}",
                SPECS.map(|s| s.kind).join(", ")
            ),
        )
    })
}

/// Checks a config against its type: every required key present and non-empty, no unknown key,
/// `_path` values valid secret paths.
pub fn validate_config(kind: &str, config: &BTreeMap<String, String>) -> Result<()> {
    let spec = spec(kind)?;
    for key in spec.required {
        if config.get(*key).is_none_or(|v| v.trim().is_empty()) {
            return Err(Error::invalid(
                format!("config.{key}"),
                format!("{kind} needs config.{key}"),
            ));
        }
    }
    for (key, value) in config {
        if !spec.required.contains(&key.as_str()) && !spec.optional.contains(&key.as_str()) {
            let mut known: Vec<&str> = spec.required.iter().chain(spec.optional).copied().collect();
            known.sort_unstable();
            return Err(Error::invalid(
                format!("config.{key}"),
                format!(
                    "{kind} has no config key {key:?}; known: {}",
                    known.join(", ")
                ),
            ));
        }
        if key.ends_with("_path") {
            crate::secret::validate_path(value).map_err(|_| {
                Error::invalid(
                    format!("config.{key}"),
                    format!("config.{key}: {value:?} is not a secret path"),
                )
            })?;
        }
    }
    Ok(())
}

/// A configured DNS provider.
#[derive(Debug, Clone)]
pub struct DnsProviderRecord {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub config: BTreeMap<String, String>,
    /// Zones it serves, as configured (lower-case, no trailing dot); dns-01 orders that name no
    /// provider go to the provider with the longest zone containing their names.
    pub zones: Vec<String>,
    /// The provider for names no provider's zone contains; at most one.
    pub is_default: bool,
    pub created_at: OffsetDateTime,
}

impl DnsProviderRecord {
    /// The zones known from the configuration alone: `zones`, and the `zone` key of the types
    /// that name their zone (rfc2136, azure_dns).
    pub fn configured_zones(&self) -> Vec<String> {
        let mut zones = self.zones.clone();
        if let Some(zone) = self.config.get("zone") {
            let zone = zone.trim().trim_end_matches('.').to_ascii_lowercase();
            if !zone.is_empty() && !zones.contains(&zone) {
                zones.push(zone);
            }
        }
        zones
    }
}

/// Most zones one provider may list.
pub const MAX_ZONES: usize = 100;

/// Normalizes the `zones` of a provider: each a DNS name (letters, digits, hyphens and dots,
/// at most 253 characters), lower-cased, without a trailing dot, no duplicates.
pub fn normalize_zones(zones: &[String]) -> Result<Vec<String>> {
    if zones.len() > MAX_ZONES {
        return Err(Error::invalid(
            "zones",
            format!("at most {MAX_ZONES} zones per provider"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(zones.len());
    for (i, zone) in zones.iter().enumerate() {
        let zone = zone.trim().trim_end_matches('.').to_ascii_lowercase();
        let labels_ok = zone.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
        if zone.is_empty() || zone.len() > 253 || !labels_ok {
            return Err(Error::invalid(
                format!("zones[{i}]"),
                format!("{:?} is not a DNS zone name", zones[i]),
            ));
        }
        if !out.contains(&zone) {
            out.push(zone);
        }
    }
    Ok(out)
}

/// Whether `name` is `zone` or below it.
pub fn in_zone(name: &str, zone: &str) -> bool {
    name == zone
        || (name.len() > zone.len()
            && name.ends_with(zone)
            && name.as_bytes()[name.len() - zone.len() - 1] == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn validation_names_the_key() {
        let ok = config(&[("api_token_path", "infra/cf/token"), ("zone_id", "z")]);
        assert!(validate_config("cloudflare", &ok).is_ok());
        let missing = validate_config("cloudflare", &config(&[])).expect_err("missing");
        assert!(missing.to_string().contains("api_token_path"));
        let unknown = validate_config(
            "hetzner",
            &config(&[("api_token_path", "a"), ("colour", "red")]),
        )
        .expect_err("unknown");
        assert!(unknown.to_string().contains("colour"));
        assert!(validate_config("bind", &ok).is_err());
        let bad_path = validate_config("digitalocean", &config(&[("api_token_path", "../x")]));
        assert!(bad_path.is_err());
    }
}

/// A TXT record an order wrote, and where its removal stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsChallengeRecord {
    pub order_id: String,
    pub domain: String,
    pub provider_id: String,
    /// Where the value was written (after CNAME delegation).
    pub fqdn: String,
    pub value: String,
    /// `present` (written, not yet removed), `removed`, or `remove_failed` (retried later).
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}
