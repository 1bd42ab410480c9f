//! DigitalOcean DNS through the DigitalOcean API v2
//! (<https://docs.digitalocean.com/reference/api/digitalocean/#tag/Domain-Records>).
//!
//! DigitalOcean keeps one *domain record* (with its own integer id) per value, so a TXT RRset
//! with two values is two records at the same name. Adding creates one record; removing deletes
//! only the record(s) whose `data` is the value, which leaves the other values at the name alone
//! (apex and wildcard share `_acme-challenge.<name>`).
//!
//! Requests, as documented:
//! - zone ("domain") lookup: `GET /v2/domains/{name}` walking up the labels of the record name
//!   until one answers 200 (404 `not_found` means "not a domain of this account");
//! - list: `GET /v2/domains/{domain}/records?type=TXT&name=<fqdn>` — the `name` filter takes the
//!   *fully qualified* record name — paged with `page`/`per_page` (max 200) until
//!   `links.pages.next` is absent. Pages are requested by number against the configured
//!   endpoint rather than by following the returned absolute `next` URL, so the token is only
//!   ever sent to the configured API host;
//! - add: `POST /v2/domains/{domain}/records` with `{"type":"TXT","name":<name relative to the
//!   domain, "@" at the apex>,"data":<value>,"ttl":60}` (201 `{"domain_record":{..}}`). The API
//!   does not reject a duplicate value, so the records are listed first and an existing value is
//!   not written twice. DigitalOcean's minimum TTL is 30 s
//!   (<https://docs.digitalocean.com/glossary/ttl/>); 60 s keeps retries responsive;
//! - remove: list as above, then `DELETE /v2/domains/{domain}/records/{id}` (204) for each record
//!   holding the value; 404 counts as already removed.
//!
//! Errors are `{"id","message","request_id"}` and map through [`crate::rest::http_error`]; a 429
//! carries `Retry-After` (seconds). Authentication is `Authorization: Bearer <token>`; the token
//! is never logged and not part of `Debug`.

mod wire;

use async_trait::async_trait;
use reqwest::{Method, StatusCode};

use self::wire::{ApiError, DomainReply, Record, RecordList};
use crate::config::ResolvedConfig;
use crate::endpoint::HttpClient;
use crate::error::DnsError;
use crate::names::{normalize, relative_name, zone_candidates};
use crate::provider::DnsProvider;
use crate::rest::RestClient;
use crate::txt;

/// The public API base (version included).
const DEFAULT_ENDPOINT: &str = "https://api.digitalocean.com/v2";
/// TTL of challenge records (DigitalOcean's minimum is 30).
const TTL: u32 = 60;
/// Records per list page (the API's maximum).
const PER_PAGE: u32 = 200;

/// The DigitalOcean DNS provider (config: `api_token`, optional `endpoint`).
pub struct DigitalOcean {
    api: RestClient,
}

impl std::fmt::Debug for DigitalOcean {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigitalOcean")
            .field("endpoint", &self.api.endpoint().as_str())
            .finish_non_exhaustive()
    }
}

impl DigitalOcean {
    pub fn new(config: &ResolvedConfig, http: HttpClient) -> Result<Self, DnsError> {
        let api = RestClient::from_config(config, http, DEFAULT_ENDPOINT, "DigitalOcean API")?;
        Ok(Self { api })
    }

    /// The domain (zone) enclosing `fqdn`.
    async fn domain_for(&self, fqdn: &str) -> Result<String, DnsError> {
        for candidate in zone_candidates(fqdn) {
            let reply = self
                .api
                .send(
                    Method::GET,
                    self.api.url(&["domains", candidate], &[]),
                    None,
                )
                .await?;
            if reply.status == StatusCode::NOT_FOUND {
                continue;
            }
            let found: DomainReply = reply.json(error_detail)?;
            return Ok(found.domain.name.trim_end_matches('.').to_ascii_lowercase());
        }
        Err(DnsError::Rejected(format!(
            "no DigitalOcean domain of this account encloses {fqdn}"
        )))
    }

    /// The TXT records at `fqdn` (all pages).
    async fn txt_records(&self, domain: &str, fqdn: &str) -> Result<Vec<Record>, DnsError> {
        let mut records = Vec::new();
        let per_page = PER_PAGE.to_string();
        let mut page = 1u32;
        loop {
            let page_str = page.to_string();
            let url = self.api.url(
                &["domains", domain, "records"],
                &[
                    ("type", "TXT"),
                    ("name", fqdn),
                    ("page", &page_str),
                    ("per_page", &per_page),
                ],
            );
            let list: RecordList = self
                .api
                .send(Method::GET, url, None)
                .await?
                .json(error_detail)?;
            let empty = list.domain_records.is_empty();
            let relative = relative_name(fqdn, domain);
            // The filter is the API's; check again so a server that ignores it cannot make us
            // delete a record at another name.
            records.extend(list.domain_records.into_iter().filter(|r| {
                r.kind.eq_ignore_ascii_case("TXT")
                    && (r.name.eq_ignore_ascii_case(&relative)
                        || r.name.trim_end_matches('.').eq_ignore_ascii_case(fqdn))
            }));
            let has_next = list
                .links
                .and_then(|l| l.pages)
                .and_then(|p| p.next)
                .is_some();
            if empty || !has_next {
                return Ok(records);
            }
            page += 1;
        }
    }
}

#[async_trait]
impl DnsProvider for DigitalOcean {
    /// The account's domain enclosing `fqdn`, as the API lists it.
    async fn zone_of(&self, fqdn: &str) -> Result<Option<String>, DnsError> {
        match self.domain_for(&normalize(fqdn)?).await {
            Ok(domain) => Ok(Some(domain)),
            Err(DnsError::Rejected(_)) => Ok(None),
            Err(other) => Err(other),
        }
    }

    async fn present(&self, fqdn: &str, value: &str) -> Result<(), DnsError> {
        let fqdn = normalize(fqdn)?;
        let domain = self.domain_for(&fqdn).await?;
        let existing = self.txt_records(&domain, &fqdn).await?;
        if existing.iter().any(|r| txt::unquote(&r.data) == value) {
            return Ok(());
        }
        let body = serde_json::json!({
            "type": "TXT",
            "name": relative_name(&fqdn, &domain),
            "data": value,
            "ttl": TTL,
        });
        let url = self.api.url(&["domains", &domain, "records"], &[]);
        let _: serde_json::Value = self
            .api
            .send(Method::POST, url, Some(body))
            .await?
            .json(error_detail)?;
        Ok(())
    }

    async fn clean_up(&self, fqdn: &str, value: &str) -> Result<(), DnsError> {
        let fqdn = normalize(fqdn)?;
        let domain = self.domain_for(&fqdn).await?;
        for record in self.txt_records(&domain, &fqdn).await? {
            if txt::unquote(&record.data) != value {
                continue;
            }
            let id = record.id.to_string();
            let url = self.api.url(&["domains", &domain, "records", &id], &[]);
            let reply = self.api.send(Method::DELETE, url, None).await?;
            if reply.status == StatusCode::NOT_FOUND {
                continue;
            }
            reply.check(error_detail)?;
        }
        Ok(())
    }
}

/// `message (id)` of an error answer (`{"id","message","request_id"}`).
fn error_detail(body: &str) -> Option<String> {
    serde_json::from_str::<ApiError>(body)
        .ok()
        .map(|e| format!("{} ({})", e.message, e.id))
}
