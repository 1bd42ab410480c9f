//! The two ways an order starts: a caller's request to issue (`POST /v1/pki/acme/issue`), and a
//! renewal of a managed certificate (forced, or the renewal job's).

use scaivault_domain::account::AccountStatus;
use scaivault_domain::order::{ChallengeRecord, ChallengeType, OrderRecord};
use scaivault_domain::provider::{check_profile_limits, order_profile};
use scaivault_domain::{Error as DomainError, pki};

use super::handle::Orders;
use super::placement::{OrderPlan, place};
use crate::Error;

/// A request to issue, as received.
#[derive(Debug, Clone)]
pub struct IssueRequest {
    pub account_id: String,
    pub domains: Vec<String>,
    pub challenge_type: ChallengeType,
    pub auto_renew: Option<bool>,
    pub dns_provider_id: Option<String>,
    pub key_type: Option<pki::KeyType>,
    pub csr: Option<String>,
    pub profile: Option<String>,
}

impl Orders {
    /// Validates the request, creates the order at the CA, persists it and starts its actor.
    pub async fn issue(
        &self,
        request: IssueRequest,
    ) -> Result<(OrderRecord, Vec<ChallengeRecord>), Error> {
        let store = &self.ctx.store;
        let challenge_type = request.challenge_type;
        self.answerable(challenge_type)?;
        let domains =
            pki::normalize_domains(&request.domains, challenge_type == ChallengeType::Dns01)?;
        // Before the DNS provider choice below, which only makes sense for DNS names.
        pki::check_challenge_type(&domains, challenge_type)?;
        let key_type = request.key_type.unwrap_or_default();
        if let Some(csr) = &request.csr {
            if request.key_type.is_some() {
                return Err(DomainError::invalid(
                    "key_type",
                    "key_type and csr exclude each other: the CSR's key is used",
                )
                .into());
            }
            pki::csr_from_pem(csr, &domains)?;
        }
        if let Some(profile) = &request.profile
            && (profile.is_empty()
                || profile.len() > 64
                || !profile
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
        {
            return Err(DomainError::invalid(
                "profile",
                format!("{profile:?} is not a profile name"),
            )
            .into());
        }
        let account = store.require_account(&request.account_id).await?;
        if account.status != AccountStatus::Active {
            return Err(DomainError::Conflict(format!(
                "account {} is {}; register a new one",
                account.id,
                account.status.as_str()
            ))
            .into());
        }
        // The profile's limits before anything else is looked up or asked for.
        let profile = order_profile(account.provider, &domains, request.profile)?;
        check_profile_limits(
            account.provider,
            profile.as_deref(),
            domains.len(),
            self.propagation_wait(challenge_type),
        )?;
        let dns_provider_id = match (challenge_type, request.dns_provider_id) {
            // The provider whose zone holds the names (or the default one); stored on the
            // order and its certificate, so renewals use it too.
            (ChallengeType::Dns01, None) => Some(self.ctx.dns.pick(&domains).await?),
            (ChallengeType::Dns01, Some(id)) => {
                if store.get_dns_provider(&id).await?.is_none() {
                    return Err(DomainError::invalid(
                        "dns_provider_id",
                        format!("no DNS provider {id} is configured"),
                    )
                    .into());
                }
                Some(id)
            }
            (_, Some(_)) => {
                return Err(DomainError::invalid(
                    "dns_provider_id",
                    "dns_provider_id is only for challenge_type dns-01",
                )
                .into());
            }
            (_, None) => None,
        };
        let (record, challenges) = place(
            &self.ctx,
            OrderPlan {
                account_id: account.id,
                certificate_id: None,
                domains,
                challenge_type,
                key_type,
                csr_pem: request.csr,
                profile,
                auto_renew: request.auto_renew.unwrap_or(true),
                dns_provider_id,
                replaces: None,
            },
        )
        .await?;
        store.insert_order(&record, &challenges).await?;
        self.drive(&record.id);
        Ok((record, challenges))
    }

    /// Renews a managed certificate now: a new order with the same account, names, challenge
    /// type, DNS provider, key type and profile (and, for a certificate from the caller's CSR,
    /// that CSR). If a renewal is already in flight, that order is returned instead (`true`):
    /// at most one renewal per certificate, enforced by the store.
    pub async fn renew(
        &self,
        certificate_id: &str,
    ) -> Result<(OrderRecord, Vec<ChallengeRecord>, bool), Error> {
        let store = &self.ctx.store;
        let certificate = store
            .get_certificate(certificate_id)
            .await?
            .ok_or_else(|| DomainError::not_found("certificate", certificate_id))?;
        if let Some(order) = store.renewal_in_flight(certificate_id).await? {
            let challenges = store.order_challenges(&order.id).await?;
            return Ok((order, challenges, true));
        }
        self.answerable(certificate.challenge_type)?;
        let account = store.require_account(&certificate.account_id).await?;
        if account.status != AccountStatus::Active {
            return Err(DomainError::Conflict(format!(
                "certificate {certificate_id} was issued through account {}, which is {}",
                account.id,
                account.status.as_str()
            ))
            .into());
        }
        // The current version (the one this renewal replaces), by its unique serial.
        let last = store
            .version_by_serial(&certificate.serial_number)
            .await?
            .ok_or_else(|| {
                DomainError::corrupt(format!(
                    "certificate {certificate_id} has no current version"
                ))
            })?;
        let csr_pem = if certificate.own_csr {
            store
                .get_order(&last.order_id)
                .await?
                .and_then(|o| o.csr_pem)
        } else {
            None
        };
        // Sent only if the CA offers ARI; a leaf without an AKI simply has no identifier.
        let replaces = pki::renewal_cert_id(&last.chain_pem).ok();
        // The stored profile, or the one the provider requires for IP addresses.
        let profile = order_profile(account.provider, &certificate.domains, certificate.profile)?;
        check_profile_limits(
            account.provider,
            profile.as_deref(),
            certificate.domains.len(),
            self.propagation_wait(certificate.challenge_type),
        )?;
        let (record, challenges) = place(
            &self.ctx,
            OrderPlan {
                account_id: account.id,
                certificate_id: Some(certificate.id.clone()),
                domains: certificate.domains,
                challenge_type: certificate.challenge_type,
                key_type: certificate.key_type,
                csr_pem,
                profile,
                auto_renew: certificate.auto_renew,
                dns_provider_id: certificate.dns_provider_id,
                replaces,
            },
        )
        .await?;
        match store.insert_order(&record, &challenges).await {
            Ok(()) => {}
            // Another renewal started between the check and the insert: join it. (The CA order
            // just created is never answered and expires at the CA.)
            Err(DomainError::Conflict(conflict)) => {
                if let Some(order) = store.renewal_in_flight(certificate_id).await? {
                    let challenges = store.order_challenges(&order.id).await?;
                    return Ok((order, challenges, true));
                }
                // That renewal already finished too: nothing was stored for this one, so it
                // must not be driven; the caller may simply ask again.
                return Err(DomainError::Conflict(conflict).into());
            }
            Err(err) => return Err(err.into()),
        }
        tracing::info!(certificate = %certificate_id, order = %record.id, "renewal started");
        self.drive(&record.id);
        Ok((record, challenges, false))
    }

    /// Refuses a challenge type nothing here can answer: tls-alpn-01 needs a responder on
    /// `[challenges] tls_alpn01_listen` (the CA connects to port 443 of each name). http-01 is
    /// always answered, by the API listener and any `[challenges] http01_listen`; dns-01 needs
    /// a DNS provider, checked with the provider.
    fn answerable(&self, challenge_type: ChallengeType) -> Result<(), Error> {
        if challenge_type == ChallengeType::TlsAlpn01 && !self.ctx.tls_alpn01 {
            return Err(DomainError::invalid(
                "challenge_type",
                "tls-alpn-01 needs a TLS-ALPN-01 responder, and none is configured: set \
                 [challenges] tls_alpn01_listen (e.g. [\"0.0.0.0:443\"], the address port 443 of \
                 every name reaches) or use http-01 or dns-01",
            )
            .into());
        }
        Ok(())
    }

    /// How long a dns-01 order may wait for propagation (none for the other types): a profile's
    /// pending authorizations must outlive it.
    fn propagation_wait(&self, challenge_type: ChallengeType) -> Option<std::time::Duration> {
        (challenge_type == ChallengeType::Dns01).then(|| self.ctx.dns.propagation.timeout())
    }
}
