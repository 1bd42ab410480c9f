//! Picking the DNS provider of a dns-01 order that names none: each provider's zone for each
//! name, from its configuration or asked of the provider itself (an RFC 2136 nameserver's SOA);
//! the rule is `scaivault_domain::dns_pick`.

use scaivault_domain::dns_pick::{self, Candidate};
use scaivault_domain::dns_provider::in_zone;

use super::dns01::DnsSupport;
use crate::Error;

impl DnsSupport {
    /// The id of the provider that serves every one of `domains` (wildcards count as their
    /// base name), or `invalid_request` on `dns_provider_id` naming the candidates.
    pub(crate) async fn pick(&self, domains: &[String]) -> Result<String, Error> {
        let names: Vec<String> = domains
            .iter()
            .map(|d| d.strip_prefix("*.").unwrap_or(d).to_owned())
            .collect();
        let mut candidates = Vec::new();
        for record in self.records().await? {
            let configured = record.configured_zones();
            // Built only to ask for zones; a provider that cannot be built (a secret gone) is
            // still a candidate through its configured zones.
            let provider = match self.build(&record).await {
                Ok(provider) => Some(provider),
                Err(err) => {
                    tracing::warn!(provider = %record.id, error = %err, "DNS provider not usable to look up its zones");
                    None
                }
            };
            let mut zones = Vec::with_capacity(names.len());
            for name in &names {
                let mut best = configured
                    .iter()
                    .filter(|zone| in_zone(name, zone))
                    .max_by_key(|zone| zone.len())
                    .cloned();
                if let Some(provider) = &provider {
                    match provider.zone_of(name).await {
                        Ok(Some(zone))
                            if in_zone(name, &zone)
                                && best.as_ref().is_none_or(|b| zone.len() > b.len()) =>
                        {
                            best = Some(zone);
                        }
                        Ok(_) => {}
                        Err(err) => {
                            tracing::warn!(provider = %record.id, %name, error = %err, "could not ask the DNS provider for its zone");
                        }
                    }
                }
                zones.push(best);
            }
            candidates.push(Candidate {
                id: record.id,
                name: record.name,
                is_default: record.is_default,
                zones,
            });
        }
        Ok(dns_pick::choose(&names, &candidates)?)
    }
}
