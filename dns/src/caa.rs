//! The CAA lookup of RFC 8659 §3, through the same recursive resolvers as the propagation
//! check (`[dns] resolvers`): the relevant RRset of a name is the first non-empty CAA RRset
//! found at the name or, climbing, at one of its parents; at each level a CNAME chain is
//! followed as a resolver would (RFC 8659 §3 leaves aliases to ordinary resolution, and no longer
//! climbs from an alias's target). What the records allow is decided by
//! [`scaivault_domain::caa::decide`].

use std::collections::BTreeSet;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, RecordType};
use scaivault_domain::caa::{CaaRecord, CaaSet, CaaTag, climb};

use crate::dns_client::{fqdn_name, name_text, parse_name};
use crate::error::DnsError;
use crate::propagation::{Propagation, resolve};

/// A CNAME chain longer than this is treated as a loop.
const MAX_CNAME_HOPS: usize = 16;

impl Propagation {
    /// The relevant CAA RRset of `domain` (a wildcard's `*.` is dropped), `None` when neither
    /// the name nor any parent up to the top-level domain has CAA records.
    ///
    /// An answer other than NOERROR or NXDOMAIN (SERVFAIL, REFUSED), or none at all, is an
    /// error: not knowing a level's records is not "no records", and the caller decides what
    /// a failed lookup means.
    pub async fn caa(&self, domain: &str) -> Result<Option<CaaSet>, DnsError> {
        let resolvers = self.resolvers()?;
        for name in climb(domain) {
            let name = parse_name(&name)?;
            if let Some(set) = caa_at(&resolvers, &name).await? {
                return Ok(Some(set));
            }
        }
        Ok(None)
    }
}

/// The CAA RRset at `name`, following CNAMEs: what the resolver's answer chain gives, and when
/// it gives only aliases (an authoritative server does not chase a CNAME into another zone),
/// the chain's last name asked again.
async fn caa_at(
    resolvers: &[std::net::SocketAddr],
    name: &Name,
) -> Result<Option<CaaSet>, DnsError> {
    let mut current = name.clone();
    let mut seen = BTreeSet::new();
    for _ in 0..MAX_CNAME_HOPS {
        let response = resolve(resolvers, &current, RecordType::CAA).await?;
        let rcode = response.metadata.response_code;
        if rcode != ResponseCode::NoError && rcode != ResponseCode::NXDomain {
            return Err(DnsError::Server(format!(
                "the resolvers answered {rcode} for CAA {}",
                name_text(&current)
            )));
        }
        // Walk the answer's chain from `current`: CAA records at the owner end it, a CNAME
        // moves the owner on.
        let mut owner = current.clone();
        loop {
            if !seen.insert(owner.clone()) {
                return Err(DnsError::Rejected(format!(
                    "CNAME loop at {}",
                    name_text(&owner)
                )));
            }
            let records: Vec<CaaRecord> = response
                .answers
                .iter()
                .filter(|r| r.name.eq_ignore_root_case(&owner))
                .filter_map(|r| match &r.data {
                    RData::CAA(caa) => Some(CaaRecord {
                        flags: caa.flags(),
                        tag: CaaTag::parse(&caa.tag),
                        value: String::from_utf8_lossy(&caa.value).into_owned(),
                    }),
                    _ => None,
                })
                .collect();
            if !records.is_empty() {
                return Ok(Some(CaaSet {
                    name: name_text(name),
                    owner: name_text(&owner),
                    records,
                }));
            }
            let alias = response.answers.iter().find_map(|r| match &r.data {
                RData::CNAME(target) if r.name.eq_ignore_root_case(&owner) => {
                    Some(fqdn_name(target.0.to_lowercase()))
                }
                _ => None,
            });
            match alias {
                Some(target) => owner = target,
                None => break,
            }
        }
        if owner == current || rcode == ResponseCode::NXDomain {
            // No alias, or one to a name that does not exist: no records at this level.
            return Ok(None);
        }
        // The answer ended at an alias target without its records: ask there.
        seen.remove(&owner);
        current = owner;
    }
    Err(DnsError::Rejected(format!(
        "CNAME chain at {} is longer than {MAX_CNAME_HOPS}",
        name_text(name)
    )))
}
