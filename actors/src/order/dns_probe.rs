//! Testing a DNS provider before an order depends on it (`POST
//! /v1/pki/dns-providers/{id}/test`): dns-01's own steps on a random probe value — find where
//! `_acme-challenge.<domain>` is written (following a CNAME), write it through the provider,
//! wait until every authoritative nameserver serves it (bounded by `[dns]
//! propagation_timeout`), and remove it — so a test meets what an order would meet.
//!
//! The probe belongs to no order and is not written to the store, so the dns-01 sweeper does
//! not retry a removal that failed: the outcome says so, and the log names the record.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use scaivault_dns::{DnsError, DnsProvider, challenge_name};

use super::dns01::DnsSupport;
use super::handle::Orders;
use crate::Error;

/// Random bytes of a probe value: as many as a dns-01 value's SHA-256, so the probe is as long
/// as a real challenge value.
const PROBE_BYTES: usize = 32;

/// A provider test whose probe was served by every authoritative nameserver.
#[derive(Debug)]
pub struct DnsProbe {
    /// Where the probe was written (lower case, no trailing dot).
    pub fqdn: String,
    /// How long the propagation check took, zone look-up included.
    pub propagation: Duration,
    /// Removing the probe afterwards.
    pub removal: Result<(), DnsError>,
}

/// The step at which a provider test failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeStage {
    /// Finding where the record goes (a CNAME at the challenge name, through the resolvers).
    Target,
    /// The provider writing the record.
    Present,
    /// Waiting until every authoritative nameserver serves it.
    Propagation,
}

impl ProbeStage {
    /// A stable name, for an API error's details.
    pub fn code(self) -> &'static str {
        match self {
            ProbeStage::Target => "target",
            ProbeStage::Present => "present",
            ProbeStage::Propagation => "propagation",
        }
    }
}

impl fmt::Display for ProbeStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProbeStage::Target => "finding where the record goes",
            ProbeStage::Present => "writing the record",
            ProbeStage::Propagation => "waiting for the nameservers",
        })
    }
}

/// Why a provider test failed.
#[derive(Debug, thiserror::Error)]
pub enum DnsProbeError {
    /// The provider could not be set up: unknown (`NotFound`), a secret it names is missing or
    /// unusable, or the store failed.
    #[error(transparent)]
    Setup(#[from] Error),
    /// A step failed. `removal` is the outcome of removing the probe afterwards; `None` when
    /// nothing can have been written.
    #[error("{fqdn}: {stage}: {error}")]
    Failed {
        stage: ProbeStage,
        fqdn: String,
        error: DnsError,
        removal: Option<Result<(), DnsError>>,
    },
}

impl DnsSupport {
    /// Writes a random TXT value for `domain` (normalized, as an order's) through provider
    /// `provider_id`, waits until it is served, and removes it.
    pub(super) async fn probe(
        &self,
        provider_id: &str,
        domain: &str,
    ) -> Result<DnsProbe, DnsProbeError> {
        let provider = self.provider(provider_id).await?;
        let name = challenge_name(domain);
        let fqdn = self
            .propagation
            .challenge_target(&name)
            .await
            .map_err(|error| DnsProbeError::Failed {
                stage: ProbeStage::Target,
                fqdn: name.clone(),
                error,
                removal: None,
            })?;
        let value = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(scaivault_domain::ids::random_bytes(PROBE_BYTES));
        let written = {
            let _slot = self.slots.acquire(provider_id).await;
            provider.present(&fqdn, &value).await
        };
        if let Err(error) = written {
            // A refusal or a rate limit wrote nothing; a failure in transit or at the server (an
            // answer lost after the update was applied) may have, so that is cleaned up.
            let removal = if matches!(error, DnsError::Server(_) | DnsError::Transport(_)) {
                Some(
                    self.remove_probe(provider_id, &*provider, &fqdn, &value)
                        .await,
                )
            } else {
                None
            };
            return Err(DnsProbeError::Failed {
                stage: ProbeStage::Present,
                fqdn,
                error,
                removal,
            });
        }
        tracing::info!(provider = %provider_id, name = %fqdn, "DNS provider test: probe TXT record written");
        let waited = self.propagation.wait_for(&fqdn, &value).await;
        let removal = self
            .remove_probe(provider_id, &*provider, &fqdn, &value)
            .await;
        match waited {
            Ok(took) => {
                tracing::info!(provider = %provider_id, name = %fqdn,
                    took_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
                    removed = removal.is_ok(), "DNS provider test: probe served");
                Ok(DnsProbe {
                    fqdn,
                    propagation: took,
                    removal,
                })
            }
            Err(error) => Err(DnsProbeError::Failed {
                stage: ProbeStage::Propagation,
                fqdn,
                error,
                removal: Some(removal),
            }),
        }
    }

    /// Removes the probe value; a failure is logged with the record, which stays behind.
    async fn remove_probe(
        &self,
        provider_id: &str,
        provider: &dyn DnsProvider,
        fqdn: &str,
        value: &str,
    ) -> Result<(), DnsError> {
        let removed = {
            let _slot = self.slots.acquire(provider_id).await;
            provider.clean_up(fqdn, value).await
        };
        if let Err(err) = &removed {
            tracing::warn!(provider = %provider_id, name = %fqdn, value = %value, error = %err,
                "DNS provider test: could not remove the probe TXT record; remove it by hand");
        }
        removed
    }
}

impl Orders {
    /// Tests DNS provider `provider_id` with a probe record for `domain` (normalized as an
    /// order's names are): see the module documentation.
    pub async fn test_dns_provider(
        &self,
        provider_id: &str,
        domain: &str,
    ) -> Result<DnsProbe, DnsProbeError> {
        self.ctx.dns.probe(provider_id, domain).await
    }
}
