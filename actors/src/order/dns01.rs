//! dns-01 for orders (RFC 8555 §8.4): write the TXT value for each pending authorization through
//! the order's DNS provider (following a CNAME delegation of `_acme-challenge.<name>`), wait until
//! every authoritative nameserver serves it, and remove it again once the order is final —
//! immediately, and by a sweeper for removals that failed or were interrupted by a restart.
//!
//! Each record is written to the store *before* the provider is called, so whatever happens
//! next, the sweeper knows what to remove.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use scaivault_dns::{
    DnsError, DnsProvider, HttpClient, Propagation, ResolvedConfig, challenge_name,
};
use scaivault_domain::dns_provider::{DnsChallengeRecord, DnsProviderRecord};
use scaivault_domain::seal::MasterKey;
use scaivault_domain::store::{DnsProviderStore, DnsRecordStore, SecretStore};
use scaivault_domain::{SharedStore, timestamp};

use super::config::DnsSettings;
use super::provider_slots::ProviderSlots;
use crate::Error;

/// How often the sweeper looks for records to remove.
const SWEEP_INTERVAL: Duration = Duration::from_secs(15);
/// The longest wait between two removal attempts of one record.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(3600);

/// What dns-01 needs: the providers and the secrets they name (opened with the master key),
/// the records orders wrote, the HTTP client for cloud APIs, and the propagation checker.
#[derive(Debug)]
pub(crate) struct DnsSupport {
    providers: Arc<dyn DnsProviderStore>,
    secrets: Arc<dyn SecretStore>,
    records: Arc<dyn DnsRecordStore>,
    key: MasterKey,
    http: HttpClient,
    pub(super) propagation: Propagation,
    /// Bounds the provider API calls in flight per provider.
    pub(super) slots: ProviderSlots,
}

/// One TXT value to publish for an authorization.
#[derive(Debug, Clone)]
pub(crate) struct TxtChallenge {
    /// The identifier as ordered (`*.example.test` for a wildcard).
    pub(crate) domain: String,
    /// The base64url SHA-256 of the key authorization (RFC 8555 §8.4).
    pub(crate) value: String,
}

impl DnsSupport {
    pub(crate) fn new(
        store: &SharedStore,
        key: MasterKey,
        settings: &DnsSettings,
    ) -> Result<Self, Error> {
        let http = HttpClient::new(settings.endpoints)
            .map_err(|err| Error::Unavailable(format!("DNS provider HTTP client: {err}")))?;
        Ok(Self {
            providers: store.clone(),
            secrets: store.clone(),
            records: store.clone(),
            key,
            http,
            propagation: Propagation::new(
                settings.resolvers.clone(),
                settings.propagation_timeout,
                settings.propagation_interval,
            ),
            slots: ProviderSlots::new(settings.max_concurrent_requests),
        })
    }

    /// The provider `provider_id` with its secrets resolved.
    pub(super) async fn provider(&self, provider_id: &str) -> Result<Box<dyn DnsProvider>, Error> {
        let record = self
            .providers
            .get_dns_provider(provider_id)
            .await?
            .ok_or_else(|| scaivault_domain::Error::not_found("DNS provider", provider_id))?;
        self.build(&record).await
    }

    /// Every configured provider's record.
    pub(super) async fn records(&self) -> Result<Vec<DnsProviderRecord>, Error> {
        Ok(self.providers.list_dns_providers().await?)
    }

    /// The provider of `record` with its secrets resolved.
    pub(super) async fn build(
        &self,
        record: &DnsProviderRecord,
    ) -> Result<Box<dyn DnsProvider>, Error> {
        let mut values = BTreeMap::new();
        for (key, value) in &record.config {
            match key.strip_suffix("_path") {
                Some(name) => {
                    let stored = self.secrets.get_secret(value).await?.ok_or_else(|| {
                        Error::Dns(DnsError::Config(format!(
                            "config.{key} names the secret {value}, which does not exist"
                        )))
                    })?;
                    let text = stored.open_text(&self.key)?.ok_or_else(|| {
                        Error::Dns(DnsError::Config(format!("the secret {value} is not text")))
                    })?;
                    values.insert(name.to_owned(), text);
                }
                None => {
                    values.insert(key.clone(), value.clone());
                }
            }
        }
        scaivault_dns::build(&record.kind, &ResolvedConfig::new(values), &self.http)
            .map_err(Error::Dns)
    }

    /// Publishes every value and waits until all are served by every authoritative nameserver.
    pub(crate) async fn publish(
        &self,
        order_id: &str,
        provider_id: &str,
        challenges: &[TxtChallenge],
    ) -> Result<(), PublishError> {
        let provider = self
            .provider(provider_id)
            .await
            .map_err(PublishError::Setup)?;
        let mut written = Vec::with_capacity(challenges.len());
        for challenge in challenges {
            let name = challenge_name(&challenge.domain);
            let target = self
                .propagation
                .challenge_target(&name)
                .await
                .map_err(|err| PublishError::Dns(challenge.domain.clone(), err))?;
            self.records
                .upsert_dns_record(&DnsChallengeRecord {
                    order_id: order_id.to_owned(),
                    domain: challenge.domain.clone(),
                    provider_id: provider_id.to_owned(),
                    fqdn: target.clone(),
                    value: challenge.value.clone(),
                    state: "present".into(),
                    attempts: 0,
                    last_error: None,
                })
                .await
                .map_err(|err| PublishError::Setup(err.into()))?;
            let slot = self.slots.acquire(provider_id).await;
            provider
                .present(&target, &challenge.value)
                .await
                .map_err(|err| PublishError::Dns(challenge.domain.clone(), err))?;
            drop(slot);
            tracing::info!(order = %order_id, domain = %challenge.domain, name = %target, "dns-01 TXT record written");
            written.push((challenge.domain.clone(), target, challenge.value.clone()));
        }
        let waits = written.iter().map(|(domain, target, value)| async move {
            let took = self
                .propagation
                .wait_for(target, value)
                .await
                .map_err(|err| PublishError::Propagation(domain.clone(), err))?;
            scaivault_domain::metrics::observe_dns_propagation(took);
            tracing::info!(order = %order_id, name = %target, took_ms = took.as_millis() as u64,
                "dns-01 TXT record served by every authoritative nameserver");
            Ok::<_, PublishError>(())
        });
        // Concurrently: the waits of one order overlap instead of adding up.
        futures_util::future::try_join_all(waits).await?;
        Ok(())
    }

    /// Removes the order's records that are still present; failures are kept for the sweeper.
    pub(crate) async fn clean_up_order(&self, order_id: &str) {
        match self.records.order_dns_records(order_id).await {
            Ok(records) => {
                for record in records.iter().filter(|r| r.state != "removed") {
                    self.remove(record).await;
                }
            }
            Err(err) => {
                tracing::warn!(order = %order_id, error = %err, "cannot read dns-01 records to remove")
            }
        }
    }

    /// Removes one record and records the outcome.
    async fn remove(&self, record: &DnsChallengeRecord) {
        let outcome = match self.provider(&record.provider_id).await {
            Ok(provider) => {
                let _slot = self.slots.acquire(&record.provider_id).await;
                provider
                    .clean_up(&record.fqdn, &record.value)
                    .await
                    .map_err(|e| e.to_string())
            }
            Err(err) => Err(err.to_string()),
        };
        let now = timestamp::now();
        let (state, error, next) = match &outcome {
            Ok(()) => ("removed", None, now),
            Err(err) => {
                let factor =
                    2u32.saturating_pow(u32::try_from(record.attempts).unwrap_or(16).min(16));
                let delay = Duration::from_secs(30)
                    .saturating_mul(factor)
                    .min(MAX_RETRY_DELAY);
                tracing::warn!(order = %record.order_id, name = %record.fqdn, error = %err,
                    attempt = record.attempts + 1, retry_in_s = delay.as_secs(),
                    "could not remove a dns-01 TXT record; will retry");
                ("remove_failed", Some(err.as_str()), now + delay)
            }
        };
        if outcome.is_ok() {
            tracing::info!(order = %record.order_id, name = %record.fqdn, "dns-01 TXT record removed");
        }
        if let Err(err) = self
            .records
            .set_dns_record_state(&record.order_id, &record.domain, state, error, next)
            .await
        {
            tracing::error!(order = %record.order_id, error = %err, "cannot record a dns-01 cleanup outcome");
        }
    }

    /// Removes every due record of a final order: those a restart interrupted and those whose
    /// removal failed before. Runs at start and every [`SWEEP_INTERVAL`].
    async fn sweep(&self) {
        match self.records.due_dns_cleanups(timestamp::now(), 100).await {
            Ok(records) => {
                for record in &records {
                    self.remove(record).await;
                }
            }
            Err(err) => tracing::warn!(error = %err, "cannot list dns-01 records to remove"),
        }
    }

    /// Runs [`Self::sweep`] now and then periodically until the task is aborted.
    pub(crate) async fn sweep_forever(self: std::sync::Arc<Self>) {
        loop {
            self.sweep().await;
            tokio::time::sleep(SWEEP_INTERVAL).await;
        }
    }
}

/// Why publishing failed, with the domain it concerns.
#[derive(Debug)]
pub(crate) enum PublishError {
    /// The provider could not be set up (unknown provider, missing secret, store failure).
    Setup(Error),
    /// The provider refused or failed writing the record for this domain.
    Dns(String, DnsError),
    /// The record was not served by every nameserver in time.
    Propagation(String, DnsError),
}
