//! ACME accounts: the validated registration request and the stored record.
//!
//! The account key itself never appears here: it lives sealed in the store (see
//! [`credentials_aad`]) and decrypted only inside the account's actor.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use time::OffsetDateTime;

use crate::provider::{Directories, Environment, Provider, ProviderStatus};
use crate::{Error, Result};

/// An account's state, as RFC 8555 §7.1.2 names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    Active,
    Deactivated,
}

impl AccountStatus {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Deactivated => "deactivated",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "active" => Ok(AccountStatus::Active),
            "deactivated" => Ok(AccountStatus::Deactivated),
            other => Err(Error::corrupt(format!("unknown account status {other:?}"))),
        }
    }
}

/// A registered ACME account.
#[derive(Debug, Clone)]
pub struct AccountRecord {
    pub id: String,
    pub name: String,
    pub provider: Provider,
    pub environment: Environment,
    pub directory_url: String,
    pub email: String,
    pub status: AccountStatus,
    /// The account URL at the CA (the JWS `kid`).
    pub account_url: String,
    pub eab_kid: Option<String>,
    pub created_at: OffsetDateTime,
    pub deactivated_at: Option<OffsetDateTime>,
    /// The RFC 7638 thumbprint of the account's current key, as every key authorization ends
    /// with it; `None` for an account stored before it was recorded, until its actor restores
    /// it.
    pub key_thumbprint: Option<String>,
    /// When the account key was last changed (RFC 8555 §7.3.5); `None` if never.
    pub key_rolled_at: Option<OffsetDateTime>,
}

impl AccountRecord {
    /// `Error::Conflict` unless the account is active: a deactivated account can do nothing
    /// more at the CA (RFC 8555 §7.3.6).
    pub fn require_active(&self) -> Result<()> {
        if self.status == AccountStatus::Active {
            return Ok(());
        }
        Err(Error::Conflict(format!(
            "account {} is {}; register a new one",
            self.id,
            self.status.as_str()
        )))
    }
}

/// The associated data an account's sealed credentials carry: its record id. The pending key of
/// a key rollover carries the same: once the CA accepts it, its sealed bytes become the
/// credentials unchanged.
pub fn credentials_aad(account_id: &str) -> String {
    format!("acme_account:{account_id}")
}

/// External Account Binding credentials (RFC 8555 §7.3.4), decoded.
#[derive(Clone)]
pub struct Eab {
    pub kid: String,
    pub hmac_key: Vec<u8>,
}

impl std::fmt::Debug for Eab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Eab")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// What a caller sends to register an account, as received.
#[derive(Debug, Clone, Default)]
pub struct RegistrationInput {
    pub name: String,
    pub provider: String,
    pub environment: Option<String>,
    pub email: String,
    pub directory_url: Option<String>,
    pub eab_kid: Option<String>,
    pub eab_hmac_key: Option<String>,
    /// ZeroSSL only: the secret holding a ZeroSSL API access key, to obtain EAB credentials.
    pub zerossl_api_key_path: Option<String>,
}

/// A registration that passed every local rule and can go to the CA.
#[derive(Debug, Clone)]
pub struct Registration {
    pub name: String,
    pub provider: Provider,
    pub environment: Environment,
    pub email: String,
    pub directory_url: String,
    /// `None` for ZeroSSL: then the credentials come from ZeroSSL's EAB endpoint, with the
    /// access key in `zerossl_api_key_path`, or else by the account's email.
    pub eab: Option<Eab>,
    pub zerossl_api_key_path: Option<String>,
}

/// Why a registration cannot go to the CA at all; the edge maps each to its own code.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationRefusal {
    #[error(transparent)]
    Invalid(#[from] Error),
    #[error("{provider} stopped its ACME service on {since}; choose another provider")]
    Discontinued {
        provider: Provider,
        since: &'static str,
    },
    #[error("{}", eab_hint(*provider))]
    EabRequired { provider: Provider },
}

/// What to add to a registration the provider refuses without External Account Binding, and
/// where the credentials come from.
fn eab_hint(provider: Provider) -> String {
    let add = r#"add "eab": {"kid": "...", "hmac_key": "..."} to the body"#;
    match provider {
        Provider::Google => format!(
            "google requires External Account Binding: {add}, with kid = keyId and hmac_key = \
             b64MacKey as printed by `gcloud publicca external-account-keys create` in the Google \
             Cloud project that will own the certificates (enable the Public Certificate \
             Authority API there first; for staging, point gcloud at \
             https://preprod-publicca.googleapis.com/ first). See \
             https://cloud.google.com/certificate-manager/docs/public-ca-tutorial"
        ),
        Provider::Zerossl => format!(
            "zerossl requires External Account Binding: {add} (EAB credentials from the ZeroSSL \
             dashboard, Developer section)"
        ),
        other => format!(
            "{other} requires External Account Binding: {add} (EAB credentials from the CA)"
        ),
    }
}

/// Longest account name.
const MAX_NAME_LEN: usize = 100;

impl RegistrationInput {
    /// Applies every local rule: known provider, environment it offers (its directory from
    /// `directories`: the configured override, else the published one), directory URL for
    /// `custom` (https), a plausible email, EAB where the provider requires it.
    pub fn validate(self, directories: &Directories) -> Result<Registration, RegistrationRefusal> {
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return Err(Error::invalid(
                "name",
                format!("a name has 1 to {MAX_NAME_LEN} characters"),
            )
            .into());
        }
        if name.chars().any(char::is_control) {
            return Err(Error::invalid("name", "a name has no control characters").into());
        }
        let provider: Provider = self.provider.parse()?;
        let environment: Environment = self
            .environment
            .as_deref()
            .unwrap_or("production")
            .parse()?;
        let info = provider.info();
        if info.status == ProviderStatus::Discontinued {
            return Err(RegistrationRefusal::Discontinued {
                provider,
                since: info.discontinued_on.unwrap_or("an earlier date"),
            });
        }
        let directory_url = match provider {
            Provider::Custom => {
                let url = self.directory_url.ok_or_else(|| {
                    Error::invalid("directory_url", "provider custom needs directory_url")
                })?;
                validate_directory_url(&url)?;
                url
            }
            _ => {
                if self.directory_url.is_some() {
                    return Err(Error::invalid(
                        "directory_url",
                        format!("directory_url is only for provider custom; {provider} has a fixed directory"),
                    )
                    .into());
                }
                directories
                    .of(provider, environment)
                    .ok_or_else(|| {
                        Error::invalid(
                            "environment",
                            format!("{provider} has no {} environment", environment.as_str()),
                        )
                    })?
                    .to_owned()
            }
        };
        let email = contact_email(&self.email)?;
        let eab = match (self.eab_kid, self.eab_hmac_key) {
            (None, None) => None,
            (Some(kid), Some(key)) => Some(decode_eab(kid, &key)?),
            _ => {
                return Err(Error::invalid("eab", "eab needs both kid and hmac_key").into());
            }
        };
        if let Some(path) = &self.zerossl_api_key_path {
            if provider != Provider::Zerossl {
                return Err(Error::invalid(
                    "zerossl_api_key_path",
                    "zerossl_api_key_path is only for provider zerossl",
                )
                .into());
            }
            if eab.is_some() {
                return Err(Error::invalid(
                    "zerossl_api_key_path",
                    "send eab or zerossl_api_key_path, not both",
                )
                .into());
            }
            crate::secret::validate_path(path).map_err(|_| {
                Error::invalid(
                    "zerossl_api_key_path",
                    format!("{path:?} is not a secret path"),
                )
            })?;
        }
        // ZeroSSL hands out EAB credentials through its API (by access key or by email), so
        // its accounts need none from the caller.
        if info.eab_required && eab.is_none() && provider != Provider::Zerossl {
            return Err(RegistrationRefusal::EabRequired { provider });
        }
        Ok(Registration {
            name,
            provider,
            environment,
            email,
            directory_url,
            eab,
            zerossl_api_key_path: self.zerossl_api_key_path,
        })
    }
}

/// EAB credentials from the CA's `kid` and base64url `hmac_key`.
pub fn decode_eab(kid: String, hmac_key: &str) -> Result<Eab> {
    if kid.trim().is_empty() {
        return Err(Error::invalid("eab.kid", "kid is empty"));
    }
    // RFC 8555 §7.3.4 gives the MAC key base64url-encoded; tolerate padding some CAs show.
    let key = URL_SAFE_NO_PAD
        .decode(hmac_key.trim().trim_end_matches('='))
        .map_err(|_| Error::invalid("eab.hmac_key", "hmac_key is not base64url"))?;
    if key.is_empty() {
        return Err(Error::invalid("eab.hmac_key", "hmac_key is empty"));
    }
    Ok(Eab { kid, hmac_key: key })
}

/// A deliberately plain email check: one `@`, a non-empty local part, a dotted domain, no
/// spaces or characters that would break a `mailto:` URI (RFC 8555 §7.3 contacts).
pub fn validate_email(email: &str) -> Result<()> {
    let email = email.trim();
    let bad = || {
        Err(Error::invalid(
            "email",
            format!("{email:?} is not an email address"),
        ))
    };
    let Some((local, domain)) = email.split_once('@') else {
        return bad();
    };
    let allowed = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=^_`{|}~.".contains(c);
    if local.is_empty()
        || local.len() > 64
        || !local.chars().all(allowed)
        || domain.len() > 253
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
        || !domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        return bad();
    }
    Ok(())
}

/// A contact email as stored and sent to the CA (`mailto:`, RFC 8555 §7.3): checked by
/// [`validate_email`], trimmed and lowercased, as at registration.
pub fn contact_email(email: &str) -> Result<String> {
    validate_email(email)?;
    Ok(email.trim().to_ascii_lowercase())
}

/// A custom directory must be an absolute https URL: RFC 8555 §6.1 requires HTTPS.
fn validate_directory_url(url: &str) -> Result<()> {
    let rest = url.strip_prefix("https://").ok_or_else(|| {
        Error::invalid(
            "directory_url",
            "directory_url must be an https:// URL (RFC 8555 §6.1)",
        )
    })?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || url.chars().any(char::is_whitespace) {
        return Err(Error::invalid(
            "directory_url",
            format!("{url:?} is not a URL"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(provider: &str) -> RegistrationInput {
        RegistrationInput {
            name: "le".into(),
            provider: provider.into(),
            environment: Some("staging".into()),
            email: "certs@acme.example".into(),
            ..Default::default()
        }
    }

    #[test]
    fn letsencrypt_staging_resolves() {
        let reg = input("letsencrypt")
            .validate(&Directories::default())
            .expect("valid");
        assert_eq!(
            reg.directory_url,
            "https://acme-staging-v02.api.letsencrypt.org/directory"
        );
    }

    #[test]
    fn refusals() {
        assert!(matches!(
            input("buypass").validate(&Directories::default()),
            Err(RegistrationRefusal::Discontinued { .. })
        ));
        let google = input("google")
            .validate(&Directories::default())
            .expect_err("google needs EAB");
        assert!(matches!(google, RegistrationRefusal::EabRequired { .. }));
        // The refusal says which fields to add and where Google hands them out.
        let message = google.to_string();
        for needed in [
            r#""eab""#,
            r#""kid""#,
            r#""hmac_key""#,
            "gcloud publicca external-account-keys create",
        ] {
            assert!(message.contains(needed), "{needed} missing: {message}");
        }
        assert!(matches!(
            input("nope").validate(&Directories::default()),
            Err(RegistrationRefusal::Invalid(_))
        ));
        assert!(matches!(
            input("custom").validate(&Directories::default()),
            Err(RegistrationRefusal::Invalid(_))
        ));
        let mut zerossl = input("zerossl");
        zerossl.environment = Some("staging".into());
        zerossl.eab_kid = Some("kid".into());
        zerossl.eab_hmac_key = Some("c2VjcmV0".into());
        assert!(matches!(
            zerossl.validate(&Directories::default()),
            Err(RegistrationRefusal::Invalid(_))
        ));
    }

    #[test]
    fn custom_needs_https() {
        let mut custom = input("custom");
        custom.directory_url = Some("http://ca.example/dir".into());
        assert!(custom.clone().validate(&Directories::default()).is_err());
        custom.directory_url = Some("https://ca.example/dir".into());
        assert!(custom.validate(&Directories::default()).is_ok());
    }

    #[test]
    fn emails() {
        for ok in ["a@b.co", "first.last+tag@sub.example.org"] {
            assert!(validate_email(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "a", "a@b", "@b.co", "a@.b.co", "a b@c.de", "a@b..co", "a@b.co.",
        ] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn eab_decodes_base64url() {
        let mut google = input("google");
        google.eab_kid = Some("kid-1".into());
        google.eab_hmac_key =
            Some("zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W".into());
        let reg = google.validate(&Directories::default()).expect("valid");
        assert_eq!(reg.eab.expect("eab").hmac_key.len(), 48);
        let mut bad = input("google");
        bad.eab_kid = Some("kid".into());
        bad.eab_hmac_key = Some("not base64!".into());
        assert!(bad.validate(&Directories::default()).is_err());
    }

    #[test]
    fn a_configured_directory_replaces_the_published_one() {
        let directories =
            Directories::new([("letsencrypt_staging", "https://ca.internal/dir")]).expect("valid");
        let reg = input("letsencrypt").validate(&directories).expect("valid");
        assert_eq!(reg.directory_url, "https://ca.internal/dir");
        let mut production = input("letsencrypt");
        production.environment = Some("production".into());
        let production = production.validate(&directories).expect("valid");
        assert_eq!(
            production.directory_url,
            "https://acme-v02.api.letsencrypt.org/directory"
        );
        assert!(Directories::new([("custom", "https://x/dir")]).is_err());
        assert!(Directories::new([("letsencrypt", "http://x/dir")]).is_err());
        assert!(Directories::new([("pebble_staging", "https://x/dir")]).is_err());
    }

    #[test]
    fn zerossl_needs_no_eab_from_the_caller() {
        let mut zerossl = input("zerossl");
        zerossl.environment = Some("production".into());
        let reg = zerossl
            .clone()
            .validate(&Directories::default())
            .expect("valid");
        assert!(reg.eab.is_none() && reg.zerossl_api_key_path.is_none());
        zerossl.zerossl_api_key_path = Some("infra/zerossl/api-key".into());
        let reg = zerossl
            .clone()
            .validate(&Directories::default())
            .expect("valid");
        assert_eq!(
            reg.zerossl_api_key_path.as_deref(),
            Some("infra/zerossl/api-key")
        );
        zerossl.eab_kid = Some("kid".into());
        zerossl.eab_hmac_key = Some("c2VjcmV0".into());
        assert!(zerossl.validate(&Directories::default()).is_err(), "both");
        let mut letsencrypt = input("letsencrypt");
        letsencrypt.zerossl_api_key_path = Some("infra/zerossl/api-key".into());
        assert!(letsencrypt.validate(&Directories::default()).is_err());
    }
}
