//! Revocation: withdrawing a certificate before it expires.
//!
//! A caller names the certificate by serial and gives a reason. With `use_acme` the CA is told
//! first (RFC 8555 §7.6, `revokeCert` signed by the account that ordered the certificate);
//! either way the service then records, in one transaction, that the version and the order that
//! produced it are revoked (and the managed certificate, when the version is its current one),
//! with the `certificate.revoked` event. The CA call comes first so that nothing is marked here
//! that the CA refused; the single transaction after it means a crash leaves either no mark or
//! the whole mark, never a revoked version with a valid certificate or a missing event.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use time::OffsetDateTime;

use crate::pki::normalize_serial;
use crate::{Error, Result, timestamp};

mod record;

pub use self::record::Revocation;

/// Why a certificate is revoked: the CRLReason codes of
/// [RFC 5280 §5.3.1](https://www.rfc-editor.org/rfc/rfc5280#section-5.3.1) that a subscriber
/// may give. `certificateHold` (6), `removeFromCRL` (8), `privilegeWithdrawn` (9) and
/// `aACompromise` (10) are for CAs and attribute authorities, not for a subscriber's request
/// (RFC 8555 §7.6 lets a CA refuse them with `badRevocationReason`), so they are not offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    Unspecified,
    KeyCompromise,
    CaCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
}

impl RevocationReason {
    /// Every reason, for validation messages.
    pub const ALL: [RevocationReason; 6] = [
        RevocationReason::Unspecified,
        RevocationReason::KeyCompromise,
        RevocationReason::CaCompromise,
        RevocationReason::AffiliationChanged,
        RevocationReason::Superseded,
        RevocationReason::CessationOfOperation,
    ];

    /// The API and stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationReason::Unspecified => "unspecified",
            RevocationReason::KeyCompromise => "key_compromise",
            RevocationReason::CaCompromise => "ca_compromise",
            RevocationReason::AffiliationChanged => "affiliation_changed",
            RevocationReason::Superseded => "superseded",
            RevocationReason::CessationOfOperation => "cessation_of_operation",
        }
    }

    /// The CRLReason code sent to the CA as `reason` (RFC 8555 §7.6, RFC 5280 §5.3.1).
    pub fn code(self) -> u8 {
        match self {
            RevocationReason::Unspecified => 0,
            RevocationReason::KeyCompromise => 1,
            RevocationReason::CaCompromise => 2,
            RevocationReason::AffiliationChanged => 3,
            RevocationReason::Superseded => 4,
            RevocationReason::CessationOfOperation => 5,
        }
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RevocationReason {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        RevocationReason::ALL
            .into_iter()
            .find(|reason| reason.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "reason",
                    format!(
                        "unknown revocation reason {s:?}; known: {}",
                        RevocationReason::ALL
                            .map(RevocationReason::as_str)
                            .join(", ")
                    ),
                )
            })
    }
}

/// When, why and how a certificate version was revoked; shown with the version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRevocation {
    pub at: OffsetDateTime,
    pub reason: RevocationReason,
    /// Whether the CA was told (RFC 8555 §7.6), or the mark is only ScaiVault's.
    pub via_acme: bool,
}

impl VersionRevocation {
    /// "at 2026-01-02T03:04:05Z (key_compromise, at the CA)", for conflict messages.
    pub fn describe(&self) -> String {
        format!(
            "at {} ({}, {})",
            timestamp::rfc3339(self.at),
            self.reason,
            if self.via_acme {
                "at the CA"
            } else {
                "in ScaiVault only"
            }
        )
    }
}

/// A revocation request, validated: `POST /v1/pki/revoke`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokeRequest {
    /// As [`normalize_serial`] spells it, the form versions are stored under.
    pub serial: String,
    pub reason: RevocationReason,
    /// Tell the CA first (RFC 8555 §7.6); otherwise only mark the certificate here.
    pub use_acme: bool,
}

impl RevokeRequest {
    /// Validates the body's fields: `serial_number` as `1A:2B:..` or plain hex (any case),
    /// `reason` one of [`RevocationReason::ALL`] (`unspecified` when absent, as RFC 8555 §7.6
    /// makes the reason optional), `use_acme` false when absent (the user guide: "without it,
    /// ScaiVault only marks the cert revoked in its own store").
    pub fn new(serial_number: &str, reason: Option<&str>, use_acme: Option<bool>) -> Result<Self> {
        Ok(Self {
            serial: normalize_serial(serial_number)?,
            reason: reason.map_or(Ok(RevocationReason::Unspecified), str::parse)?,
            use_acme: use_acme.unwrap_or(false),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reasons_have_their_rfc5280_codes() {
        let codes: Vec<(&str, u8)> = RevocationReason::ALL
            .iter()
            .map(|r| (r.as_str(), r.code()))
            .collect();
        assert_eq!(
            codes,
            [
                ("unspecified", 0),
                ("key_compromise", 1),
                ("ca_compromise", 2),
                ("affiliation_changed", 3),
                ("superseded", 4),
                ("cessation_of_operation", 5),
            ]
        );
        for reason in RevocationReason::ALL {
            assert_eq!(reason.as_str().parse::<RevocationReason>().unwrap(), reason);
            assert_eq!(
                serde_json::to_value(reason).unwrap(),
                json!(reason.as_str())
            );
        }
    }

    #[test]
    fn requests_are_validated_naming_the_field() {
        let request = RevokeRequest::new("1a:2b:3c", Some("key_compromise"), Some(true)).unwrap();
        assert_eq!(
            request,
            RevokeRequest {
                serial: "1A2B3C".into(),
                reason: RevocationReason::KeyCompromise,
                use_acme: true,
            }
        );
        let defaults = RevokeRequest::new("1A2B3C", None, None).unwrap();
        assert_eq!(defaults.reason, RevocationReason::Unspecified);
        assert!(!defaults.use_acme);

        for (serial, reason, field) in [
            ("zz", None, "serial_number"),
            ("", Some("superseded"), "serial_number"),
            ("1A2B", Some("keyCompromise"), "reason"),
            ("1A2B", Some("certificate_hold"), "reason"),
            ("1A2B", Some(""), "reason"),
        ] {
            match RevokeRequest::new(serial, reason, None).unwrap_err() {
                Error::Invalid { field: got, .. } => assert_eq!(got, field, "{serial} {reason:?}"),
                other => panic!("unexpected {other:?}"),
            }
        }
        let Error::Invalid { message, .. } =
            RevokeRequest::new("1A", Some("bogus"), None).unwrap_err()
        else {
            panic!("invalid")
        };
        assert!(message.contains("\"bogus\"") && message.contains("key_compromise"));
    }
}
