//! Managed certificates, their versions, and a version's revocation.

use scaivault_domain::certificate::{CertificateRecord, CertificateStatus, CertificateVersion};
use scaivault_domain::metrics::CertificateExpiry;
use scaivault_domain::revocation::VersionRevocation;
use scaivault_domain::timestamp::from_millis;
use scaivault_domain::{Error, Result};

use super::{from_json, stored};

/// `certificates`.
#[derive(sqlx::FromRow)]
pub(crate) struct CertificateRow {
    id: String,
    account_id: String,
    domains: String,
    challenge_type: String,
    key_type: String,
    dns_provider_id: Option<String>,
    profile: Option<String>,
    auto_renew: i64,
    own_csr: i64,
    current_version: i64,
    status: String,
    serial_number: String,
    not_after: i64,
    created_at: i64,
    updated_at: i64,
    renew_at: Option<i64>,
}

impl CertificateRow {
    pub(crate) fn into_record(self) -> Result<CertificateRecord> {
        Ok(CertificateRecord {
            id: self.id,
            account_id: self.account_id,
            domains: from_json("domains", &self.domains)?,
            challenge_type: stored("challenge_type", &self.challenge_type)?,
            key_type: stored("key_type", &self.key_type)?,
            dns_provider_id: self.dns_provider_id,
            profile: self.profile,
            auto_renew: self.auto_renew != 0,
            own_csr: self.own_csr != 0,
            current_version: self.current_version,
            status: CertificateStatus::parse(&self.status)?,
            serial_number: self.serial_number,
            not_after: from_millis(self.not_after),
            renew_at: self.renew_at.map(from_millis),
            created_at: from_millis(self.created_at),
            updated_at: from_millis(self.updated_at),
        })
    }
}

/// A version's revocation columns (all NULL unless it is revoked).
#[derive(sqlx::FromRow)]
pub(crate) struct RevocationRow {
    revoked_at: Option<i64>,
    revocation_reason: Option<String>,
    revoked_via_acme: Option<i64>,
}

impl RevocationRow {
    pub(crate) fn into_record(self) -> Result<Option<VersionRevocation>> {
        match (self.revoked_at, self.revocation_reason) {
            (Some(at), Some(reason)) => Ok(Some(VersionRevocation {
                at: from_millis(at),
                reason: stored("revocation_reason", &reason)?,
                via_acme: self.revoked_via_acme.unwrap_or(0) != 0,
            })),
            _ => Ok(None),
        }
    }
}

/// `certificate_versions` without the sealed key (only whether there is one).
#[derive(sqlx::FromRow)]
pub(crate) struct VersionRow {
    certificate_id: String,
    version: i64,
    order_id: String,
    serial_number: String,
    issuer: String,
    sans: String,
    not_before: i64,
    not_after: i64,
    chain_pem: String,
    has_key: bool,
    status: String,
    created_at: i64,
    #[sqlx(flatten)]
    revocation: RevocationRow,
}

impl VersionRow {
    pub(crate) fn into_record(self) -> Result<CertificateVersion> {
        Ok(CertificateVersion {
            certificate_id: self.certificate_id,
            version: self.version,
            order_id: self.order_id,
            serial_number: self.serial_number,
            issuer: self.issuer,
            sans: from_json("sans", &self.sans)?,
            not_before: from_millis(self.not_before),
            not_after: from_millis(self.not_after),
            chain_pem: self.chain_pem,
            has_private_key: self.has_key,
            status: CertificateStatus::parse(&self.status)?,
            revocation: self.revocation.into_record()?,
            created_at: from_millis(self.created_at),
        })
    }
}

/// A valid certificate's expiry (`GET /metrics`).
#[derive(sqlx::FromRow)]
pub(crate) struct ExpiryRow {
    id: String,
    domains: String,
    not_after: i64,
    renew_at: Option<i64>,
}

impl ExpiryRow {
    pub(crate) fn into_record(self) -> Result<CertificateExpiry> {
        Ok(CertificateExpiry {
            domain: first_domain(&self.domains)?,
            certificate_id: self.id,
            not_after: from_millis(self.not_after),
            renew_at: self.renew_at.map(from_millis),
        })
    }
}

/// The first name of a `domains` column (a JSON array of strings) without building the whole
/// list: a 100-name certificate costs one string, not a hundred.
fn first_domain(text: &str) -> Result<String> {
    use serde::de::{Deserializer as _, IgnoredAny, SeqAccess, Visitor};

    struct First;

    impl<'de> Visitor<'de> for First {
        type Value = String;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a non-empty array of names")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<String, A::Error> {
            let first: String = seq
                .next_element()?
                .ok_or_else(|| serde::de::Error::invalid_length(0, &self))?;
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(first)
        }
    }

    let mut de = serde_json::Deserializer::from_str(text);
    de.deserialize_seq(First)
        .and_then(|first| de.end().map(|()| first))
        .map_err(|e| Error::corrupt(format!("column domains: {e}")))
}
