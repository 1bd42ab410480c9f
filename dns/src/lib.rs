//! DNS for ACME dns-01 (RFC 8555 §8.4): the providers that write a challenge's TXT record, the
//! check that waits until the record is served, and the name the record goes under.
//!
//! # Design
//!
//! - **A provider presents and cleans up one value.** [`DnsProvider::present`] adds one TXT
//!   value at a name and [`DnsProvider::clean_up`] removes exactly that value; both leave the
//!   other values of the RRset alone, since an apex and its wildcard share
//!   `_acme-challenge.<name>` with two different values and other clients may have records
//!   there too. Both succeed when there is nothing to do, so a retry is safe. [`build`] makes the
//!   provider of a configured type from a [`ResolvedConfig`] (secrets already read): [`Rfc2136`]
//!   (DNS UPDATE signed with TSIG) or a cloud API ([`Route53`], [`Cloudflare`],
//!   [`GoogleCloudDns`], [`AzureDns`], [`DigitalOcean`], [`Hetzner`]), each in its own module
//!   with the API's wire types beside it.
//! - **Propagation.** A CA may ask any authoritative nameserver of the zone, so
//!   [`Propagation::wait_for`] finds the zone through recursive resolvers (SOA walk) and polls
//!   every one of its nameservers directly until all serve the value.
//!   [`Propagation::challenge_target`] follows a CNAME at the challenge name first, so that a
//!   delegated record is written where the CA looks.
//! - **CAA.** [`Propagation::caa`] looks up a name's relevant CAA RRset (RFC 8659 §3: the name,
//!   then its parents, CNAMEs followed) through the same resolvers, for the pre-check that
//!   decides with `scaivault_domain::caa` whether a CA may issue.
//! - **Naming.** [`challenge_name`] is the name a domain's value goes under.
//!
//! - **Endpoints.** The cloud providers connect only where the [`EndpointPolicy`] allows:
//!   https and public addresses unless `[dns] allow_insecure_endpoints`, checked when a
//!   provider is created ([`check_endpoint`]) and on every connection ([`HttpClient`]).
//!
//! Every failure is a [`DnsError`], classified (credentials, rate limit, provider failure,
//! rejected request, refused endpoint, transport, configuration) so that a caller can say what
//! to fix and knows whether retrying may help ([`DnsError::is_transient`]). The crate knows nothing of orders,
//! actors or storage: the caller decides when to present, wait and clean up, and how many calls
//! run at once.

mod caa;
mod config;
mod dns_client;
mod endpoint;
mod error;
mod names;
mod oauth;
mod propagation;
mod provider;
mod providers;
mod rest;
mod txt;

// The public interface.
pub use crate::config::ResolvedConfig;
pub use crate::endpoint::{
    ENDPOINT_KEYS, EndpointPolicy, EndpointRefused, HttpClient, check_endpoint,
};
pub use crate::error::DnsError;
pub use crate::names::challenge_name;
pub use crate::propagation::{Propagation, Zone};
pub use crate::provider::DnsProvider;
pub use crate::providers::{
    AzureDns, Cloudflare, DigitalOcean, GoogleCloudDns, Hetzner, Rfc2136, Route53, build,
};
