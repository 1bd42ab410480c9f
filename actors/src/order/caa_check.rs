//! The CAA pre-check (RFC 8659, with RFC 8657's `accounturi` and `validationmethods`): before
//! an order is placed, each DNS name's relevant CAA RRset is looked up through `[dns]
//! resolvers` and judged for this CA, account and challenge type. A name the records forbid
//! refuses the order (`caa_forbidden`) instead of costing a failed authorization at the CA,
//! which counts against its limits (Let's Encrypt: 5 per name, account and hour).
//!
//! A lookup that fails (SERVFAIL, timeout, no resolver) does not refuse: the CA looks CAA up
//! itself and has the last word, and an outage of our resolvers should not stop issuance that
//! the CA would allow. It is logged, and the CA decides. The same holds when the CA's
//! identities are unknown (a custom CA whose directory has no `caaIdentities`) and a record
//! might name it.

use std::collections::HashMap;

use futures_util::future::join_all;
use scaivault_domain::account::AccountRecord;
use scaivault_domain::caa::{CaaRefusal, CaaRequest, CaaSet, CaaVerdict, decide, pinning_records};
use scaivault_domain::order::ChallengeType;
use scaivault_domain::pki::Identifier;

use super::context::Context;
use super::handle::Orders;
use crate::Error;

/// What `GET /v1/pki/acme/accounts/{id}/caa` reports for one name.
#[derive(Debug, Clone)]
pub struct CaaReport {
    /// The name asked about, normalized (`*.` kept).
    pub domain: String,
    /// The account's URL at the CA, for `accounturi`.
    pub account_url: String,
    /// The names the CA goes by in CAA records; empty when unknown.
    pub identities: Vec<String>,
    /// The records that pin issuance to this account; `None` when the CA's identity is
    /// unknown.
    pub pinning: Option<CaaSet>,
    /// The relevant RRset as published now (`Ok(None)`: no CAA record at the name or any
    /// parent), or why it could not be looked up.
    pub published: Result<Option<CaaSet>, String>,
    /// Per challenge type this service can answer for the name, the verdict (none when the
    /// lookup failed).
    pub verdicts: Vec<(ChallengeType, CaaVerdict)>,
}

/// Refuses the order when CAA forbids this CA to issue for any of its DNS names (IP addresses
/// have no CAA); see the module docs for what does not refuse.
pub(super) async fn precheck(
    ctx: &Context,
    account: &AccountRecord,
    domains: &[String],
    method: ChallengeType,
) -> Result<(), Error> {
    if !ctx.caa_precheck {
        return Ok(());
    }
    let names: Vec<&String> = domains
        .iter()
        .filter(|d| !Identifier::of(d).is_ip())
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    let identities = ctx.accounts.caa_identities(account).await;
    let sets = lookups(ctx, &names).await;
    let mut denials = Vec::new();
    for domain in names {
        let set = match &sets[base(domain)] {
            Ok(set) => set.as_ref(),
            Err(why) => {
                tracing::warn!(account = %account.id, domain = %domain, error = %why,
                    "CAA lookup failed; ordering anyway, the CA checks CAA itself");
                continue;
            }
        };
        let request = CaaRequest {
            domain,
            identities: &identities,
            account_url: &account.account_url,
            method,
        };
        match decide(set, &request) {
            CaaVerdict::Forbidden(denial) => denials.push(denial),
            CaaVerdict::Undecided(records) => {
                tracing::info!(account = %account.id, domain = %domain, records = records.len(),
                    "CAA names CAs and this CA's identities are unknown (no caaIdentities in its \
                     directory); the CA decides");
            }
            CaaVerdict::Permitted(_) | CaaVerdict::Unrestricted => {}
        }
    }
    if denials.is_empty() {
        Ok(())
    } else {
        let refusal = CaaRefusal { denials };
        tracing::info!(account = %account.id, reason = %refusal, "order refused by CAA");
        Err(refusal.into())
    }
}

impl Orders {
    /// What CAA says about `domain` for `account`: the records that would pin issuance to it,
    /// the records published now, and whether it may issue by each challenge type this
    /// service answers. `domain` is a normalized DNS name (a wildcard allowed).
    pub async fn caa_report(&self, account: &AccountRecord, domain: &str) -> CaaReport {
        let ctx = &self.ctx;
        let identities = ctx.accounts.caa_identities(account).await;
        let mut methods = vec![ChallengeType::Http01, ChallengeType::Dns01];
        if ctx.tls_alpn01 {
            methods.push(ChallengeType::TlsAlpn01);
        }
        let pinning = identities
            .first()
            .map(|identity| pinning_records(domain, identity, &account.account_url, &methods));
        let published = ctx
            .dns
            .propagation
            .caa(domain)
            .await
            .map_err(|err| err.to_string());
        let verdicts = match &published {
            Err(_) => Vec::new(),
            Ok(set) => methods
                .iter()
                // A wildcard is validated by dns-01 only (RFC 8555 §7.1.3).
                .filter(|m| !domain.starts_with("*.") || **m == ChallengeType::Dns01)
                .map(|method| {
                    let request = CaaRequest {
                        domain,
                        identities: &identities,
                        account_url: &account.account_url,
                        method: *method,
                    };
                    (*method, decide(set.as_ref(), &request))
                })
                .collect(),
        };
        CaaReport {
            domain: domain.to_owned(),
            account_url: account.account_url.clone(),
            identities,
            pinning,
            published,
            verdicts,
        }
    }
}

/// The relevant RRset of each distinct name (an apex and its wildcard share one), looked up
/// concurrently.
async fn lookups(
    ctx: &Context,
    names: &[&String],
) -> HashMap<String, Result<Option<CaaSet>, String>> {
    let mut distinct: Vec<&str> = names.iter().map(|n| base(n)).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let results = join_all(distinct.iter().map(|name| ctx.dns.propagation.caa(name))).await;
    distinct
        .into_iter()
        .map(str::to_owned)
        .zip(
            results
                .into_iter()
                .map(|r| r.map_err(|err| err.to_string())),
        )
        .collect()
}

/// The name whose CAA records govern `domain`: a wildcard's without its `*.`.
fn base(domain: &str) -> &str {
    domain.strip_prefix("*.").unwrap_or(domain)
}
