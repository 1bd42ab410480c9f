//! `GET /v1/pki/acme/accounts/{id}/caa?domain=`: the CAA records (RFC 8659) that pin issuance
//! for a name to one ACME account (RFC 8657), what is published now, and whether the account
//! may issue.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::ChallengeType;

/// The query of `GET /v1/pki/acme/accounts/{id}/caa`.
#[derive(Debug, Clone, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CaaQuery {
    /// A DNS name (IDNA to ASCII, lower-cased), perhaps a wildcard (`*.example.com`); not an IP
    /// address, which has no CAA.
    pub domain: String,
}

/// What CAA says about a name for one account.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaaAdvice {
    /// The name asked about, normalized.
    pub domain: String,
    pub account_id: String,
    /// The account's URL at the CA: the `accounturi` of RFC 8657.
    pub account_url: String,
    /// The issuer domain names the CA goes by in CAA records: its directory's
    /// `meta.caaIdentities` and the provider's published ones. Empty for a CA whose directory
    /// names none (then nothing can be recommended, and records naming CAs are the CA's to
    /// judge).
    pub ca_identities: Vec<String>,
    /// Zone-file lines to publish at the name (a wildcard's `*.` dropped) so that only this
    /// account at this CA may issue, by the challenge types this service answers: an `issue`
    /// record with `accounturi` and `validationmethods`, and an `issuewild` record allowing
    /// dns-01. They replace the name's CAA records, and cover its subdomains that have none.
    /// Empty when `ca_identities` is.
    pub recommended: Vec<String>,
    /// The name's relevant CAA records as published now.
    pub published: CaaPublished,
    /// Per challenge type this service answers for the name (dns-01 only for a wildcard), what
    /// the published records allow; empty when the lookup failed.
    pub checks: Vec<CaaCheck>,
    /// Whether this account may issue for the name now by at least one of those challenge
    /// types; `null` when that is the CA's to say (the lookup failed, or the CA's identities
    /// are unknown).
    pub may_issue: Option<bool>,
}

/// The relevant CAA RRset (RFC 8659 §3): the first non-empty one at the name or a parent.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaaPublished {
    pub lookup: CaaLookup,
    /// Where the climb found records (the name or a parent); `null` unless `found`.
    pub name: Option<String>,
    /// The records' owner: `name`, or where a CNAME chain at `name` ends; `null` unless `found`.
    pub owner: Option<String>,
    /// The records as zone-file lines.
    pub records: Vec<String>,
    /// Why the lookup failed; `null` unless `failed`.
    pub error: Option<String>,
}

/// How the lookup went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaaLookup {
    /// Records were found.
    Found,
    /// Neither the name nor any parent has CAA records: every CA may issue.
    None,
    /// The resolvers (`[dns] resolvers`) failed or did not answer.
    Failed,
}

/// What the published records allow for one challenge type.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaaCheck {
    pub challenge_type: ChallengeType,
    pub status: CaaStatus,
    /// Why, naming the records.
    pub reason: String,
}

/// The verdict for one challenge type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaaStatus {
    /// No record restricts issuance for this name.
    Unrestricted,
    /// A record permits this CA, account and challenge type.
    Permitted,
    /// No record permits it: an order would be refused with `caa_forbidden`.
    Forbidden,
    /// Records name CAs and this CA's identities are unknown: the CA decides.
    Undecided,
}
