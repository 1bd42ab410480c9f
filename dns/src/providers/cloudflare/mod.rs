//! Cloudflare DNS through the Cloudflare API v4 (<https://developers.cloudflare.com/api/>).
//!
//! Cloudflare keeps one *record* (with its own id) per value, so a TXT RRset with two values is
//! two records at the same name. Adding creates one record; removing deletes only the record(s)
//! whose content is the value, which leaves the other values at the name alone (apex and
//! wildcard share `_acme-challenge.<name>`).
//!
//! Requests, as documented:
//! - zone lookup (when `zone_id` is not configured): `GET /zones?name=<candidate>`, walking up
//!   the labels of the name until a zone of exactly that name is listed
//!   (<https://developers.cloudflare.com/api/resources/zones/methods/list/>);
//! - add: `POST /zones/{zone_id}/dns_records` with `{"type":"TXT","name","content","ttl":60}`
//!   (<https://developers.cloudflare.com/api/resources/dns/subresources/records/methods/create/>).
//!   TXT content is sent as an RFC 1035 quoted character string, the form Cloudflare's record
//!   schema asks for. The answer "An identical record already exists" (error code 81058) means
//!   the value is already there, which the trait counts as success;
//! - remove: `GET /zones/{zone_id}/dns_records?type=TXT&name.exact=<fqdn>` (paged with `page`
//!   and `per_page`, `result_info.total_pages`), then `DELETE /zones/{zone_id}/dns_records/{id}`
//!   for the records holding the value
//!   (<https://developers.cloudflare.com/api/resources/dns/subresources/records/methods/list/>,
//!   <https://developers.cloudflare.com/api/resources/dns/subresources/records/methods/delete/>).
//!   The content is compared client-side after removing TXT quoting, because a record may be
//!   stored quoted (`"abc"`, as we write it) or unquoted (older records), and a server-side
//!   `content.exact` filter would miss one of the two forms.
//!
//! Every answer is the v4 envelope `{"success","errors":[{"code","message"}],"messages",
//! "result","result_info"}`; a `success: false` answer is an error even on HTTP 200. HTTP
//! errors map through [`crate::rest::http_error`] (401/403 credentials, 429 with `Retry-After`,
//! 5xx). Authentication is an API token as `Authorization: Bearer` (the scheme Cloudflare prefers
//! over global API keys); the token is never logged and not part of `Debug`.

mod wire;

use async_trait::async_trait;
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;

use self::wire::{ApiMessage, Envelope, Record, Zone};
use crate::config::ResolvedConfig;
use crate::endpoint::HttpClient;
use crate::error::DnsError;
use crate::names::{in_zone, normalize, zone_candidates};
use crate::provider::DnsProvider;
use crate::rest::{Reply, RestClient};
use crate::txt;

/// The public API base.
const DEFAULT_ENDPOINT: &str = "https://api.cloudflare.com/client/v4";
/// TTL of challenge records: low so that a retried challenge is not masked by caches (60 s is
/// Cloudflare's minimum outside Enterprise zones; 1 would mean "automatic", i.e. 300 s).
const TTL: u32 = 60;
/// "An identical record already exists."
const CODE_IDENTICAL_RECORD: i64 = 81058;
/// Records per list page.
const PER_PAGE: u32 = 100;

/// The Cloudflare DNS provider (config: `api_token`, optional `zone_id`, optional `endpoint`).
pub struct Cloudflare {
    api: RestClient,
    zone_id: Option<String>,
}

impl std::fmt::Debug for Cloudflare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cloudflare")
            .field("endpoint", &self.api.endpoint().as_str())
            .field("zone_id", &self.zone_id)
            .finish_non_exhaustive()
    }
}

impl Cloudflare {
    pub fn new(config: &ResolvedConfig, http: HttpClient) -> Result<Self, DnsError> {
        let api = RestClient::from_config(config, http, DEFAULT_ENDPOINT, "Cloudflare API")?;
        let zone_id = config.optional("zone_id").map(|z| z.trim().to_owned());
        Ok(Self { api, zone_id })
    }

    /// Sends a request and unwraps the v4 envelope of a successful answer.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<serde_json::Value>,
    ) -> Result<Envelope<T>, DnsError> {
        let reply = self.api.send(method, url, body).await?;
        envelope(&reply)
    }

    /// The zone id for `fqdn`: the configured one, else the closest enclosing zone found by
    /// listing zones by name.
    async fn zone_for(&self, fqdn: &str) -> Result<String, DnsError> {
        if let Some(zone_id) = &self.zone_id {
            return Ok(zone_id.clone());
        }
        Ok(self.zone_named(fqdn).await?.id)
    }

    /// The closest zone enclosing `fqdn` visible to the token, found by listing zones by name.
    async fn zone_named(&self, fqdn: &str) -> Result<Zone, DnsError> {
        for candidate in zone_candidates(fqdn) {
            let url = self.api.url(&["zones"], &[("name", candidate)]);
            let zones: Envelope<Vec<Zone>> = self.call(Method::GET, url, None).await?;
            if let Some(zone) = zones
                .result
                .unwrap_or_default()
                .into_iter()
                .find(|z| z.name.trim_end_matches('.').eq_ignore_ascii_case(candidate))
            {
                return Ok(zone);
            }
        }
        Err(DnsError::Rejected(format!(
            "no Cloudflare zone visible to this token encloses {fqdn} (set zone_id, or grant the \
             token Zone:Read on the zone)"
        )))
    }

    /// The TXT records at `fqdn` (all pages).
    async fn txt_records(&self, zone_id: &str, fqdn: &str) -> Result<Vec<Record>, DnsError> {
        let mut records = Vec::new();
        let per_page = PER_PAGE.to_string();
        let mut page = 1u32;
        loop {
            let page_str = page.to_string();
            let url = self.api.url(
                &["zones", zone_id, "dns_records"],
                &[
                    ("type", "TXT"),
                    ("name.exact", fqdn),
                    ("page", &page_str),
                    ("per_page", &per_page),
                ],
            );
            let list: Envelope<Vec<Record>> = self.call(Method::GET, url, None).await?;
            let batch = list.result.unwrap_or_default();
            let empty = batch.is_empty();
            records.extend(batch.into_iter().filter(|r| {
                r.kind.eq_ignore_ascii_case("TXT")
                    && r.name.trim_end_matches('.').eq_ignore_ascii_case(fqdn)
            }));
            let total_pages = list.result_info.and_then(|i| i.total_pages).unwrap_or(1);
            if empty || page >= total_pages {
                return Ok(records);
            }
            page += 1;
        }
    }
}

#[async_trait]
impl DnsProvider for Cloudflare {
    /// The configured zone's name (`GET /zones/{zone_id}`) when it encloses `fqdn`, else the
    /// zone enclosing `fqdn` among those the token sees, by name.
    async fn zone_of(&self, fqdn: &str) -> Result<Option<String>, DnsError> {
        let fqdn = normalize(fqdn)?;
        if let Some(zone_id) = &self.zone_id {
            let url = self.api.url(&["zones", zone_id], &[]);
            let zone: Envelope<Zone> = self.call(Method::GET, url, None).await?;
            let name = zone
                .result
                .map(|z| z.name.trim_end_matches('.').to_ascii_lowercase())
                .ok_or_else(|| {
                    DnsError::Server(format!("zone {zone_id}: no zone in the answer"))
                })?;
            return Ok(in_zone(&fqdn, &name).then_some(name));
        }
        match self.zone_named(&fqdn).await {
            Ok(zone) => Ok(Some(zone.name.trim_end_matches('.').to_ascii_lowercase())),
            Err(DnsError::Rejected(_)) => Ok(None),
            Err(other) => Err(other),
        }
    }

    async fn present(&self, fqdn: &str, value: &str) -> Result<(), DnsError> {
        let fqdn = normalize(fqdn)?;
        let zone_id = self.zone_for(&fqdn).await?;
        let url = self.api.url(&["zones", &zone_id, "dns_records"], &[]);
        let body = serde_json::json!({
            "type": "TXT",
            "name": fqdn,
            "content": txt::quote(value),
            "ttl": TTL,
        });
        let reply = self.api.send(Method::POST, url, Some(body)).await?;
        match envelope::<serde_json::Value>(&reply) {
            Ok(_) => Ok(()),
            Err(e) if has_error_code(&reply, CODE_IDENTICAL_RECORD) => {
                tracing::debug!(%fqdn, "Cloudflare already has this TXT value: {e}");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    async fn clean_up(&self, fqdn: &str, value: &str) -> Result<(), DnsError> {
        let fqdn = normalize(fqdn)?;
        let zone_id = self.zone_for(&fqdn).await?;
        for record in self.txt_records(&zone_id, &fqdn).await? {
            if txt::unquote(&record.content) != value {
                continue;
            }
            let url = self
                .api
                .url(&["zones", &zone_id, "dns_records", &record.id], &[]);
            let reply = self.api.send(Method::DELETE, url, None).await?;
            // Gone already (a concurrent cleanup): what we wanted.
            if reply.status == StatusCode::NOT_FOUND {
                continue;
            }
            envelope::<serde_json::Value>(&reply)?;
        }
        Ok(())
    }
}

/// The v4 envelope of a successful answer; `success: false` is an error even on HTTP 200.
fn envelope<T: DeserializeOwned>(reply: &Reply) -> Result<Envelope<T>, DnsError> {
    let envelope: Envelope<T> = reply.json(error_detail)?;
    if !envelope.success {
        return Err(DnsError::Rejected(format!(
            "Cloudflare API: {}",
            describe(&envelope.errors)
        )));
    }
    Ok(envelope)
}

/// The `errors` of a failed answer's envelope, when it has any.
fn error_detail(body: &str) -> Option<String> {
    serde_json::from_str::<Envelope<serde_json::Value>>(body)
        .ok()
        .filter(|e| !e.errors.is_empty())
        .map(|e| describe(&e.errors))
}

/// Whether the answer's envelope lists the error `code`.
fn has_error_code(reply: &Reply, code: i64) -> bool {
    serde_json::from_str::<Envelope<serde_json::Value>>(&reply.body)
        .is_ok_and(|e| e.errors.iter().any(|m| m.code == code))
}

fn describe(errors: &[ApiMessage]) -> String {
    if errors.is_empty() {
        return "success: false without errors".to_owned();
    }
    errors
        .iter()
        .map(|m| format!("{} ({})", m.message, m.code))
        .collect::<Vec<_>>()
        .join("; ")
}
