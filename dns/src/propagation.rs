//! The dns-01 propagation check (RFC 8555 §8.4): before telling the CA that a challenge is ready,
//! wait until every authoritative nameserver of the record's zone serves the TXT value.
//!
//! A CA validates by asking the zone's authoritative nameservers (through its own resolver, with
//! no cache of ours in between), and it may ask any of them. A record accepted by the primary is
//! not yet served by secondaries that have not transferred the zone, so a check against one
//! server or a caching resolver would say "ready" too early and the authorization would fail.
//! Hence: find the zone through the configured recursive resolvers (SOA walk), its NS names and
//! their addresses, then query each address directly on port 53 with RD=0. The queries go
//! through [`crate::dns_client`].

use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::task::JoinSet;

use crate::dns_client::{
    ExchangeError, fqdn_name, name_text, parse_name, query, soa_walk, txt_values,
};
use crate::error::DnsError;

/// The port authoritative nameservers answer on; a CA asks them there, and so do we.
const AUTHORITATIVE_PORT: u16 = 53;
/// How long one query to a resolver or nameserver may take before it is retried.
const QUERY_TIMEOUT: Duration = Duration::from_secs(3);
/// UDP tries per query (RFC 1035 §4.2.1: UDP is unreliable, the client retransmits).
const QUERY_ATTEMPTS: u32 = 2;
/// A CNAME chain longer than this is treated as a loop.
const MAX_CNAME_HOPS: usize = 16;

/// A zone and its authoritative nameservers: `(NS name, its IPv4 and IPv6 addresses)`. Names are
/// lower-case without a trailing dot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    pub name: String,
    pub nameservers: Vec<(String, Vec<IpAddr>)>,
}

/// Finds where a challenge record goes and waits until the zone's nameservers all serve it.
#[derive(Debug, Clone)]
pub struct Propagation {
    resolvers: Vec<SocketAddr>,
    timeout: Duration,
    interval: Duration,
}

impl Propagation {
    /// `resolvers` are recursive resolvers (any port), asked for the zone, its NS and their
    /// addresses; empty means the system's, the `nameserver` lines of `/etc/resolv.conf`.
    /// `timeout` bounds [`Propagation::wait_for`], which polls every `interval`.
    pub fn new(resolvers: Vec<SocketAddr>, timeout: Duration, interval: Duration) -> Self {
        Self {
            resolvers,
            timeout,
            interval,
        }
    }

    /// The longest [`Propagation::wait_for`] waits.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Where to write the TXT for `fqdn` (`_acme-challenge.<domain>`): follows a CNAME chain at
    /// fqdn through the resolvers (CNAME delegation: the CA follows it too, RFC 8555 §8.4 leaves
    /// resolution to ordinary DNS), returning the final name (lower-case, no trailing dot), or
    /// fqdn itself when there is none.
    ///
    /// Each hop asks for type CNAME, so a resolver answers with the alias itself rather than
    /// chasing it; a loop or an overlong chain is an error.
    pub async fn challenge_target(&self, fqdn: &str) -> Result<String, DnsError> {
        let resolvers = self.resolvers()?;
        let mut current = parse_name(fqdn)?;
        let mut seen = BTreeSet::new();
        for _ in 0..MAX_CNAME_HOPS {
            if !seen.insert(current.clone()) {
                return Err(DnsError::Rejected(format!(
                    "CNAME loop at {}",
                    name_text(&current)
                )));
            }
            let response = resolve(&resolvers, &current, RecordType::CNAME).await?;
            let rcode = response.metadata.response_code;
            if rcode != ResponseCode::NoError && rcode != ResponseCode::NXDomain {
                // Not knowing whether there is an alias is not "no alias": the record would be
                // written where the CA does not look.
                return Err(DnsError::Server(format!(
                    "the resolvers answered {rcode} for CNAME {}",
                    name_text(&current)
                )));
            }
            let next = response.answers.iter().find_map(|r| match &r.data {
                RData::CNAME(target) if r.name.eq_ignore_root_case(&current) => {
                    Some(target.0.to_lowercase())
                }
                _ => None,
            });
            match next {
                Some(target) => current = fqdn_name(target),
                None => return Ok(name_text(&current)),
            }
        }
        Err(DnsError::Rejected(format!(
            "CNAME chain at {fqdn} is longer than {MAX_CNAME_HOPS}"
        )))
    }

    /// The zone of `fqdn`: SOA walk through the resolvers (RD=1), its NS names, and their
    /// IPv4/IPv6 addresses (resolved through the resolvers).
    ///
    /// The walk asks for the SOA of fqdn, then of each parent: the zone is the owner of an SOA in
    /// the answer (fqdn is the apex) or in the authority section of a negative answer (RFC 2308
    /// §3), provided it is fqdn or one of its ancestors.
    pub async fn find_zone(&self, fqdn: &str) -> Result<Zone, DnsError> {
        let resolvers = self.resolvers()?;
        let name = parse_name(fqdn)?;
        let zone = soa_walk(&name, |candidate| {
            let resolvers = resolvers.clone();
            async move { resolve(&resolvers, &candidate, RecordType::SOA).await }
        })
        .await?
        .ok_or_else(|| DnsError::Rejected(format!("no zone (SOA) found for {fqdn}")))?;

        let ns_response = resolve(&resolvers, &zone, RecordType::NS).await?;
        // Sorted, so the result (and an error naming nameservers) does not depend on the
        // resolver's RRset rotation.
        let mut ns_names: Vec<Name> = Vec::new();
        for record in &ns_response.answers {
            if let RData::NS(ns) = &record.data
                && record.name.eq_ignore_root_case(&zone)
            {
                let ns = fqdn_name(ns.0.to_lowercase());
                if !ns_names.contains(&ns) {
                    ns_names.push(ns);
                }
            }
        }
        ns_names.sort();
        if ns_names.is_empty() {
            return Err(DnsError::Rejected(format!(
                "zone {} has no NS records ({})",
                name_text(&zone),
                ns_response.metadata.response_code
            )));
        }

        let mut nameservers = Vec::with_capacity(ns_names.len());
        for ns in ns_names {
            let mut addrs = BTreeSet::new();
            // Glue or additional data the resolver volunteered, then the addresses themselves.
            addrs.extend(addresses_of(&ns_response.additionals, Some(&ns)));
            for rtype in [RecordType::A, RecordType::AAAA] {
                let response = resolve(&resolvers, &ns, rtype).await?;
                // Any owner: a resolver may have chased a CNAME to the address records.
                addrs.extend(addresses_of(&response.answers, None));
            }
            nameservers.push((name_text(&ns), addrs.into_iter().collect()));
        }
        Ok(Zone {
            name: name_text(&zone),
            nameservers,
        })
    }

    /// Polls every authoritative nameserver of fqdn's zone directly (RD=0, port 53, no cache)
    /// every `interval` until each serves `value` in the TXT RRset at fqdn; on timeout returns
    /// [`DnsError::NotPropagated`] naming the nameservers (name and address) that lacked it, and
    /// what they answered. Returns how long it took.
    ///
    /// Every address of every nameserver is checked, since a CA may ask any of them. An address
    /// this host cannot send to at all (e.g. IPv6 on an IPv4-only host) is skipped as long as the
    /// same nameserver has another address that can be checked. A nameserver with no address is
    /// skipped with a warning; none at all is an error.
    pub async fn wait_for(&self, fqdn: &str, value: &str) -> Result<Duration, DnsError> {
        let start = Instant::now();
        let deadline = start + self.timeout;
        let name = parse_name(fqdn)?;
        let zone = self.find_zone(fqdn).await?;

        let mut pending: Vec<Target> = Vec::new();
        for (ns, addrs) in &zone.nameservers {
            if addrs.is_empty() {
                tracing::warn!(nameserver = %ns, zone = %zone.name, "nameserver has no address; not checked");
            }
            pending.extend(addrs.iter().map(|ip| Target {
                ns: ns.clone(),
                addr: SocketAddr::new(*ip, AUTHORITATIVE_PORT),
                last: Status::NotAsked,
            }));
        }
        if pending.is_empty() {
            return Err(DnsError::Server(format!(
                "no nameserver of zone {} has an address",
                zone.name
            )));
        }

        let mut unreachable = BTreeSet::new();
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let attempt_timeout = remaining.clamp(Duration::from_millis(200), QUERY_TIMEOUT);
            let mut checks = JoinSet::new();
            for (index, target) in pending.iter().enumerate() {
                let (addr, name, value) = (target.addr, name.clone(), value.to_owned());
                checks.spawn(async move {
                    (index, check_txt(addr, &name, &value, attempt_timeout).await)
                });
            }
            while let Some(joined) = checks.join_next().await {
                let (index, status) = joined
                    .map_err(|e| DnsError::Server(format!("propagation check task failed: {e}")))?;
                pending[index].last = status;
            }
            pending.retain(|t| t.last != Status::Served);
            drop_unreachable_alternatives(&mut pending, &zone, &mut unreachable);
            if pending.is_empty() {
                return Ok(start.elapsed());
            }
            let now = Instant::now();
            if now >= deadline {
                let lacking: Vec<String> = pending.iter().map(ToString::to_string).collect();
                return Err(DnsError::NotPropagated(format!(
                    "the TXT record at {} was not served by every authoritative nameserver of \
                     zone {} after {:?}; lacking: {}",
                    name_text(&name),
                    zone.name,
                    self.timeout,
                    lacking.join("; ")
                )));
            }
            tokio::time::sleep(self.interval.min(deadline - now)).await;
        }
    }

    pub(crate) fn resolvers(&self) -> Result<Vec<SocketAddr>, DnsError> {
        if !self.resolvers.is_empty() {
            return Ok(self.resolvers.clone());
        }
        let text = std::fs::read_to_string("/etc/resolv.conf").map_err(|e| {
            DnsError::Config(format!(
                "no [dns] resolvers configured and /etc/resolv.conf is unreadable: {e}"
            ))
        })?;
        let system = system_resolvers(&text);
        if system.is_empty() {
            return Err(DnsError::Config(
                "no [dns] resolvers configured and /etc/resolv.conf lists no nameserver".into(),
            ));
        }
        Ok(system)
    }
}

/// One address of one authoritative nameserver still to serve the value.
struct Target {
    ns: String,
    addr: SocketAddr,
    last: Status,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.ns, self.addr.ip(), self.last)
    }
}

/// What one nameserver address said in the latest poll.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Status {
    NotAsked,
    Served,
    /// It answered, without the value (`NXDOMAIN`, other values, ...).
    Lacking(String),
    /// Asking failed (timeout, refused, malformed answer).
    Failed(String),
    /// This host cannot send to the address at all.
    Unreachable(String),
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::NotAsked => f.write_str("not asked yet"),
            Status::Served => f.write_str("serves it"),
            Status::Lacking(why) => write!(f, "answered {why}"),
            Status::Failed(why) => write!(f, "no answer: {why}"),
            Status::Unreachable(why) => write!(f, "unreachable from here: {why}"),
        }
    }
}

/// Removes addresses this host cannot send to when their nameserver has another address that is
/// reachable (served already or still being asked), so a missing IPv6 route does not block
/// issuance while an IPv4 address of the same server shows the record. `unreachable` collects
/// such addresses across polls, so a skipped address never counts as the alternative.
fn drop_unreachable_alternatives(
    pending: &mut Vec<Target>,
    zone: &Zone,
    unreachable: &mut BTreeSet<(String, IpAddr)>,
) {
    for t in pending.iter() {
        if matches!(t.last, Status::Unreachable(_)) {
            unreachable.insert((t.ns.clone(), t.addr.ip()));
        }
    }
    let has_alternative = |ns: &str| {
        zone.nameservers
            .iter()
            .filter(|(n, _)| n == ns)
            .flat_map(|(_, ips)| ips.iter())
            .any(|ip| !unreachable.contains(&(ns.to_owned(), *ip)))
    };
    pending.retain(|t| {
        let skip = matches!(t.last, Status::Unreachable(_)) && has_alternative(&t.ns);
        if skip {
            tracing::warn!(nameserver = %t.ns, addr = %t.addr, status = %t.last, "address skipped");
        }
        !skip
    });
}

/// Asks one authoritative address (RD=0) for the TXT RRset at `name`.
async fn check_txt(addr: SocketAddr, name: &Name, value: &str, timeout: Duration) -> Status {
    let response = match query(addr, name, RecordType::TXT, false, timeout, 1).await {
        Ok(response) => response,
        Err(ExchangeError::Unreachable(why)) => return Status::Unreachable(why),
        Err(e) => return Status::Failed(e.to_string()),
    };
    let rcode = response.metadata.response_code;
    if rcode != ResponseCode::NoError {
        return Status::Lacking(rcode.to_string());
    }
    let values = txt_values(&response, name);
    if values.iter().any(|v| v == value) {
        Status::Served
    } else if values.is_empty() {
        Status::Lacking("no TXT record".into())
    } else {
        Status::Lacking(format!("only other values ({})", values.len()))
    }
}

fn addresses_of<'a>(
    records: &'a [Record],
    owner: Option<&'a Name>,
) -> impl Iterator<Item = IpAddr> + 'a {
    records
        .iter()
        .filter(move |r| owner.is_none_or(|o| r.name.eq_ignore_root_case(o)))
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
            _ => None,
        })
}

/// Asks the resolvers in turn (RD=1) until one answers NOERROR or NXDOMAIN; when none does,
/// the last answer (e.g. SERVFAIL, REFUSED) is returned for the caller to judge, and when none
/// answers at all, a [`DnsError::Transport`] naming them.
pub(crate) async fn resolve(
    resolvers: &[SocketAddr],
    name: &Name,
    rtype: RecordType,
) -> Result<Message, DnsError> {
    let mut last_answer = None;
    let mut failures = Vec::new();
    for resolver in resolvers {
        match query(*resolver, name, rtype, true, QUERY_TIMEOUT, QUERY_ATTEMPTS).await {
            Ok(response) => {
                let rcode = response.metadata.response_code;
                if rcode == ResponseCode::NoError || rcode == ResponseCode::NXDomain {
                    return Ok(response);
                }
                last_answer = Some(response);
            }
            Err(e) => failures.push(format!("{resolver}: {e}")),
        }
    }
    last_answer.ok_or_else(|| {
        DnsError::Transport(format!(
            "no resolver answered {rtype} {}: {}",
            name_text(name),
            failures.join("; ")
        ))
    })
}

/// The `nameserver` lines of a resolv.conf (resolv.conf(5)), on port 53; IPv6 link-local zone
/// suffixes (`%eth0`) are not supported and such lines are skipped.
fn system_resolvers(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("nameserver")).then(|| words.next())?
        })
        .filter_map(|addr| addr.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_nameservers() {
        let text = "# comment\nsearch example\nnameserver 10.0.0.2\nnameserver ::1\n\
                    nameserver fe80::1%eth0\noptions ndots:1\n";
        assert_eq!(
            system_resolvers(text),
            vec![
                "10.0.0.2:53".parse::<SocketAddr>().unwrap(),
                "[::1]:53".parse().unwrap()
            ]
        );
    }
}
