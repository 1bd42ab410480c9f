//! The domain's names for ACME things in instant-acme's types.

use scaivault_domain::order::ChallengeType;
use scaivault_domain::revocation::RevocationReason;

/// instant-acme's name for a challenge type.
pub(crate) fn challenge_type(kind: ChallengeType) -> instant_acme::ChallengeType {
    match kind {
        ChallengeType::Http01 => instant_acme::ChallengeType::Http01,
        ChallengeType::Dns01 => instant_acme::ChallengeType::Dns01,
        ChallengeType::TlsAlpn01 => instant_acme::ChallengeType::TlsAlpn01,
    }
}

/// The reason `revokeCert` sends (RFC 8555 §7.6), as its RFC 5280 §5.3.1 code; `None` for
/// `unspecified`, which §5.3.1 says "SHOULD be absent instead of using the unspecified (0)
/// reasonCode value" (and §7.6 makes the field optional).
pub(crate) fn revocation_reason(
    reason: RevocationReason,
) -> Option<instant_acme::RevocationReason> {
    use instant_acme::RevocationReason as Acme;
    match reason {
        RevocationReason::Unspecified => None,
        RevocationReason::KeyCompromise => Some(Acme::KeyCompromise),
        RevocationReason::CaCompromise => Some(Acme::CaCompromise),
        RevocationReason::AffiliationChanged => Some(Acme::AffiliationChanged),
        RevocationReason::Superseded => Some(Acme::Superseded),
        RevocationReason::CessationOfOperation => Some(Acme::CessationOfOperation),
    }
}
