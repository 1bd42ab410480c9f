//! Amazon Route 53 (`aws_route53`): adds and removes one TXT value through the Route 53 REST API
//! (version 2013-04-01, XML bodies), signed with AWS Signature Version 4.
//!
//! Route 53 stores a TXT RRset as one unit, so adding a value is read-modify-write:
//!
//! 1. `ListResourceRecordSets` (`GET /2013-04-01/hostedzone/{Id}/rrset?name=…&type=TXT`,
//!    <https://docs.aws.amazon.com/Route53/latest/APIReference/API_ListResourceRecordSets.html>)
//!    starts the listing at the name and type; the first set is ours only when name and type
//!    match exactly, so it is compared, not assumed.
//! 2. `ChangeResourceRecordSets` (`POST /2013-04-01/hostedzone/{Id}/rrset`,
//!    <https://docs.aws.amazon.com/Route53/latest/APIReference/API_ChangeResourceRecordSets.html>)
//!    with `UPSERT` of the union (other values kept verbatim), or, when the removed value was the
//!    last one, `DELETE` of the RRset exactly as listed ("To delete a resource record set, you
//!    must specify all the same values that you specified when you created it"). A `DELETE`
//!    that lost a race fails with `InvalidChangeBatch`; every write is read back and redone
//!    (once) when another writer got in between, since Route 53 has no conditional write.
//!
//! TXT values are sent as quoted character-strings (`"value"`, with `"` and `\` escaped), as
//! the Route 53 Developer Guide's "Supported DNS record types → TXT record type" asks.
//!
//! Requests are signed with `aws-sigv4` (service `route53`, region `us-east-1` unless the config
//! gives `region`; Route 53 is a global service signed in us-east-1:
//! <https://docs.aws.amazon.com/general/latest/gr/r53.html>). Route 53 answers throttling with
//! HTTP 400 and code `Throttling` or `PriorRequestNotComplete`
//! (<https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DNSLimitations.html#limits-api-requests>):
//! those become [`DnsError::RateLimited`]. The change is not awaited to `INSYNC`: the
//! propagation check queries the authoritative nameservers itself.

mod wire;

use std::fmt;
use std::time::SystemTime;

use async_trait::async_trait;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;

use self::wire::{
    Change, ChangeBatch, ChangeRequest, Changes, ErrorResponse, HostedZoneResponse,
    InvalidChangeBatch, ListResponse, ListedSet, Record, RecordSet, Records,
};
use crate::config::ResolvedConfig;
use crate::endpoint::HttpClient;
use crate::error::DnsError;
use crate::names::{absolute, in_zone, normalize};
use crate::provider::DnsProvider;
use crate::rest::{Reply, http_error, retry_after, unreadable};
use crate::txt::{quote_strings, unquote_strings};

/// The Route 53 API version in every path.
const API_VERSION: &str = "2013-04-01";
/// The XML namespace of the 2013-04-01 API.
const XMLNS: &str = "https://route53.amazonaws.com/doc/2013-04-01/";
const DEFAULT_ENDPOINT: &str = "https://route53.amazonaws.com";
const DEFAULT_REGION: &str = "us-east-1";
/// SigV4 service name of Route 53.
const SERVICE: &str = "route53";
/// TTL of a TXT RRset that this provider creates (an existing RRset keeps its own).
const TTL: u64 = 60;
/// Reads per add or remove: read, write, read back (and once more after a lost race).
const ROUNDS: usize = 3;

/// Route 53 has no conditional write, so read-modify-write is serialised in this process (an
/// apex and its wildcard write the same name at the same time); every write is read back, so
/// a write lost to another process is redone.
static WRITE_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Route 53 through its REST API. Debug never prints the keys.
pub struct Route53 {
    http: HttpClient,
    /// Endpoint without a trailing slash, e.g. `https://route53.amazonaws.com`.
    endpoint: reqwest::Url,
    /// The `Host` header value the request is signed with.
    host: String,
    hosted_zone_id: String,
    region: String,
    access_key_id: String,
    secret_access_key: String,
}

impl fmt::Debug for Route53 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Route53")
            .field("endpoint", &self.endpoint.as_str())
            .field("hosted_zone_id", &self.hosted_zone_id)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl Route53 {
    /// Reads `access_key_id`, `secret_access_key`, `hosted_zone_id` (with or without the
    /// `/hostedzone/` prefix), optional `region` and optional `endpoint`.
    pub fn new(config: &ResolvedConfig, http: HttpClient) -> Result<Self, DnsError> {
        let access_key_id = config.required("access_key_id")?.trim().to_owned();
        let secret_access_key = config.required("secret_access_key")?.trim().to_owned();
        let hosted_zone_id = config
            .required("hosted_zone_id")?
            .trim()
            .trim_start_matches("/hostedzone/")
            .to_owned();
        if hosted_zone_id.is_empty() || !hosted_zone_id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(DnsError::Config(format!(
                "hosted_zone_id {hosted_zone_id:?} is not a Route 53 hosted zone id"
            )));
        }
        let region = config
            .optional("region")
            .unwrap_or(DEFAULT_REGION)
            .to_owned();
        let endpoint = http.endpoint(config, "endpoint", DEFAULT_ENDPOINT, |raw| {
            raw.trim_end_matches('/')
        })?;
        let host = match (endpoint.host_str(), endpoint.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => return Err(DnsError::Config("endpoint has no host".into())),
        };
        Ok(Self {
            http,
            endpoint,
            host,
            hosted_zone_id,
            region,
            access_key_id,
            secret_access_key,
        })
    }

    /// The hosted zone's name (`GetHostedZone`, `GET /2013-04-01/hostedzone/{Id}`), lower-case
    /// without the trailing dot.
    async fn zone_name(&self) -> Result<String, DnsError> {
        let mut url = self.endpoint.clone();
        url.path_segments_mut()
            .expect("http(s) URLs have a path")
            .pop_if_empty()
            .extend([API_VERSION, "hostedzone", &self.hosted_zone_id]);
        let body = self.send(http::Method::GET, url, None).await?;
        let answer: HostedZoneResponse = quick_xml::de::from_str(&body)
            .map_err(|e| unreadable("Route 53", "GetHostedZone answer", &e))?;
        Ok(answer.zone.name.trim_end_matches('.').to_ascii_lowercase())
    }

    fn rrset_url(&self) -> reqwest::Url {
        let mut url = self.endpoint.clone();
        url.path_segments_mut()
            .expect("http(s) URLs have a path")
            .pop_if_empty()
            .extend([API_VERSION, "hostedzone", &self.hosted_zone_id, "rrset"]);
        url
    }

    /// The TXT RRset at `name` (with trailing dot), if there is one with simple routing.
    async fn read(&self, name: &str) -> Result<Option<ListedSet>, DnsError> {
        let mut url = self.rrset_url();
        url.query_pairs_mut()
            .append_pair("name", name)
            .append_pair("type", "TXT")
            .append_pair("maxitems", "1");
        let body = self.send(http::Method::GET, url, None).await?;
        let list: ListResponse = quick_xml::de::from_str(&body)
            .map_err(|e| unreadable("Route 53", "ListResourceRecordSets answer", &e))?;
        Ok(list.sets.items.into_iter().find(|set| {
            set.kind == "TXT" && same_name(&set.name, name) && set.set_identifier.is_none()
        }))
    }

    /// Sends one change. A `DELETE` that Route 53 refuses as no longer matching the zone
    /// (`InvalidChangeBatch`) is not an error: the caller reads again.
    async fn change(
        &self,
        action: &'static str,
        name: &str,
        ttl: u64,
        values: Vec<String>,
    ) -> Result<(), DnsError> {
        let request = ChangeRequest {
            xmlns: XMLNS,
            batch: ChangeBatch {
                comment: "ScaiVault ACME dns-01",
                changes: Changes {
                    change: vec![Change {
                        action,
                        set: RecordSet {
                            name,
                            kind: "TXT",
                            ttl,
                            records: Records {
                                record: values.into_iter().map(|value| Record { value }).collect(),
                            },
                        },
                    }],
                },
            },
        };
        let xml = quick_xml::se::to_string(&request)
            .map_err(|e| DnsError::Config(format!("cannot encode the change batch: {e}")))?;
        let body = format!(r#"<?xml version="1.0" encoding="UTF-8"?>{xml}"#);
        match self
            .send(http::Method::POST, self.rrset_url(), Some(body))
            .await
        {
            Ok(_) => Ok(()),
            Err(Failure::Conflict(e)) if action == "DELETE" => {
                tracing::debug!(error = %e, "route 53 refused a stale DELETE; reading again");
                Ok(())
            }
            Err(failure) => Err(failure.into()),
        }
    }

    /// Signs and sends one request; the answer body on 2xx.
    async fn send(
        &self,
        method: http::Method,
        url: reqwest::Url,
        body: Option<String>,
    ) -> Result<String, Failure> {
        let is_post = body.is_some();
        let body = body.unwrap_or_default().into_bytes();
        let mut builder = http::Request::builder()
            .method(method.clone())
            .uri(url.as_str())
            .header(http::header::HOST, &self.host);
        if is_post {
            builder = builder.header(http::header::CONTENT_TYPE, "application/xml");
        }
        let mut request = builder
            .body(body)
            .map_err(|e| DnsError::Config(format!("cannot build the request: {e}")))?;

        let headers: Vec<(String, String)> = request
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let identity = aws_credential_types::Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            None,
            None,
            "scaivault-dns-provider",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(SERVICE)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| DnsError::Config(format!("cannot sign: {e}")))?
            .into();
        let signable = SignableRequest::new(
            method.as_str(),
            url.as_str(),
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(request.body()),
        )
        .map_err(|e| DnsError::Config(format!("cannot sign: {e}")))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| DnsError::Config(format!("cannot sign: {e}")))?
            .into_parts();
        instructions.apply_to_request_http1x(&mut request);

        let request = reqwest::Request::try_from(request)
            .map_err(|e| DnsError::Config(format!("cannot build the request: {e}")))?;
        tracing::debug!(%method, path = url.path(), "route 53 request");
        self.http.check_url(request.url())?;
        let request = reqwest::RequestBuilder::from_parts(self.http.client().clone(), request);
        let reply = Reply::receive(request, "Route 53", retry_after).await?;
        if reply.status.is_success() {
            return Ok(reply.body);
        }
        Err(classify(reply.status, reply.retry_after, &reply.body))
    }
}

#[async_trait]
impl DnsProvider for Route53 {
    /// The configured hosted zone's name, when it encloses `fqdn`.
    async fn zone_of(&self, fqdn: &str) -> Result<Option<String>, DnsError> {
        let zone = self.zone_name().await?;
        Ok(in_zone(&normalize(fqdn)?, &zone).then_some(zone))
    }

    async fn present(&self, fqdn: &str, value: &str) -> Result<(), DnsError> {
        let name = absolute(fqdn);
        let _serialised = WRITE_LOCK.lock().await;
        for round in 0..ROUNDS {
            let current = self.read(&name).await?;
            let (ttl, mut values) = match current {
                Some(set) => (set.ttl.unwrap_or(TTL), set.values()),
                None => (TTL, Vec::new()),
            };
            if values.iter().any(|raw| unquote_strings(raw) == value) {
                return Ok(());
            }
            if round + 1 == ROUNDS {
                break;
            }
            values.push(quote_strings(value));
            self.change("UPSERT", &name, ttl, values).await?;
        }
        Err(DnsError::Rejected(format!(
            "the TXT value did not stay at {name}: the RRset kept changing concurrently"
        )))
    }

    async fn clean_up(&self, fqdn: &str, value: &str) -> Result<(), DnsError> {
        let name = absolute(fqdn);
        let _serialised = WRITE_LOCK.lock().await;
        for round in 0..ROUNDS {
            let Some(set) = self.read(&name).await? else {
                return Ok(());
            };
            let ttl = set.ttl.unwrap_or(TTL);
            let all = set.values();
            let rest: Vec<String> = all
                .iter()
                .filter(|raw| unquote_strings(raw) != value)
                .cloned()
                .collect();
            if rest.len() == all.len() {
                return Ok(());
            }
            if round + 1 == ROUNDS {
                break;
            }
            if rest.is_empty() {
                // A DELETE that no longer matches is refused; the next round re-reads.
                self.change("DELETE", &name, ttl, all).await?;
            } else {
                self.change("UPSERT", &name, ttl, rest).await?;
            }
        }
        Err(DnsError::Rejected(format!(
            "the TXT value stayed at {name}: the RRset kept changing concurrently"
        )))
    }
}

/// A failed request: a change batch that no longer matches the zone, or any other error.
#[derive(Debug)]
enum Failure {
    Conflict(DnsError),
    Other(DnsError),
}

impl From<DnsError> for Failure {
    fn from(e: DnsError) -> Self {
        Failure::Other(e)
    }
}

impl From<Failure> for DnsError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Conflict(e) | Failure::Other(e) => e,
        }
    }
}

/// Maps a Route 53 error answer (`<ErrorResponse><Error><Code>…`, or `<InvalidChangeBatch>`).
fn classify(status: reqwest::StatusCode, retry_after: Option<u64>, body: &str) -> Failure {
    let code = quick_xml::de::from_str::<ErrorResponse>(body)
        .ok()
        .and_then(|e| e.error)
        .map(|e| (e.code, e.message.unwrap_or_default()));
    let summary = code
        .as_ref()
        .map(|(code, message)| format!("{code}: {message}"));
    match code.as_ref().map(|(c, _)| c.as_str()) {
        Some("Throttling" | "PriorRequestNotComplete") => Failure::Other(DnsError::RateLimited {
            message: format!(
                "HTTP {}: {}",
                status.as_u16(),
                crate::rest::sanitize(summary.as_deref().unwrap_or_default())
            ),
            retry_after,
        }),
        _ if status == reqwest::StatusCode::BAD_REQUEST && body.contains("<InvalidChangeBatch") => {
            // `<InvalidChangeBatch><Messages><Message>` (no `<Error>` element).
            let messages = quick_xml::de::from_str::<InvalidChangeBatch>(body)
                .ok()
                .map(|batch| batch.messages.items.join("; "));
            Failure::Conflict(http_error(status, retry_after, messages.as_deref()))
        }
        _ => Failure::Other(http_error(status, retry_after, summary.as_deref())),
    }
}

/// Whether two DNS names are the same (case and trailing dot ignored).
fn same_name(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_names_ignore_case_and_dot() {
        assert!(same_name("A.test.", "a.test"));
    }
}
