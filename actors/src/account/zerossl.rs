//! ZeroSSL's EAB credentials, obtained from its API (as Caddy does) so that a ZeroSSL account
//! needs nothing the guide's registration body does not have: `POST /acme/eab-credentials` with
//! the account's API access key (`?access_key=`), or `POST /acme/eab-credentials-email` with the
//! account's email (form field `email`). Both answer `{"success": true, "eab_kid": ..,
//! "eab_hmac_key": ..}` or `{"success": false, "error": {"code", "type", "info"}}`
//! (https://zerossl.com/documentation/acme/generate-eab-credentials/).

use std::time::Duration;

use scaivault_domain::account::{Eab, decode_eab};
use serde::Deserialize;

use crate::{Error, UnreachableKind};

/// ZeroSSL's API (`[acme] zerossl_api`) and the client that talks to it.
#[derive(Debug, Clone)]
pub struct ZeroSslApi {
    base: String,
    http: reqwest::Client,
}

#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(default)]
    success: bool,
    eab_kid: Option<String>,
    eab_hmac_key: Option<String>,
    error: Option<ApiError>,
}

#[derive(Debug, Deserialize)]
struct ApiError {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    info: Option<String>,
}

impl ZeroSslApi {
    /// The API at `base` (e.g. `https://api.zerossl.com`).
    pub fn new(base: &str) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|err| Error::Unavailable(format!("ZeroSSL API client: {err}")))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            http,
        })
    }

    /// EAB credentials for a new account: by access key when one is given, else by email.
    pub(super) async fn eab_credentials(
        &self,
        access_key: Option<&str>,
        email: &str,
    ) -> Result<Eab, Error> {
        let (url, request, field) = match access_key {
            Some(key) => {
                let url = format!("{}/acme/eab-credentials", self.base);
                let with_key = reqwest::Url::parse_with_params(&url, [("access_key", key)])
                    .map_err(|err| Error::Unavailable(format!("ZeroSSL API URL {url}: {err}")))?;
                (url, self.http.post(with_key), "zerossl_api_key_path")
            }
            None => {
                let url = format!("{}/acme/eab-credentials-email", self.base);
                let request = self.http.post(&url).form(&[("email", email)]);
                (url, request, "email")
            }
        };
        let response = request.send().await.map_err(|err| {
            let kind = if err.is_timeout() {
                UnreachableKind::Timeout
            } else {
                UnreachableKind::Connect
            };
            Error::unreachable(&url, kind, format!("ZeroSSL's EAB endpoint: {err}"))
        })?;
        let status = response.status();
        let answer: Answer = response.json().await.map_err(|err| {
            Error::unreachable(
                &url,
                UnreachableKind::Protocol,
                format!("ZeroSSL's EAB endpoint answered {status}: {err}"),
            )
        })?;
        match answer {
            Answer {
                success: true,
                eab_kid: Some(kid),
                eab_hmac_key: Some(key),
                ..
            } => Ok(decode_eab(kid, &key)?),
            Answer { error, .. } => {
                let (kind, info) = error
                    .map(|e| (e.kind, e.info.unwrap_or_default()))
                    .unwrap_or_else(|| (format!("HTTP {status}"), String::new()));
                Err(scaivault_domain::Error::invalid(
                    field,
                    format!("ZeroSSL gave no EAB credentials: {kind} {info}")
                        .trim_end()
                        .to_owned(),
                )
                .into())
            }
        }
    }
}
