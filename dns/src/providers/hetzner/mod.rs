//! Hetzner DNS through the DNS part of the Hetzner Cloud API (base
//! `https://api.hetzner.cloud/v1`, <https://docs.hetzner.cloud/reference/cloud#zones>).
//!
//! Which API, and why: in 2025 Hetzner moved DNS from the DNS Console (API
//! `https://dns.hetzner.com/api/v1`, `Auth-API-Token` header) into the Hetzner Console, with a
//! new API integrated in the Cloud API (zones and RRsets, `Authorization: Bearer` with a Cloud
//! project token). New zones can only be created in the Hetzner Console, migrated zones can no
//! longer be changed through the old API, and the old DNS API is being shut down (announced
//! brownouts, then removal; integrations report May 2026) — see
//! <https://docs.hetzner.com/networking/dns/migration-to-hetzner-console/process>.
//! This provider therefore speaks only the Cloud API; a token from the old DNS Console is
//! refused with 401 and reported as a credentials error.
//!
//! The Cloud API models an RRset (name + type) with a list of records and has actions that add
//! or remove individual values, which is exactly what dns-01 needs: the other values at the name
//! (apex and wildcard share `_acme-challenge.<name>`) are never rewritten.
//!
//! Requests, as documented:
//! - zone: with `zone_id`, `GET /zones/{zone_id}` (for the zone's name); without it,
//!   `GET /zones?name=<candidate>` walking up the labels of the record name;
//! - read: `GET /zones/{zone}/rrsets/{rr_name}/TXT` (`{"rrset":{..,"ttl","records":[{"value"}]}}`,
//!   404 when absent). `rr_name` is relative to the zone, lower case, `@` at the apex;
//! - add: `POST /zones/{zone}/rrsets/{rr_name}/TXT/actions/add_records` with
//!   `{"records":[{"value":"\"<value>\""}],"ttl":60}` — the RRset is created when absent. TXT
//!   values are RFC 1035 quoted strings. `ttl` is only sent when the RRset is new, because the API
//!   refuses a TTL that differs from an existing RRset's. The value is only added when the RRset
//!   does not hold it yet, so adding twice is harmless;
//! - remove: `POST /zones/{zone}/rrsets/{rr_name}/TXT/actions/remove_records` with
//!   `{"records":[{"value":"\"<value>\""}]}` — only when the RRset holds the value; the API
//!   deletes the RRset when its last record goes;
//! - both actions answer `{"action":{"id","status":"running"|"success"|"error","error"}}`; a
//!   running action is polled with `GET /zones/actions/{id}` until it finishes, so that success
//!   means the change was applied (<https://docs.hetzner.cloud/reference/cloud#zone-actions-get-an-action>).
//!
//! Errors are `{"error":{"code","message","details"}}` and map through
//! [`crate::rest::http_error`]. A 429 reports how long to wait: `Retry-After` when sent, else the
//! time until the `RateLimit-Reset` instant (a UNIX timestamp the Cloud API sends with its
//! answers). The token is never logged and not part of `Debug`.

mod wire;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use reqwest::{Method, StatusCode};

use self::wire::{ActionReply, ErrorReply, RrSet, RrSetReply, ZoneList, ZoneReply};
use crate::config::ResolvedConfig;
use crate::endpoint::HttpClient;
use crate::error::DnsError;
use crate::names::{in_zone, normalize, relative_name, zone_candidates};
use crate::provider::DnsProvider;
use crate::rest::{self, RestClient};
use crate::txt;

/// The public API base (version included).
const DEFAULT_ENDPOINT: &str = "https://api.hetzner.cloud/v1";
/// TTL of a new challenge RRset.
const TTL: u32 = 60;
/// How often a running action is polled, and for how long.
const ACTION_POLL_INTERVAL: Duration = Duration::from_millis(500);
const ACTION_TIMEOUT: Duration = Duration::from_secs(120);

/// The Hetzner DNS provider (config: `api_token` — a Hetzner Console project token with read &
/// write access —, optional `zone_id` — the zone's ID, or its name, which the API also accepts —,
/// optional `endpoint`).
pub struct Hetzner {
    api: RestClient,
    zone_id: Option<String>,
}

impl std::fmt::Debug for Hetzner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hetzner")
            .field("endpoint", &self.api.endpoint().as_str())
            .field("zone_id", &self.zone_id)
            .finish_non_exhaustive()
    }
}

/// A zone: the id to address it by and its name (to make record names relative).
struct ZoneRef {
    id: String,
    name: String,
}

impl Hetzner {
    pub fn new(config: &ResolvedConfig, http: HttpClient) -> Result<Self, DnsError> {
        let api = RestClient::from_config(config, http, DEFAULT_ENDPOINT, "Hetzner Cloud API")?
            .with_retry_after(retry_after);
        let zone_id = config.optional("zone_id").map(|z| z.trim().to_owned());
        Ok(Self { api, zone_id })
    }

    async fn zone_for(&self, fqdn: &str) -> Result<ZoneRef, DnsError> {
        if let Some(zone_id) = &self.zone_id {
            let found: ZoneReply = self
                .api
                .send(Method::GET, self.api.url(&["zones", zone_id], &[]), None)
                .await?
                .json(error_detail)?;
            let name = found.zone.name.trim_end_matches('.').to_ascii_lowercase();
            if !in_zone(fqdn, &name) {
                return Err(DnsError::Config(format!(
                    "{fqdn} is not in the configured zone {name} (zone_id {zone_id})"
                )));
            }
            return Ok(ZoneRef {
                id: zone_id.clone(),
                name,
            });
        }
        for candidate in zone_candidates(fqdn) {
            let url = self.api.url(&["zones"], &[("name", candidate)]);
            let list: ZoneList = self
                .api
                .send(Method::GET, url, None)
                .await?
                .json(error_detail)?;
            if let Some(zone) = list
                .zones
                .into_iter()
                .find(|z| z.name.trim_end_matches('.').eq_ignore_ascii_case(candidate))
            {
                return Ok(ZoneRef {
                    id: match zone.id {
                        serde_json::Value::String(id) => id,
                        other => other.to_string(),
                    },
                    name: candidate.to_owned(),
                });
            }
        }
        Err(DnsError::Rejected(format!(
            "no Hetzner DNS zone of this project encloses {fqdn} (set zone_id, or use a token of \
             the project that holds the zone)"
        )))
    }

    /// The TXT RRset at `rr_name`, `None` when absent.
    async fn rrset(&self, zone: &ZoneRef, rr_name: &str) -> Result<Option<RrSet>, DnsError> {
        let url = self
            .api
            .url(&["zones", &zone.id, "rrsets", rr_name, "TXT"], &[]);
        let reply = self.api.send(Method::GET, url, None).await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        Ok(Some(reply.json::<RrSetReply>(error_detail)?.rrset))
    }

    /// Runs an RRset action and waits until it has finished.
    async fn action(
        &self,
        zone: &ZoneRef,
        rr_name: &str,
        action: &str,
        body: serde_json::Value,
    ) -> Result<(), DnsError> {
        let url = self.api.url(
            &[
                "zones", &zone.id, "rrsets", rr_name, "TXT", "actions", action,
            ],
            &[],
        );
        let reply = self.api.send(Method::POST, url, Some(body)).await?;
        // Only removal gets here with a possibly absent RRset: gone concurrently (the RRset
        // went with its last record) is what was wanted.
        if action == "remove_records" && reply.status == StatusCode::NOT_FOUND {
            return Ok(());
        }
        let mut current = reply.json::<ActionReply>(error_detail)?.action;
        let deadline = tokio::time::Instant::now() + ACTION_TIMEOUT;
        loop {
            match current.status.as_str() {
                "success" => return Ok(()),
                "error" => {
                    let detail = current
                        .error
                        .map(|e| format!("{} ({})", e.message, e.code))
                        .unwrap_or_else(|| "no details".to_owned());
                    return Err(DnsError::Rejected(format!(
                        "Hetzner Cloud API action {action} {} failed: {detail}",
                        current.id
                    )));
                }
                _ => {}
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(DnsError::Server(format!(
                    "Hetzner Cloud API action {action} {} still {} after {}s",
                    current.id,
                    current.status,
                    ACTION_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(ACTION_POLL_INTERVAL).await;
            let id = current.id.to_string();
            current = self
                .api
                .send(
                    Method::GET,
                    self.api.url(&["zones", "actions", &id], &[]),
                    None,
                )
                .await?
                .json::<ActionReply>(error_detail)?
                .action;
        }
    }
}

#[async_trait]
impl DnsProvider for Hetzner {
    /// The project's zone enclosing `fqdn` (the configured `zone_id`'s, or found by name).
    async fn zone_of(&self, fqdn: &str) -> Result<Option<String>, DnsError> {
        match self.zone_for(&normalize(fqdn)?).await {
            Ok(zone) => Ok(Some(zone.name)),
            Err(DnsError::Rejected(_) | DnsError::Config(_)) => Ok(None),
            Err(other) => Err(other),
        }
    }

    async fn present(&self, fqdn: &str, value: &str) -> Result<(), DnsError> {
        let fqdn = normalize(fqdn)?;
        let zone = self.zone_for(&fqdn).await?;
        let rr_name = relative_name(&fqdn, &zone.name);
        let existing = self.rrset(&zone, &rr_name).await?;
        let mut body = serde_json::json!({ "records": [{ "value": txt::quote(value) }] });
        match &existing {
            Some(rrset) if rrset.holds(value) => return Ok(()),
            Some(_) => {}
            None => body["ttl"] = TTL.into(),
        }
        self.action(&zone, &rr_name, "add_records", body).await
    }

    async fn clean_up(&self, fqdn: &str, value: &str) -> Result<(), DnsError> {
        let fqdn = normalize(fqdn)?;
        let zone = self.zone_for(&fqdn).await?;
        let rr_name = relative_name(&fqdn, &zone.name);
        let Some(rrset) = self.rrset(&zone, &rr_name).await? else {
            return Ok(());
        };
        // Send the value as stored, so that the API identifies the record.
        let Some(stored) = rrset
            .records
            .iter()
            .find(|r| txt::unquote(&r.value) == value)
            .map(|r| r.value.clone())
        else {
            return Ok(());
        };
        let body = serde_json::json!({ "records": [{ "value": stored }] });
        self.action(&zone, &rr_name, "remove_records", body).await
    }
}

/// `message (code)` of an error answer (`{"error":{"code","message","details"}}`).
fn error_detail(body: &str) -> Option<String> {
    serde_json::from_str::<ErrorReply>(body)
        .ok()
        .map(|e| format!("{} ({})", e.error.message, e.error.code))
}

impl RrSet {
    fn holds(&self, value: &str) -> bool {
        self.records.iter().any(|r| txt::unquote(&r.value) == value)
    }
}

/// Seconds to wait after a 429: `Retry-After` when sent, else until `RateLimit-Reset`.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    rest::retry_after(headers).or_else(|| {
        let reset: u64 = headers
            .get("ratelimit-reset")?
            .to_str()
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
        Some(reset.saturating_sub(now).max(1))
    })
}
