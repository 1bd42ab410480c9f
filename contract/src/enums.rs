//! The API's enums, mirrored from the domain's with conversions both ways: the domain keeps its
//! own (stored, validated, matched on) and knows nothing of OpenAPI; these carry the schema.
//! A variant added on one side and not the other fails the conversions' exhaustive matches.
//!
//! The JSON names are `tt`, not `literal`, fragments: a `literal` fragment reaches the derives
//! wrapped in an invisible group, which serde reads but utoipa silently skips, so the schema
//! would show the Rust variant names.

use scaivault_domain as domain;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One mirrored enum: the wire enum with each variant's JSON name, `as_str`, and `From` both
/// ways with the domain enum of the same variants.
macro_rules! mirror {
    ($(#[$meta:meta])* $name:ident <=> $($domain:ident)::+ {
        $($(#[$vmeta:meta])* $variant:ident = $wire:tt),+ $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $wire)] $variant),+
        }

        impl $name {
            /// The JSON name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $wire),+
                }
            }
        }

        impl From<$($domain)::+> for $name {
            fn from(value: $($domain)::+) -> Self {
                use $($domain)::+ as Domain;
                match value {
                    $(Domain::$variant => Self::$variant),+
                }
            }
        }

        impl From<$name> for $($domain)::+ {
            fn from(value: $name) -> Self {
                match value {
                    $($name::$variant => Self::$variant),+
                }
            }
        }
    };
}

mirror!(
    /// How domain control is proven (RFC 8555 §8.3, §8.4; RFC 8737).
    ChallengeType <=> domain::order::ChallengeType {
        Http01 = "http-01",
        Dns01 = "dns-01",
        TlsAlpn01 = "tls-alpn-01",
    }
);

mirror!(
    /// The certificate key's algorithm and size.
    KeyType <=> domain::pki::KeyType {
        EcdsaP256 = "ecdsa-p256",
        EcdsaP384 = "ecdsa-p384",
        Rsa2048 = "rsa-2048",
        Rsa4096 = "rsa-4096",
    }
);

mirror!(
    /// An order's status (RFC 8555 §7.1.6, plus `revoked` once its certificate is).
    OrderStatus <=> domain::order::OrderStatus {
        Pending = "pending",
        Ready = "ready",
        Processing = "processing",
        Valid = "valid",
        Invalid = "invalid",
        Deactivated = "deactivated",
        Revoked = "revoked",
        Expired = "expired",
    }
);

mirror!(
    AccountStatus <=> domain::account::AccountStatus {
        Active = "active",
        Deactivated = "deactivated",
    }
);

mirror!(
    /// An ACME provider (`custom`: any RFC 8555 server, with `directory_url`).
    Provider <=> domain::provider::Provider {
        Letsencrypt = "letsencrypt",
        Zerossl = "zerossl",
        Buypass = "buypass",
        Google = "google",
        Custom = "custom",
    }
);

mirror!(
    Environment <=> domain::provider::Environment {
        Production = "production",
        Staging = "staging",
    }
);

mirror!(
    ProviderStatus <=> domain::provider::ProviderStatus {
        Active = "active",
        Discontinued = "discontinued",
    }
);

mirror!(
    /// What a profile does with the subject common name: `first_short_name`, the first name of
    /// at most 64 characters (none if all are longer); `omitted`, names only in subjectAltName.
    CommonName <=> domain::profile::CommonName {
        FirstShortName = "first_short_name",
        Omitted = "omitted",
    }
);

mirror!(
    CertificateStatus <=> domain::certificate::CertificateStatus {
        Valid = "valid",
        Revoked = "revoked",
        Expired = "expired",
    }
);

mirror!(
    /// RFC 5280 §5.3.1 reasons a subscriber may give.
    RevocationReason <=> domain::revocation::RevocationReason {
        Unspecified = "unspecified",
        KeyCompromise = "key_compromise",
        CaCompromise = "ca_compromise",
        AffiliationChanged = "affiliation_changed",
        Superseded = "superseded",
        CessationOfOperation = "cessation_of_operation",
    }
);

mirror!(
    DeliveryStatus <=> domain::webhook::DeliveryStatus {
        /// Not yet accepted by the receiver; an attempt is queued.
        Pending = "pending",
        /// The receiver answered 2xx.
        Delivered = "delivered",
        /// Every attempt failed; given up.
        Failed = "failed",
    }
);

mirror!(
    /// An API token's permission; scopes are independent (`admin` does not imply `pki:keys`).
    Scope <=> domain::scope::Scope {
        PkiRead = "pki:read",
        PkiWrite = "pki:write",
        PkiKeys = "pki:keys",
        SecretsRead = "secrets:read",
        SecretsWrite = "secrets:write",
        /// Tokens, webhooks and DNS providers.
        Admin = "admin",
    }
);

mirror!(
    EventKind <=> domain::event::EventKind {
        CertificateIssued = "certificate.issued",
        CertificateRenewed = "certificate.renewed",
        CertificateRenewalFailed = "certificate.renewal_failed",
        CertificateExpiring = "certificate.expiring",
        CertificateRevoked = "certificate.revoked",
        OrderInvalid = "order.invalid",
    }
);

#[cfg(test)]
mod tests {
    use utoipa::PartialSchema;

    use super::*;

    /// The JSON names are the domain's: a body written by either side reads on the other.
    #[test]
    fn json_names_match_the_domain() {
        for kind in domain::pki::KeyType::ALL {
            assert_eq!(KeyType::from(kind).as_str(), kind.as_str());
        }
        for status in domain::order::OrderStatus::ALL {
            assert_eq!(OrderStatus::from(status).as_str(), status.as_str());
        }
        for scope in domain::scope::Scope::ALL {
            assert_eq!(Scope::from(scope).as_str(), scope.as_str());
        }
        for reason in domain::revocation::RevocationReason::ALL {
            assert_eq!(RevocationReason::from(reason).as_str(), reason.as_str());
        }
        for kind in domain::event::EventKind::ALL {
            assert_eq!(EventKind::from(kind).as_str(), kind.as_str());
        }
        let json = serde_json::to_value(ChallengeType::TlsAlpn01).unwrap();
        assert_eq!(json, "tls-alpn-01");
        let back: ChallengeType = serde_json::from_value(json).unwrap();
        assert_eq!(
            domain::order::ChallengeType::from(back),
            domain::order::ChallengeType::TlsAlpn01
        );
    }

    /// The document shows the JSON names, not the Rust ones.
    #[test]
    fn schemas_list_the_json_names() {
        let schema = |s: utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>| {
            serde_json::to_value(s).unwrap()
        };
        let challenge = schema(ChallengeType::schema());
        assert_eq!(
            challenge["enum"],
            serde_json::json!(["http-01", "dns-01", "tls-alpn-01"])
        );
        let scope = schema(Scope::schema());
        assert!(
            scope["enum"]
                .as_array()
                .unwrap()
                .contains(&serde_json::json!("pki:read")),
            "{scope}"
        );
    }
}
