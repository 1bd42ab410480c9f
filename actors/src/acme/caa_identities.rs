//! The issuer domain names a CA is known by in CAA records: its directory's
//! `meta.caaIdentities` (RFC 8555 §7.1.1) together with the provider table's published ones.
//! instant-acme keeps the directory's `meta` to itself, so the directory is read here, through
//! the same guarded, limited HTTP client as every ACME request, and kept for an hour per URL:
//! a CA's identities hardly ever change, and every order would otherwise fetch it again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use http::Request;
use instant_acme::BodyWrapper;
use scaivault_domain::account::AccountRecord;
use serde::Deserialize;

use super::http::AcmeHttp;

/// How long a directory's identities are kept.
const TTL: Duration = Duration::from_secs(3600);

/// The directory's `meta`, as far as CAA goes.
#[derive(Deserialize)]
struct Directory {
    #[serde(default)]
    meta: Meta,
}

#[derive(Default, Deserialize)]
struct Meta {
    #[serde(default, rename = "caaIdentities")]
    caa_identities: Vec<String>,
}

/// A directory's identities and when they were read.
type Fetched = (Instant, Vec<String>);

/// Identities per directory URL, fetched on first use.
#[derive(Debug, Clone, Default)]
pub struct CaaIdentities {
    cache: Arc<Mutex<HashMap<String, Fetched>>>,
}

impl CaaIdentities {
    /// The identities of `account`'s CA, lower-case and without duplicates: its directory's
    /// `caaIdentities` and its provider's published ones. Empty when neither names any (a
    /// custom CA whose directory does not say); a directory that cannot be read counts as
    /// naming none, with a warning, as the pre-check must not stop orders the CA would take.
    pub async fn of(&self, http: &AcmeHttp, account: &AccountRecord) -> Vec<String> {
        let url = &account.directory_url;
        let cached = self
            .lock()
            .get(url)
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, ids)| ids.clone());
        let from_directory = match cached {
            Some(ids) => ids,
            None => match fetch(http, account).await {
                Ok(ids) => {
                    self.lock()
                        .insert(url.clone(), (Instant::now(), ids.clone()));
                    ids
                }
                Err(why) => {
                    tracing::warn!(directory = %url, error = %why,
                        "cannot read the CA's caaIdentities; using the provider's known ones");
                    Vec::new()
                }
            },
        };
        let mut identities: Vec<String> = Vec::new();
        let published = account.provider.info().caa_identities.iter().copied();
        for id in from_directory.iter().map(String::as_str).chain(published) {
            let id = id.trim().trim_end_matches('.').to_ascii_lowercase();
            if !id.is_empty() && !identities.contains(&id) {
                identities.push(id);
            }
        }
        identities
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Fetched>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `GET` the directory and read `meta.caaIdentities`.
async fn fetch(http: &AcmeHttp, account: &AccountRecord) -> Result<Vec<String>, String> {
    let client = http.client(account.provider, account.environment);
    let request = Request::get(account.directory_url.as_str())
        .body(BodyWrapper::default())
        .map_err(|err| err.to_string())?;
    let mut response = client
        .request(request)
        .await
        .map_err(|err| err.to_string())?;
    if !response.parts.status.is_success() {
        return Err(format!("the directory answered {}", response.parts.status));
    }
    let body = response
        .body
        .into_bytes()
        .await
        .map_err(|err| err.to_string())?;
    let directory: Directory =
        serde_json::from_slice(&body).map_err(|err| format!("not a directory: {err}"))?;
    Ok(directory.meta.caa_identities)
}
