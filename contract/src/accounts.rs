//! `/v1/pki/acme/accounts` and `/v1/pki/acme/providers`.

use scaivault_domain as domain;
use scaivault_domain::account::AccountRecord;
use scaivault_domain::pause::{AccountPause, PauseSummary};
use scaivault_domain::provider::{Directories, ProviderInfo};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::{AccountStatus, Environment, ProfileView, Provider, ProviderStatus};

/// `POST /v1/pki/acme/accounts`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Register {
    pub name: String,
    pub provider: Provider,
    /// `production` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    pub email: String,
    /// For `custom` only: the CA's RFC 8555 directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory_url: Option<String>,
    /// External Account Binding (RFC 8555 §7.3.4), for CAs that require it. ZeroSSL needs
    /// none: its credentials are obtained from ZeroSSL's API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eab: Option<Eab>,
    /// ZeroSSL only: the secret holding a ZeroSSL API access key (the token needs
    /// `secrets:read`); EAB credentials are then obtained with it, else by `email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zerossl_api_key_path: Option<String>,
}

/// External Account Binding credentials from the CA.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Eab {
    pub kid: String,
    /// base64url, as the CA gives it.
    pub hmac_key: String,
}

/// An ACME account. Its key never leaves the service.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Account {
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
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub deactivated_at: Option<OffsetDateTime>,
    /// The RFC 7638 thumbprint of the account's current public key: every key authorization
    /// of its orders ends with it (RFC 8555 §8.1), and it changes with a key rollover. `null`
    /// for an account registered before this field existed, until its next use.
    pub key_thumbprint: Option<String>,
    /// When the account key was last rolled over (RFC 8555 §7.3.5); `null` if never.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub key_rolled_at: Option<OffsetDateTime>,
    /// Set while the CA pauses issuance through this account for some identifiers (Let's
    /// Encrypt does after long repeated validation failures): orders for them are refused and
    /// their automatic renewals are held until the pause is lifted with `unpause_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<AccountPaused>,
}

/// `POST /v1/pki/acme/accounts/{id}`: replaces the account's contact at the CA
/// (RFC 8555 §7.3.2) and here.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAccount {
    /// The new contact address, as at registration (sent to the CA as `mailto:`).
    pub email: String,
}

/// The CA's pause of an account, as the account shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccountPaused {
    /// Every identifier the CA said it pauses for this account.
    pub identifiers: Vec<String>,
    /// The CA's self-service link that lifts the pause (from its latest refusal; it carries a
    /// token that acts for the account: treat it as a secret). `null` if the CA gave none.
    pub unpause_url: Option<String>,
    /// The CA's first refusal.
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    /// The CA's latest refusal; held renewals ask again a day after it.
    #[serde(with = "time::serde::rfc3339")]
    pub checked_at: OffsetDateTime,
}

impl From<PauseSummary> for AccountPaused {
    fn from(summary: PauseSummary) -> Self {
        Self {
            identifiers: summary.identifiers,
            unpause_url: summary.unpause_url,
            since: summary.since,
            checked_at: summary.checked_at,
        }
    }
}

impl Account {
    /// The account with its pauses (none: not paused).
    pub fn with_pauses(record: &AccountRecord, pauses: &[AccountPause]) -> Self {
        Self {
            paused: PauseSummary::of(pauses).map(AccountPaused::from),
            ..Self::from(record)
        }
    }
}

impl From<&AccountRecord> for Account {
    fn from(record: &AccountRecord) -> Self {
        Self {
            id: record.id.clone(),
            name: record.name.clone(),
            provider: record.provider.into(),
            environment: record.environment.into(),
            directory_url: record.directory_url.clone(),
            email: record.email.clone(),
            status: record.status.into(),
            account_url: record.account_url.clone(),
            eab_kid: record.eab_kid.clone(),
            created_at: record.created_at,
            deactivated_at: record.deactivated_at,
            paused: None,
            key_thumbprint: record.key_thumbprint.clone(),
            key_rolled_at: record.key_rolled_at,
        }
    }
}

/// A page of accounts, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccountList {
    pub accounts: Vec<Account>,
    /// Pass back as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// One ACME provider.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProviderView {
    pub name: Provider,
    pub display_name: String,
    pub status: ProviderStatus,
    /// When the provider stopped its ACME service, for discontinued ones.
    pub discontinued_on: Option<String>,
    /// Whether the CA refuses accounts without External Account Binding (RFC 8555 §7.3.4).
    pub eab_required: bool,
    /// The directory URL per environment (`null` where the provider has none).
    pub environments: ProviderEnvironments,
    /// The profiles the CA publishes and their limits, checked before an order reaches it
    /// (empty where the CA publishes none; an order may still name a profile the CA added since).
    pub profiles: Vec<ProfileView>,
    /// The only profile under which the CA issues certificates for IP addresses, if it has that
    /// rule; orders naming an IP address get it.
    pub ip_profile: Option<String>,
    /// The issuer domain names CAA records (RFC 8659) name this CA by, as it publishes them;
    /// its directory's `meta.caaIdentities` count too. Empty for `custom`.
    pub caa_identities: Vec<String>,
    pub notes: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProviderEnvironments {
    pub production: Option<String>,
    pub staging: Option<String>,
}

impl ProviderView {
    /// A provider's row with the directories new accounts are registered at.
    pub fn new(info: &ProviderInfo, directories: &Directories) -> Self {
        let directory = |environment| directories.of(info.name, environment).map(str::to_owned);
        Self {
            name: info.name.into(),
            display_name: info.display_name.to_owned(),
            status: info.status.into(),
            discontinued_on: info.discontinued_on.map(str::to_owned),
            eab_required: info.eab_required,
            environments: ProviderEnvironments {
                production: directory(domain::provider::Environment::Production),
                staging: directory(domain::provider::Environment::Staging),
            },
            profiles: info.profiles.iter().map(ProfileView::from).collect(),
            ip_profile: info.ip_profile.map(str::to_owned),
            caa_identities: info
                .caa_identities
                .iter()
                .map(|id| (*id).to_owned())
                .collect(),
            notes: info.notes.to_owned(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProviderList {
    pub providers: Vec<ProviderView>,
}
