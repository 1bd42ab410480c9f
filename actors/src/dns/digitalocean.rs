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
//! Errors are `{"id","message","request_id"}` and map through [`super::http_error`]; a 429
//! carries `Retry-After` (seconds). Authentication is `Authorization: Bearer <token>`; the token
//! is never logged and not part of `Debug`.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{DnsError, DnsProvider, ResolvedConfig};

/// The public API base (version included).
pub const DEFAULT_ENDPOINT: &str = "https://api.digitalocean.com/v2";
/// TTL of challenge records (DigitalOcean's minimum is 30).
const TTL: u32 = 60;
/// Records per list page (the API's maximum).
const PER_PAGE: u32 = 200;
/// Upper bound on one request, so that a stalled API cannot hold an order forever.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The DigitalOcean DNS provider (config: `api_token`, optional `endpoint`).
pub struct DigitalOcean {
    http: reqwest::Client,
    endpoint: Url,
    token: String,
}

impl std::fmt::Debug for DigitalOcean {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigitalOcean")
            .field("endpoint", &self.endpoint.as_str())
            .finish_non_exhaustive()
    }
}

impl DigitalOcean {
    pub fn new(config: &ResolvedConfig, http: reqwest::Client) -> Result<Self, DnsError> {
        let token = config.required("api_token")?.trim().to_owned();
        let endpoint = parse_endpoint(config.optional("endpoint").unwrap_or(DEFAULT_ENDPOINT))?;
        Ok(Self {
            http,
            endpoint,
            token,
        })
    }

    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.endpoint.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<serde_json::Value>,
    ) -> Result<Reply, DnsError> {
        let mut request = self
            .http
            .request(method, url)
            .bearer_auth(&self.token)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(REQUEST_TIMEOUT);
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| DnsError::Transport(format!("DigitalOcean API: {e}")))?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let body = response
            .text()
            .await
            .map_err(|e| DnsError::Transport(format!("DigitalOcean API: {e}")))?;
        Ok(Reply {
            status,
            retry_after,
            body,
        })
    }

    /// The domain (zone) enclosing `fqdn`.
    async fn domain_for(&self, fqdn: &str) -> Result<String, DnsError> {
        for candidate in zone_candidates(fqdn) {
            let reply = self
                .send(Method::GET, self.url(&["domains", candidate], &[]), None)
                .await?;
            if reply.status == StatusCode::NOT_FOUND {
                continue;
            }
            let found: DomainReply = reply.json()?;
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
            let url = self.url(
                &["domains", domain, "records"],
                &[
                    ("type", "TXT"),
                    ("name", fqdn),
                    ("page", &page_str),
                    ("per_page", &per_page),
                ],
            );
            let list: RecordList = self.send(Method::GET, url, None).await?.json()?;
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
    async fn add_txt(&self, fqdn: &str, value: &str) -> Result<(), DnsError> {
        let fqdn = normalize(fqdn)?;
        let domain = self.domain_for(&fqdn).await?;
        let existing = self.txt_records(&domain, &fqdn).await?;
        if existing.iter().any(|r| txt_unquote(&r.data) == value) {
            return Ok(());
        }
        let body = serde_json::json!({
            "type": "TXT",
            "name": relative_name(&fqdn, &domain),
            "data": value,
            "ttl": TTL,
        });
        let url = self.url(&["domains", &domain, "records"], &[]);
        let _: serde_json::Value = self.send(Method::POST, url, Some(body)).await?.json()?;
        Ok(())
    }

    async fn remove_txt(&self, fqdn: &str, value: &str) -> Result<(), DnsError> {
        let fqdn = normalize(fqdn)?;
        let domain = self.domain_for(&fqdn).await?;
        for record in self.txt_records(&domain, &fqdn).await? {
            if txt_unquote(&record.data) != value {
                continue;
            }
            let id = record.id.to_string();
            let url = self.url(&["domains", &domain, "records", &id], &[]);
            let reply = self.send(Method::DELETE, url, None).await?;
            if reply.status == StatusCode::NOT_FOUND {
                continue;
            }
            reply.ok()?;
        }
        Ok(())
    }
}

struct Reply {
    status: StatusCode,
    retry_after: Option<u64>,
    body: String,
}

impl Reply {
    fn ok(&self) -> Result<(), DnsError> {
        if self.status.is_success() {
            return Ok(());
        }
        let detail = serde_json::from_str::<ApiError>(&self.body)
            .ok()
            .map(|e| format!("{} ({})", e.message, e.id))
            .unwrap_or_else(|| self.body.clone());
        Err(super::http_error(self.status, self.retry_after, &detail))
    }

    fn json<T: DeserializeOwned>(&self) -> Result<T, DnsError> {
        self.ok()?;
        serde_json::from_str(&self.body).map_err(|e| {
            DnsError::Server(format!(
                "DigitalOcean API answered HTTP {} with an unexpected body: {e}",
                self.status.as_u16()
            ))
        })
    }
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(default)]
    id: String,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct DomainReply {
    domain: Domain,
}

#[derive(Deserialize)]
struct Domain {
    name: String,
}

#[derive(Deserialize)]
struct RecordList {
    #[serde(default)]
    domain_records: Vec<Record>,
    links: Option<Links>,
}

#[derive(Deserialize)]
struct Links {
    pages: Option<Pages>,
}

#[derive(Deserialize)]
struct Pages {
    next: Option<String>,
}

#[derive(Deserialize)]
struct Record {
    id: u64,
    #[serde(rename = "type")]
    kind: String,
    name: String,
    #[serde(default)]
    data: String,
}

fn parse_endpoint(endpoint: &str) -> Result<Url, DnsError> {
    let url = Url::parse(endpoint.trim())
        .map_err(|e| DnsError::Config(format!("endpoint {endpoint:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(DnsError::Config(format!(
            "endpoint {endpoint:?} must be an http(s) URL"
        )));
    }
    Ok(url)
}

/// Lower-case, no trailing dot.
fn normalize(fqdn: &str) -> Result<String, DnsError> {
    let fqdn = fqdn.trim().trim_end_matches('.').to_ascii_lowercase();
    if fqdn.is_empty() {
        return Err(DnsError::Rejected("empty record name".into()));
    }
    Ok(fqdn)
}

/// `fqdn` itself, then each parent with at least two labels.
fn zone_candidates(fqdn: &str) -> Vec<&str> {
    let mut out = vec![fqdn];
    for (i, c) in fqdn.char_indices() {
        if c == '.' {
            let parent = &fqdn[i + 1..];
            if parent.contains('.') {
                out.push(parent);
            }
        }
    }
    out
}

/// The record name relative to its domain, `@` at the apex.
fn relative_name(fqdn: &str, domain: &str) -> String {
    if fqdn == domain {
        return "@".to_owned();
    }
    fqdn.strip_suffix(domain)
        .and_then(|s| s.strip_suffix('.'))
        .unwrap_or(fqdn)
        .to_owned()
}

/// `Retry-After` in seconds (sent with DigitalOcean's 429 answers).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The text of TXT data: DigitalOcean stores it unquoted, but a record made elsewhere may
/// carry RFC 1035 quotes.
fn txt_unquote(content: &str) -> String {
    let content = content.trim();
    if !content.starts_with('"') {
        return content.to_owned();
    }
    let mut out = String::with_capacity(content.len());
    let (mut quoted, mut escaped) = (false, false);
    for c in content.chars() {
        if escaped {
            out.push(c);
            escaped = false;
        } else if c == '\\' && quoted {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if quoted {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_names() {
        assert_eq!(
            relative_name("_acme-challenge.a.example.com", "example.com"),
            "_acme-challenge.a"
        );
        assert_eq!(relative_name("example.com", "example.com"), "@");
    }
}
