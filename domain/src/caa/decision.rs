//! The decision: given a name's relevant CAA RRset, may this CA issue for it to this account by
//! this challenge type? RFC 8659 §4 (issue, issuewild, the critical flag) and RFC 8657 §3–§4
//! (`accounturi`, `validationmethods`).

use std::fmt;

use super::issue_value::IssueValue;
use super::record::{CaaRecord, CaaSet, CaaTag};
use crate::order::ChallengeType;

/// What is about to be ordered, as far as CAA cares.
#[derive(Debug, Clone, Copy)]
pub struct CaaRequest<'a> {
    /// The name as ordered, lower-case; `*.example.com` for a wildcard.
    pub domain: &'a str,
    /// The issuer domain names the CA is known by (its directory's `meta.caaIdentities`, or the
    /// provider's published one); empty when unknown.
    pub identities: &'a [String],
    /// This account's URL at the CA, compared with `accounturi` (RFC 8657 §3).
    pub account_url: &'a str,
    /// The challenge type the order will use, compared with `validationmethods` (RFC 8657 §4).
    pub method: ChallengeType,
}

/// The outcome for one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaaVerdict {
    /// No CAA RRset at the name or any parent, or none of its properties governs this issuance
    /// (only `iodef`, or only `issuewild` for a name that is not a wildcard): any CA may issue.
    Unrestricted,
    /// This record permits this CA, account and method.
    Permitted(CaaRecord),
    /// No record permits it.
    Forbidden(CaaDenial),
    /// The CA's identities are unknown and these records might name it (their parameters fit):
    /// whether it may issue is the CA's to say.
    Undecided(Vec<CaaRecord>),
}

/// Why a name may not be issued for: the relevant RRset and, for each record that governs the
/// issuance, why it does not permit it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaaDenial {
    /// The name as ordered.
    pub domain: String,
    pub set: CaaSet,
    pub objections: Vec<(CaaRecord, Objection)>,
}

/// Why one record does not permit the issuance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Objection {
    /// Flagged critical with a tag this CA does not know: no CA that does not know it may
    /// issue (RFC 8659 §4.1).
    CriticalUnknown,
    /// `issue ";"`: no CA may issue (RFC 8659 §4.2).
    NoIssuer,
    /// It names another CA.
    OtherIssuer {
        issuer: String,
        identities: Vec<String>,
    },
    /// The value does not parse, so it authorizes no CA.
    Malformed(String),
    /// `accounturi` names another account (RFC 8657 §3).
    AccountUri { required: String, ours: String },
    /// `validationmethods` leaves out the order's challenge type (RFC 8657 §4).
    ValidationMethods {
        allowed: String,
        used: ChallengeType,
    },
}

impl fmt::Display for Objection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Objection::CriticalUnknown => f.write_str(
                "is flagged critical with a property this CA does not know, which forbids \
                 issuance (RFC 8659 §4.1)",
            ),
            Objection::NoIssuer => f.write_str("names no issuer, which forbids every CA"),
            Objection::OtherIssuer { issuer, identities } => write!(
                f,
                "names {issuer}, not this CA ({})",
                identities.join(" or ")
            ),
            Objection::Malformed(why) => {
                write!(f, "is malformed ({why}), so it authorizes no CA")
            }
            Objection::AccountUri { required, ours } => write!(
                f,
                "allows only the ACME account {required}, not this one ({ours}) (RFC 8657 accounturi)"
            ),
            Objection::ValidationMethods { allowed, used } => write!(
                f,
                "allows only the validation methods {allowed}, not {used} (RFC 8657 validationmethods)"
            ),
        }
    }
}

impl fmt::Display for CaaDenial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CAA forbids this CA to issue for {}: the CAA records at {}: ",
            self.domain,
            self.set.location()
        )?;
        for (i, (record, objection)) in self.objections.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "`{}` {objection}", self.set.line(record))?;
        }
        Ok(())
    }
}

/// An order refused because CAA forbids this CA to issue for some of its names: one denial per
/// such name, in the order's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaaRefusal {
    pub denials: Vec<CaaDenial>,
}

impl fmt::Display for CaaRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, denial) in self.denials.iter().enumerate() {
            if i > 0 {
                f.write_str(". ")?;
            }
            write!(f, "{denial}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CaaRefusal {}

/// Decides for one name, given its relevant RRset (`None`: no CAA record at the name or any
/// parent).
///
/// A record flagged critical with an unknown tag forbids issuance outright. Otherwise the
/// governing records are the `issuewild` ones for a wildcard name that has any, else the
/// `issue` ones (RFC 8659 §4.3); with none, issuance is unrestricted. A governing record permits
/// when its issuer is one of the CA's identities and its `accounturi` and `validationmethods`,
/// if present, fit (RFC 8657); one permitting record is enough.
pub fn decide(set: Option<&CaaSet>, request: &CaaRequest<'_>) -> CaaVerdict {
    let Some(set) = set else {
        return CaaVerdict::Unrestricted;
    };
    let denial = |objections| {
        CaaVerdict::Forbidden(CaaDenial {
            domain: request.domain.to_owned(),
            set: set.clone(),
            objections,
        })
    };
    if let Some(critical) = set
        .records
        .iter()
        .find(|r| r.critical() && matches!(r.tag, CaaTag::Other(_)))
    {
        return denial(vec![(critical.clone(), Objection::CriticalUnknown)]);
    }
    let wildcard = request.domain.starts_with("*.");
    let tag = if wildcard && set.records.iter().any(|r| r.tag == CaaTag::IssueWild) {
        CaaTag::IssueWild
    } else {
        CaaTag::Issue
    };
    let mut objections = Vec::new();
    let mut undecided = Vec::new();
    for record in set.records.iter().filter(|r| r.tag == tag) {
        match judge(record, request) {
            Judgement::Permits => return CaaVerdict::Permitted(record.clone()),
            Judgement::Objects(objection) => objections.push((record.clone(), objection)),
            Judgement::Unknown => undecided.push(record.clone()),
        }
    }
    if !undecided.is_empty() {
        CaaVerdict::Undecided(undecided)
    } else if objections.is_empty() {
        CaaVerdict::Unrestricted
    } else {
        denial(objections)
    }
}

enum Judgement {
    Permits,
    Objects(Objection),
    /// Everything but the issuer fits, and the CA's identities are unknown.
    Unknown,
}

fn judge(record: &CaaRecord, request: &CaaRequest<'_>) -> Judgement {
    let value = match IssueValue::parse(&record.value) {
        Ok(value) => value,
        Err(why) => return Judgement::Objects(Objection::Malformed(why)),
    };
    let Some(issuer) = &value.issuer else {
        return Judgement::Objects(Objection::NoIssuer);
    };
    let known = !request.identities.is_empty();
    if known
        && !request
            .identities
            .iter()
            .any(|id| id.trim_end_matches('.').eq_ignore_ascii_case(issuer))
    {
        return Judgement::Objects(Objection::OtherIssuer {
            issuer: issuer.clone(),
            identities: request.identities.to_vec(),
        });
    }
    match value.parameter("accounturi") {
        Err(why) => return Judgement::Objects(Objection::Malformed(why)),
        Ok(Some(uri)) if uri != request.account_url => {
            return Judgement::Objects(Objection::AccountUri {
                required: uri.to_owned(),
                ours: request.account_url.to_owned(),
            });
        }
        Ok(_) => {}
    }
    match value.parameter("validationmethods") {
        Err(why) => return Judgement::Objects(Objection::Malformed(why)),
        Ok(Some(methods)) if !methods.split(',').any(|m| m == request.method.as_str()) => {
            return Judgement::Objects(Objection::ValidationMethods {
                allowed: methods.to_owned(),
                used: request.method,
            });
        }
        Ok(_) => {}
    }
    if known {
        Judgement::Permits
    } else {
        Judgement::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "https://acme.example/acct/7";

    fn set(records: &[(u8, &str, &str)]) -> CaaSet {
        CaaSet {
            name: "example.com".into(),
            owner: "example.com".into(),
            records: records
                .iter()
                .map(|(flags, tag, value)| CaaRecord {
                    flags: *flags,
                    tag: CaaTag::parse(tag),
                    value: (*value).to_owned(),
                })
                .collect(),
        }
    }

    fn ids(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    fn verdict(
        set: &CaaSet,
        domain: &str,
        identities: &[String],
        method: ChallengeType,
    ) -> CaaVerdict {
        decide(
            Some(set),
            &CaaRequest {
                domain,
                identities,
                account_url: ACCOUNT,
                method,
            },
        )
    }

    fn objections(verdict: CaaVerdict) -> Vec<Objection> {
        match verdict {
            CaaVerdict::Forbidden(denial) => {
                denial.objections.into_iter().map(|(_, o)| o).collect()
            }
            other => panic!("not forbidden: {other:?}"),
        }
    }

    /// RFC 8659 §3's example: `0 issue "ca1.example.net"` and `0 issue "ca2.example.org"` at
    /// example.com authorize exactly those two CAs.
    #[test]
    fn rfc_8659_example_names_the_cas_that_may_issue() {
        let set = set(&[
            (0, "issue", "ca1.example.net"),
            (0, "issue", "ca2.example.org"),
        ]);
        let ca2 = ids(&["ca2.example.org"]);
        assert_eq!(
            verdict(&set, "example.com", &ca2, ChallengeType::Http01),
            CaaVerdict::Permitted(set.records[1].clone())
        );
        let other = ids(&["ca3.example.com"]);
        let found = objections(verdict(&set, "example.com", &other, ChallengeType::Http01));
        assert_eq!(found.len(), 2);
        assert!(
            matches!(&found[0], Objection::OtherIssuer { issuer, .. } if issuer == "ca1.example.net")
        );
        // Issuer names compare without regard to case or a trailing dot.
        let upper = ids(&["CA1.Example.NET."]);
        assert!(matches!(
            verdict(&set, "example.com", &upper, ChallengeType::Http01),
            CaaVerdict::Permitted(_)
        ));
    }

    /// RFC 8659 §4.2: `0 issue ";"` forbids every CA.
    #[test]
    fn an_empty_issuer_forbids_everyone() {
        let set = set(&[(0, "issue", ";")]);
        for identities in [ids(&["ca.example"]), Vec::new()] {
            assert_eq!(
                objections(verdict(
                    &set,
                    "example.com",
                    &identities,
                    ChallengeType::Dns01
                )),
                vec![Objection::NoIssuer]
            );
        }
    }

    /// No CAA record at all, or only `iodef`: unrestricted.
    #[test]
    fn no_governing_record_is_unrestricted() {
        let request = CaaRequest {
            domain: "example.com",
            identities: &[],
            account_url: ACCOUNT,
            method: ChallengeType::Http01,
        };
        assert_eq!(decide(None, &request), CaaVerdict::Unrestricted);
        let only_iodef = set(&[(0, "iodef", "mailto:security@example.com")]);
        assert_eq!(
            decide(Some(&only_iodef), &request),
            CaaVerdict::Unrestricted
        );
        // issuewild does not govern a name that is not a wildcard.
        let only_wild = set(&[(0, "issuewild", ";")]);
        assert_eq!(
            verdict(
                &only_wild,
                "example.com",
                &ids(&["ca.example"]),
                ChallengeType::Http01
            ),
            CaaVerdict::Unrestricted
        );
    }

    /// RFC 8657 §3: `accounturi` must be this account's URL.
    #[test]
    fn accounturi_pins_the_account() {
        let ca = ids(&["ca.example"]);
        let ours = set(&[(0, "issue", &format!("ca.example; accounturi={ACCOUNT}"))]);
        assert!(matches!(
            verdict(&ours, "example.com", &ca, ChallengeType::Http01),
            CaaVerdict::Permitted(_)
        ));
        let theirs = set(&[(
            0,
            "issue",
            "ca.example; accounturi=https://acme.example/acct/8",
        )]);
        assert_eq!(
            objections(verdict(&theirs, "example.com", &ca, ChallengeType::Http01)),
            vec![Objection::AccountUri {
                required: "https://acme.example/acct/8".into(),
                ours: ACCOUNT.into()
            }]
        );
        // One record for another account, one for this one: this one permits.
        let both = set(&[
            (
                0,
                "issue",
                "ca.example; accounturi=https://acme.example/acct/8",
            ),
            (0, "issue", &format!("ca.example; accounturi={ACCOUNT}")),
        ]);
        assert!(matches!(
            verdict(&both, "example.com", &ca, ChallengeType::Http01),
            CaaVerdict::Permitted(r) if r == both.records[1]
        ));
        // Given twice, the record authorizes nobody.
        let twice = set(&[(
            0,
            "issue",
            &format!("ca.example; accounturi={ACCOUNT}; accounturi={ACCOUNT}"),
        )]);
        assert!(matches!(
            objections(verdict(&twice, "example.com", &ca, ChallengeType::Http01))[0],
            Objection::Malformed(_)
        ));
    }

    /// RFC 8657 §4: `validationmethods` must include the order's challenge type.
    #[test]
    fn validationmethods_limit_the_challenge_type() {
        let ca = ids(&["ca.example"]);
        let set = set(&[(
            0,
            "issue",
            "ca.example; validationmethods=dns-01,tls-alpn-01",
        )]);
        for method in [ChallengeType::Dns01, ChallengeType::TlsAlpn01] {
            assert!(matches!(
                verdict(&set, "example.com", &ca, method),
                CaaVerdict::Permitted(_)
            ));
        }
        assert_eq!(
            objections(verdict(&set, "example.com", &ca, ChallengeType::Http01)),
            vec![Objection::ValidationMethods {
                allowed: "dns-01,tls-alpn-01".into(),
                used: ChallengeType::Http01
            }]
        );
    }

    /// RFC 8659 §4.3: for a wildcard, `issuewild` governs when present, else `issue`.
    #[test]
    fn issuewild_governs_wildcards() {
        let ca = ids(&["ca.example"]);
        let set_both = set(&[(0, "issue", "ca.example"), (0, "issuewild", ";")]);
        assert!(matches!(
            verdict(&set_both, "example.com", &ca, ChallengeType::Dns01),
            CaaVerdict::Permitted(_)
        ));
        assert_eq!(
            objections(verdict(
                &set_both,
                "*.example.com",
                &ca,
                ChallengeType::Dns01
            )),
            vec![Objection::NoIssuer]
        );
        let wild_only_other = set(&[(0, "issue", ";"), (0, "issuewild", "ca.example")]);
        assert!(matches!(
            verdict(&wild_only_other, "*.example.com", &ca, ChallengeType::Dns01),
            CaaVerdict::Permitted(r) if r.tag == CaaTag::IssueWild
        ));
        let issue_only = set(&[(0, "issue", "other.example")]);
        assert!(matches!(
            objections(verdict(
                &issue_only,
                "*.example.com",
                &ca,
                ChallengeType::Dns01
            ))[0],
            Objection::OtherIssuer { .. }
        ));
    }

    /// RFC 8659 §4.1: an unknown tag flagged critical forbids issuance, even beside a record
    /// that would permit it; unflagged, or a known tag, it is ignored.
    #[test]
    fn unknown_critical_properties_forbid() {
        let ca = ids(&["ca.example"]);
        let critical = set(&[(0, "issue", "ca.example"), (128, "tbs", "Unknown")]);
        assert_eq!(
            objections(verdict(
                &critical,
                "example.com",
                &ca,
                ChallengeType::Http01
            )),
            vec![Objection::CriticalUnknown]
        );
        let not_critical = set(&[(0, "issue", "ca.example"), (0, "tbs", "Unknown")]);
        assert!(matches!(
            verdict(&not_critical, "example.com", &ca, ChallengeType::Http01),
            CaaVerdict::Permitted(_)
        ));
        let known_critical = set(&[
            (128, "issue", "ca.example"),
            (128, "iodef", "mailto:a@b.example"),
        ]);
        assert!(matches!(
            verdict(&known_critical, "example.com", &ca, ChallengeType::Http01),
            CaaVerdict::Permitted(_)
        ));
    }

    /// A CA whose identities are unknown: records naming some CA are the CA's to judge, unless
    /// their parameters already rule this account or method out.
    #[test]
    fn unknown_identities_leave_the_decision_to_the_ca() {
        let named = set(&[(0, "issue", "ca.example")]);
        assert_eq!(
            verdict(&named, "example.com", &[], ChallengeType::Http01),
            CaaVerdict::Undecided(named.records.clone())
        );
        let other_account = set(&[(
            0,
            "issue",
            "ca.example; accounturi=https://acme.example/acct/8",
        )]);
        assert!(matches!(
            objections(verdict(
                &other_account,
                "example.com",
                &[],
                ChallengeType::Http01
            ))[0],
            Objection::AccountUri { .. }
        ));
    }

    /// The message names the owner, each record as a zone-file line, and why.
    #[test]
    fn a_denial_names_the_records_and_why() {
        let mut set = set(&[(0, "issue", "letsencrypt.org")]);
        set.name = "www.example.com".into();
        set.owner = "cdn.example.net".into();
        let CaaVerdict::Forbidden(denial) = verdict(
            &set,
            "www.example.com",
            &ids(&["pki.goog"]),
            ChallengeType::Http01,
        ) else {
            panic!("forbidden");
        };
        assert_eq!(
            denial.to_string(),
            "CAA forbids this CA to issue for www.example.com: the CAA records at \
             www.example.com (CNAME to cdn.example.net): `cdn.example.net. CAA 0 issue \
             \"letsencrypt.org\"` names letsencrypt.org, not this CA (pki.goog)"
        );
    }
}
