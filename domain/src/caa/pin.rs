//! The CAA records that pin issuance for a name to one ACME account (RFC 8657).

use super::record::{CaaRecord, CaaSet, CaaTag};
use crate::order::ChallengeType;

/// The records to publish at `domain` (a wildcard's `*.` dropped) so that only the CA known as
/// `identity`, and there only the account `account_url`, may issue, by the challenge types in
/// `methods`:
///
/// ```text
/// example.com. CAA 0 issue "letsencrypt.org; accounturi=https://.../acct/1; validationmethods=http-01,dns-01"
/// example.com. CAA 0 issuewild "letsencrypt.org; accounturi=https://.../acct/1; validationmethods=dns-01"
/// ```
///
/// `issuewild` allows only dns-01, the one way to validate a wildcard (RFC 8555 §7.1.3); it is
/// left out when `methods` lacks dns-01, and then no wildcard is allowed (`issuewild ";"`).
pub fn pinning_records(
    domain: &str,
    identity: &str,
    account_url: &str,
    methods: &[ChallengeType],
) -> CaaSet {
    let name = domain.strip_prefix("*.").unwrap_or(domain);
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    let value = |methods: &[ChallengeType]| {
        let list: Vec<&str> = methods.iter().map(|m| m.as_str()).collect();
        format!(
            "{identity}; accounturi={account_url}; validationmethods={}",
            list.join(",")
        )
    };
    let wildcard = if methods.contains(&ChallengeType::Dns01) {
        value(&[ChallengeType::Dns01])
    } else {
        ";".to_owned()
    };
    CaaSet {
        name: name.clone(),
        owner: name,
        records: vec![
            CaaRecord::new(CaaTag::Issue, value(methods)),
            CaaRecord::new(CaaTag::IssueWild, wildcard),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caa::{CaaRequest, CaaVerdict, decide};

    const ACCOUNT: &str = "https://acme.example/acct/7";

    #[test]
    fn pinned_records_permit_exactly_this_account() {
        let methods = [ChallengeType::Http01, ChallengeType::Dns01];
        let set = pinning_records("*.Example.com", "ca.example", ACCOUNT, &methods);
        assert_eq!(
            set.lines(),
            vec![
                format!(
                    "example.com. CAA 0 issue \"ca.example; accounturi={ACCOUNT}; validationmethods=http-01,dns-01\""
                ),
                format!(
                    "example.com. CAA 0 issuewild \"ca.example; accounturi={ACCOUNT}; validationmethods=dns-01\""
                ),
            ]
        );
        let identities = vec!["ca.example".to_owned()];
        let ask = |domain, account_url, method| {
            decide(
                Some(&set),
                &CaaRequest {
                    domain,
                    identities: &identities,
                    account_url,
                    method,
                },
            )
        };
        for (domain, method) in [
            ("example.com", ChallengeType::Http01),
            ("example.com", ChallengeType::Dns01),
            ("*.example.com", ChallengeType::Dns01),
        ] {
            assert!(
                matches!(ask(domain, ACCOUNT, method), CaaVerdict::Permitted(_)),
                "{domain} {method}"
            );
        }
        for (domain, account, method) in [
            ("example.com", ACCOUNT, ChallengeType::TlsAlpn01),
            ("*.example.com", ACCOUNT, ChallengeType::Http01),
            (
                "example.com",
                "https://acme.example/acct/8",
                ChallengeType::Http01,
            ),
        ] {
            assert!(
                matches!(ask(domain, account, method), CaaVerdict::Forbidden(_)),
                "{domain} {account} {method}"
            );
        }
    }
}
