//! The ACME providers ScaiVault knows, with their real directory URLs.
//!
//! Sources (checked 2026): Let's Encrypt <https://letsencrypt.org/docs/staging-environment/>,
//! ZeroSSL <https://zerossl.com/documentation/acme/> (no staging environment; EAB required),
//! Google Trust Services <https://cloud.google.com/certificate-manager/docs/public-ca-tutorial>
//! (EAB required), BuyPass (ACME service ended on 2025-10-15).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::profile::{self, LETSENCRYPT_PROFILES, OrderShape, ProfileInfo};
use crate::{Error, Result};

/// A provider name as callers send it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Letsencrypt,
    Zerossl,
    Buypass,
    Google,
    /// Any RFC 8555 server; the caller gives `directory_url`.
    Custom,
}

/// A provider's environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Production,
    Staging,
}

/// Whether a provider can still be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderStatus {
    Active,
    Discontinued,
}

/// One row of the provider table.
#[derive(Debug, Clone)]
pub struct ProviderInfo {
    pub name: Provider,
    pub display_name: &'static str,
    pub status: ProviderStatus,
    /// When the provider stopped its ACME service, for discontinued ones.
    pub discontinued_on: Option<&'static str>,
    /// Whether the CA refuses accounts without External Account Binding (RFC 8555 §7.3.4).
    pub eab_required: bool,
    pub production_directory: Option<&'static str>,
    pub staging_directory: Option<&'static str>,
    /// The only profile (draft-ietf-acme-profiles) under which the CA issues certificates for
    /// IP addresses (RFC 8738), when it has such a rule; see [`order_profile`].
    pub ip_profile: Option<&'static str>,
    /// The profiles the CA publishes, with their limits (empty where it publishes none).
    pub profiles: &'static [ProfileInfo],
    /// The issuer domain names CAA records name this CA by (RFC 8659 §4.2), as the CA
    /// publishes them; used with the directory's `meta.caaIdentities` (RFC 8555 §7.1.1) by the
    /// CAA pre-check. Empty for a custom CA: its directory has to say.
    pub caa_identities: &'static [&'static str],
    pub notes: &'static str,
}

/// Every provider, in the order the API lists them.
pub const PROVIDERS: [ProviderInfo; 5] = [
    ProviderInfo {
        name: Provider::Letsencrypt,
        display_name: "Let's Encrypt",
        status: ProviderStatus::Active,
        discontinued_on: None,
        eab_required: false,
        production_directory: Some("https://acme-v02.api.letsencrypt.org/directory"),
        staging_directory: Some("https://acme-staging-v02.api.letsencrypt.org/directory"),
        // Since 2026-01-15 Let's Encrypt issues IP-address certificates, and only under the
        // 160-hour `shortlived` profile.
        ip_profile: Some("shortlived"),
        profiles: LETSENCRYPT_PROFILES,
        caa_identities: &["letsencrypt.org"],
        notes: "Free; rate limits apply (https://letsencrypt.org/docs/rate-limits/). Profiles classic, tlsserver, shortlived; ARI supported. IP addresses (since 2026-01-15) only with profile shortlived, by http-01 or tls-alpn-01.",
    },
    ProviderInfo {
        name: Provider::Zerossl,
        display_name: "ZeroSSL",
        status: ProviderStatus::Active,
        discontinued_on: None,
        eab_required: true,
        production_directory: Some("https://acme.zerossl.com/v2/DV90"),
        staging_directory: None,
        ip_profile: None,
        profiles: &[],
        // ZeroSSL issues from Sectigo's CA, which recognizes these
        // (https://help.zerossl.com/hc/en-us/articles/360060119753-Invalid-CAA-Records).
        caa_identities: &[
            "sectigo.com",
            "comodoca.com",
            "comodo.com",
            "usertrust.com",
            "trust-provider.com",
        ],
        notes: "Free tier, 90-day certificates. Requires External Account Binding (EAB credentials from the ZeroSSL dashboard). No staging environment.",
    },
    ProviderInfo {
        name: Provider::Buypass,
        display_name: "BuyPass Go SSL",
        status: ProviderStatus::Discontinued,
        discontinued_on: Some("2025-10-15"),
        eab_required: false,
        production_directory: Some("https://api.buypass.com/acme/directory"),
        staging_directory: Some("https://api.test4.buypass.no/acme/directory"),
        ip_profile: None,
        profiles: &[],
        caa_identities: &["buypass.com", "buypass.no"],
        notes: "BuyPass stopped its ACME service on 2025-10-15; new accounts cannot be registered.",
    },
    ProviderInfo {
        name: Provider::Google,
        display_name: "Google Trust Services",
        status: ProviderStatus::Active,
        discontinued_on: None,
        eab_required: true,
        production_directory: Some("https://dv.acme-v02.api.pki.goog/directory"),
        staging_directory: Some("https://dv.acme-v02.test-api.pki.goog/directory"),
        ip_profile: None,
        profiles: &[],
        caa_identities: &["pki.goog"],
        notes: "Requires External Account Binding (gcloud publicca external-account-keys create); production and staging keys differ.",
    },
    ProviderInfo {
        name: Provider::Custom,
        display_name: "Custom RFC 8555 server",
        status: ProviderStatus::Active,
        discontinued_on: None,
        eab_required: false,
        production_directory: None,
        staging_directory: None,
        ip_profile: None,
        profiles: &[],
        caa_identities: &[],
        notes: "Any RFC 8555 endpoint (enterprise CAs, test CAs); give directory_url. Add a private root under [acme] extra_roots.",
    },
];

/// The profile an order is placed with: the caller's `requested` one, except that for a
/// provider that issues IP-address certificates under one profile only (Let's Encrypt:
/// `shortlived`, production and staging alike) an order naming an IP address gets that profile
/// when none was asked for, and an order asking for another one is refused here with 400 rather
/// than by the CA after its challenges were set up. Other providers' orders keep `requested`.
pub fn order_profile(
    provider: Provider,
    domains: &[String],
    requested: Option<String>,
) -> Result<Option<String>> {
    let Some(required) = provider.info().ip_profile else {
        return Ok(requested);
    };
    let Some(ip) = domains
        .iter()
        .find(|name| crate::pki::Identifier::of(name).is_ip())
    else {
        return Ok(requested);
    };
    match requested {
        None => Ok(Some(required.to_owned())),
        Some(profile) if profile == required => Ok(Some(profile)),
        Some(profile) => Err(Error::invalid(
            "profile",
            format!(
                "{} issues certificates for IP addresses ({ip:?}) only with profile {required:?}, not {profile:?}: leave profile out or set it to {required:?}",
                provider.info().display_name
            ),
        )),
    }
}

/// Refuses an order of `names` identifiers under `profile` (as [`order_profile`] chose it) that
/// `provider` would refuse for a limit of that profile (names per order; for dns-01 with a
/// `propagation_wait`, the pending-authorization lifetime), naming the limit. A profile the
/// table does not know passes: the CA decides.
pub fn check_profile_limits(
    provider: Provider,
    profile: Option<&str>,
    names: usize,
    propagation_wait: Option<std::time::Duration>,
) -> Result<()> {
    let info = provider.info();
    match profile::resolve(info.profiles, profile) {
        Some(known) => profile::check(
            info.display_name,
            known,
            OrderShape {
                names,
                propagation_wait,
            },
        ),
        None => Ok(()),
    }
}

impl Provider {
    /// This provider's table row.
    pub fn info(self) -> &'static ProviderInfo {
        PROVIDERS
            .iter()
            .find(|info| info.name == self)
            .expect("every provider has a row")
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Letsencrypt => "letsencrypt",
            Provider::Zerossl => "zerossl",
            Provider::Buypass => "buypass",
            Provider::Google => "google",
            Provider::Custom => "custom",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        PROVIDERS
            .iter()
            .map(|info| info.name)
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "provider",
                    format!("unknown provider {s:?}; known: letsencrypt, zerossl, buypass, google, custom"),
                )
            })
    }
}

impl Environment {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Production => "production",
            Environment::Staging => "staging",
        }
    }
}

impl FromStr for Environment {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "production" => Ok(Environment::Production),
            "staging" => Ok(Environment::Staging),
            _ => Err(Error::invalid(
                "environment",
                format!("unknown environment {s:?}; known: production, staging"),
            )),
        }
    }
}

impl ProviderInfo {
    /// The directory URL for `environment`, if the provider has one.
    pub fn directory(&self, environment: Environment) -> Option<&'static str> {
        match environment {
            Environment::Production => self.production_directory,
            Environment::Staging => self.staging_directory,
        }
    }
}

/// Directory URLs that replace a provider's published ones, keyed like `[acme.directories]`:
/// the provider's name for production, with `_staging` for staging (`letsencrypt`,
/// `letsencrypt_staging`, ...). For a CA reached through a proxy or a mirror, and for tests that
/// put a local CA where a public one would be. Accounts keep the URL they were registered with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directories(std::collections::BTreeMap<(Provider, Environment), String>);

impl Directories {
    /// The overrides from `(table name, URL)` pairs; an unknown name or a URL that is not
    /// https is an error naming it.
    pub fn new<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self> {
        let mut map = std::collections::BTreeMap::new();
        for (name, url) in pairs {
            let (provider, environment) = match name.strip_suffix("_staging") {
                Some(provider) => (provider, Environment::Staging),
                None => (name, Environment::Production),
            };
            let provider: Provider = provider
                .parse()
                .ok()
                .filter(|p| *p != Provider::Custom)
                .ok_or_else(|| {
                    Error::invalid(
                        name,
                        format!(
                            "{name} names no provider's directory (letsencrypt, zerossl, buypass, \
                             google, each with _staging for its staging directory)"
                        ),
                    )
                })?;
            if !url.starts_with("https://") || url.chars().any(char::is_whitespace) {
                return Err(Error::invalid(
                    name,
                    format!("{url:?} is not an https:// URL (RFC 8555 §6.1)"),
                ));
            }
            map.insert((provider, environment), url.to_owned());
        }
        Ok(Self(map))
    }

    /// The directory of `provider`'s `environment`: the override, else the published one.
    pub fn of(&self, provider: Provider, environment: Environment) -> Option<&str> {
        self.0
            .get(&(provider, environment))
            .map(String::as_str)
            .or_else(|| provider.info().directory(environment))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn lets_encrypt_ip_orders_get_shortlived() {
        let ip = names(&["example.com", "192.0.2.1"]);
        assert_eq!(
            order_profile(Provider::Letsencrypt, &ip, None).unwrap(),
            Some("shortlived".to_owned())
        );
        assert_eq!(
            order_profile(Provider::Letsencrypt, &ip, Some("shortlived".into())).unwrap(),
            Some("shortlived".to_owned())
        );
        match order_profile(Provider::Letsencrypt, &ip, Some("tlsserver".into())).unwrap_err() {
            Error::Invalid { field, message } => {
                assert_eq!(field, "profile");
                assert!(
                    message.contains("only with profile \"shortlived\""),
                    "{message}"
                );
                assert!(message.contains("\"tlsserver\""), "{message}");
                assert!(message.contains("\"192.0.2.1\""), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn other_orders_keep_their_profile() {
        let dns = names(&["example.com"]);
        assert_eq!(
            order_profile(Provider::Letsencrypt, &dns, None).unwrap(),
            None
        );
        assert_eq!(
            order_profile(Provider::Letsencrypt, &dns, Some("tlsserver".into())).unwrap(),
            Some("tlsserver".to_owned())
        );
        let ip = names(&["::1"]);
        for provider in [Provider::Custom, Provider::Google, Provider::Zerossl] {
            assert_eq!(order_profile(provider, &ip, None).unwrap(), None);
            assert_eq!(
                order_profile(provider, &ip, Some("classic".into())).unwrap(),
                Some("classic".to_owned())
            );
        }
    }
}
