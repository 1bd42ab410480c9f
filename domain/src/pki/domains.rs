//! The names an order asks for — DNS names and IP addresses — in the one spelling the CA, the
//! CSR and the store share.
//!
//! ACME identifiers of type `dns` carry the ASCII (A-label) form of a name
//! ([RFC 8555 §7.1.4](https://www.rfc-editor.org/rfc/rfc8555#section-7.1.4)), so Unicode names
//! are mapped with UTS 46 before anything is compared, and a name can only be refused once, here,
//! with a message saying which name and why. Identifiers of type `ip`
//! ([RFC 8738 §3](https://www.rfc-editor.org/rfc/rfc8738#section-3)) carry an address in its
//! canonical text form (RFC 5952 for IPv6), so `0:0::1` and `::1` are the same identifier.
//!
//! The order's `domains` stay a list of strings (the API's and the store's shape); an
//! [`Identifier`] is what a normalised entry means, recovered wherever the kind matters (the CA
//! order, the CSR, the tls-alpn-01 responder, the rate ledger).

use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;

use crate::order::ChallengeType;
use crate::{Error, Result};

/// What one normalised entry of an order's `domains` identifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identifier {
    /// A DNS name in ASCII, lower-case, perhaps a wildcard (`*.example.com`).
    Dns(String),
    /// An IP address ([RFC 8738](https://www.rfc-editor.org/rfc/rfc8738)).
    Ip(IpAddr),
}

impl Identifier {
    /// The identifier a name already put through [`normalize_domains`] stands for: an address
    /// when it parses as one (normalisation wrote it in canonical form), else a DNS name.
    pub fn of(normalized: &str) -> Self {
        match normalized.parse::<IpAddr>() {
            Ok(ip) => Self::Ip(ip),
            Err(_) => Self::Dns(normalized.to_owned()),
        }
    }

    /// Whether this is an IP address.
    pub const fn is_ip(&self) -> bool {
        matches!(self, Self::Ip(_))
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dns(name) => f.write_str(name),
            // `IpAddr`'s Display is the canonical form (RFC 5952 §4 for IPv6).
            Self::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// The reverse-mapping name of an address
/// ([RFC 8738 §6](https://www.rfc-editor.org/rfc/rfc8738#section-6)): the SNI a tls-alpn-01
/// validator sends for an IP identifier, since SNI cannot carry an address
/// ([RFC 6066 §3](https://www.rfc-editor.org/rfc/rfc6066#section-3)). `127.0.0.1` is
/// `1.0.0.127.in-addr.arpa`; an IPv6 address is its 32 nibbles reversed under `ip6.arpa`.
pub fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.in-addr.arpa")
        }
        IpAddr::V6(v6) => {
            let mut labels = Vec::with_capacity(33);
            for byte in v6.octets().iter().rev() {
                labels.push(format!("{:x}", byte & 0x0f));
                labels.push(format!("{:x}", byte >> 4));
            }
            labels.push("ip6.arpa".to_owned());
            labels.join(".")
        }
    }
}

/// The address a reverse-mapping name stands for, the inverse of [`reverse_name`]; `None` for
/// any other name (case-insensitive, a trailing dot allowed). Only the full form is accepted
/// (4 decimal labels, or 32 hex nibbles): a shorter name is a network, not an address.
pub fn ip_from_reverse_name(name: &str) -> Option<IpAddr> {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if let Some(rest) = name.strip_suffix(".in-addr.arpa") {
        let labels: Vec<&str> = rest.split('.').collect();
        if labels.len() != 4 {
            return None;
        }
        let mut octets = [0u8; 4];
        for (slot, label) in octets.iter_mut().zip(labels.iter().rev()) {
            // Leading zeros or signs would make two names for one address.
            if label.is_empty()
                || (label.len() > 1 && label.starts_with('0'))
                || !label.bytes().all(|b| b.is_ascii_digit())
            {
                return None;
            }
            *slot = label.parse().ok()?;
        }
        return Some(IpAddr::from(octets));
    }
    let rest = name.strip_suffix(".ip6.arpa")?;
    let nibbles: Vec<&str> = rest.split('.').collect();
    if nibbles.len() != 32 {
        return None;
    }
    let mut octets = [0u8; 16];
    for (i, nibble) in nibbles.iter().rev().enumerate() {
        if nibble.len() != 1 {
            return None;
        }
        let value = u8::from_str_radix(nibble, 16).ok()?;
        let slot = octets.get_mut(i / 2)?;
        *slot |= if i % 2 == 0 { value << 4 } else { value };
    }
    Some(IpAddr::from(octets))
}

/// Refuses an order whose names the challenge type cannot validate: an IP address has no DNS
/// zone to hold a TXT record, so dns-01 cannot prove control of it
/// ([RFC 8738 §7](https://www.rfc-editor.org/rfc/rfc8738#section-7)); http-01 and tls-alpn-01
/// can. Checked before anything else is asked (the DNS provider choice, the CA).
pub fn check_challenge_type(domains: &[String], challenge_type: ChallengeType) -> Result<()> {
    if challenge_type != ChallengeType::Dns01 {
        return Ok(());
    }
    match domains.iter().find(|name| Identifier::of(name).is_ip()) {
        Some(ip) => Err(Error::invalid(
            "challenge_type",
            format!(
                "{ip:?} is an IP address: IP identifiers (RFC 8738) are validated by http-01 or tls-alpn-01, never dns-01"
            ),
        )),
        None => Ok(()),
    }
}

/// Most names one order may carry; Let's Encrypt's limit, and the API's (`domains`: 1..100).
pub const MAX_DOMAINS: usize = 100;

/// Longest name in octets, without the trailing dot
/// ([RFC 1035 §2.3.4](https://www.rfc-editor.org/rfc/rfc1035#section-2.3.4)).
const MAX_NAME_LEN: usize = 253;

/// Longest label in octets ([RFC 1035 §2.3.4](https://www.rfc-editor.org/rfc/rfc1035#section-2.3.4)).
const MAX_LABEL_LEN: usize = 63;

/// Normalises the names of an order: each is trimmed, loses a trailing dot, is mapped to ASCII
/// with IDNA (UTS 46) and lower-cased, then checked against the host name rules of
/// [RFC 1123 §2.1](https://www.rfc-editor.org/rfc/rfc1123#section-2.1). Order is preserved.
/// An IPv4 or IPv6 address (IPv6 perhaps in brackets, `[::1]`) is an IP identifier
/// ([RFC 8738](https://www.rfc-editor.org/rfc/rfc8738)) and is written in its canonical text form
/// (`2001:DB8:0::1` becomes `2001:db8::1`).
///
/// A wildcard is allowed only as the whole leftmost label (`*.example.com`,
/// [RFC 8555 §7.1.3](https://www.rfc-editor.org/rfc/rfc8555#section-7.1.3)) and only when
/// `allow_wildcards` is set, because CAs validate wildcards with dns-01 alone
/// ([RFC 8555 §8.4](https://www.rfc-editor.org/rfc/rfc8555#section-8.4)); for the same reason a
/// wildcard and an IP address never share an order.
pub fn normalize_domains(input: &[String], allow_wildcards: bool) -> Result<Vec<String>> {
    if input.is_empty() || input.len() > MAX_DOMAINS {
        return Err(Error::invalid(
            "domains",
            format!(
                "an order has 1 to {MAX_DOMAINS} domains, got {}",
                input.len()
            ),
        ));
    }
    let mut seen = HashSet::with_capacity(input.len());
    let mut out = Vec::with_capacity(input.len());
    for raw in input {
        let name = normalize_domain(raw)?;
        if !seen.insert(name.clone()) {
            return Err(Error::invalid(
                "domains",
                format!("{name:?} appears more than once (after normalisation of {raw:?})"),
            ));
        }
        out.push(name);
    }
    let wildcard = out.iter().find(|name| name.starts_with("*."));
    // A wildcard needs dns-01 and an address cannot have it, so no challenge type could
    // validate such an order: say so rather than blame one of the two.
    if let (Some(wildcard), Some(ip)) = (
        wildcard,
        out.iter().find(|name| Identifier::of(name).is_ip()),
    ) {
        return Err(Error::invalid(
            "domains",
            format!(
                "`{wildcard}` is a wildcard and {ip:?} an IP address: wildcards need dns-01 and IP addresses cannot use it (RFC 8738 §7), so they cannot be in one order"
            ),
        ));
    }
    if let Some(name) = wildcard
        && !allow_wildcards
    {
        return Err(Error::invalid(
            "domains",
            format!(
                "`{name}` is a wildcard: wildcards need challenge_type dns-01 (RFC 8555 §7.1.3)"
            ),
        ));
    }
    Ok(out)
}

/// Normalises and checks one name or address; see [`normalize_domains`].
fn normalize_domain(raw: &str) -> Result<String> {
    let invalid = |message: String| Error::invalid("domains", message);
    let trimmed = raw.trim();
    let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
    if trimmed.is_empty() {
        return Err(invalid(format!(
            "{raw:?} is empty: a domain name is needed"
        )));
    }
    let unbracketed = trimmed
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(trimmed);
    if let Ok(ip) = unbracketed.parse::<IpAddr>() {
        // The canonical text form (RFC 5952 for IPv6: lower-case, `::` for the longest run of
        // zeros), so one address has one spelling in the order, the CSR and the store.
        return Ok(ip.to_string());
    }
    let (wildcard, base) = match trimmed.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    if base.contains('*') {
        return Err(invalid(format!(
            "{raw:?}: a wildcard must be the whole leftmost label, as in *.example.com (RFC 8555 §7.1.3)"
        )));
    }
    let ascii = idna::domain_to_ascii_cow(base.as_bytes(), idna::AsciiDenyList::EMPTY)
        .map_err(|_| {
            invalid(format!(
                "{raw:?} is not a valid internationalised domain name (UTS 46)"
            ))
        })?
        .to_ascii_lowercase();
    check_host_name(raw, &ascii)?;
    let name = if wildcard {
        format!("*.{ascii}")
    } else {
        ascii
    };
    if name.len() > MAX_NAME_LEN {
        return Err(invalid(format!(
            "{raw:?} is {} octets long; a domain name has at most {MAX_NAME_LEN}",
            name.len()
        )));
    }
    Ok(name)
}

/// Checks an ASCII, lower-cased name (without any wildcard label) against the LDH rules.
fn check_host_name(raw: &str, ascii: &str) -> Result<()> {
    let invalid = |message: String| Error::invalid("domains", message);
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return Err(invalid(format!(
            "{raw:?} has a single label: a certificate needs a fully qualified name such as example.com"
        )));
    }
    for label in &labels {
        if label.is_empty() {
            return Err(invalid(format!("{raw:?} has an empty label")));
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(invalid(format!(
                "{raw:?}: label {label:?} is {} octets long; a label has at most {MAX_LABEL_LEN}",
                label.len()
            )));
        }
        if let Some(bad) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(invalid(format!(
                "{raw:?}: label {label:?} contains {bad:?}; labels hold letters, digits and hyphens"
            )));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(invalid(format!(
                "{raw:?}: label {label:?} starts or ends with a hyphen"
            )));
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(invalid(format!(
            "{raw:?} ends in an all-numeric label but is not an IP address (IPv4 as in 192.0.2.1, IPv6 as in 2001:db8::1)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    fn refusal(input: &[&str], allow_wildcards: bool) -> String {
        match normalize_domains(&names(input), allow_wildcards).unwrap_err() {
            Error::Invalid { field, message } => {
                assert_eq!(field, "domains");
                message
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn names_are_normalised_in_order() {
        let table = [
            ("example.com", "example.com"),
            ("  WWW.Example.COM.  ", "www.example.com"),
            ("Bücher.example", "xn--bcher-kva.example"),
            ("XN--BCHER-KVA.example", "xn--bcher-kva.example"),
            ("ＥＸＡＭＰＬＥ。com", "example.com"),
            ("a-b.c0.example", "a-b.c0.example"),
            ("123.example.com", "123.example.com"),
        ];
        for (input, want) in table {
            assert_eq!(
                normalize_domains(&names(&[input]), false).unwrap(),
                vec![want.to_owned()],
                "input {input:?}"
            );
        }
        assert_eq!(
            normalize_domains(&names(&["b.example", "a.example", "*.A.example"]), true).unwrap(),
            names(&["b.example", "a.example", "*.a.example"])
        );
    }

    #[test]
    fn wildcards_only_as_leftmost_label_and_only_when_allowed() {
        assert_eq!(
            normalize_domains(&names(&["*.Example.test"]), true).unwrap(),
            names(&["*.example.test"])
        );
        let msg = refusal(&["*.example.test"], false);
        assert_eq!(
            msg,
            "`*.example.test` is a wildcard: wildcards need challenge_type dns-01 (RFC 8555 §7.1.3)"
        );
        for bad in [
            "foo.*.example.test",
            "*foo.example.test",
            "f*.example.test",
            "*.*.example.test",
            "*",
        ] {
            let msg = refusal(&[bad], true);
            assert!(msg.contains(&format!("{bad:?}")), "{msg}");
            assert!(
                msg.contains("whole leftmost label") || msg.contains("single label"),
                "{bad}: {msg}"
            );
        }
        // The name under the wildcard must itself be a full name.
        assert!(refusal(&["*.com"], true).contains("single label"));
    }

    #[test]
    fn duplicates_after_normalisation_are_refused() {
        let msg = refusal(&["example.com", "www.example.com", "EXAMPLE.com."], false);
        assert!(
            msg.contains("\"example.com\" appears more than once"),
            "{msg}"
        );
        assert!(msg.contains("EXAMPLE.com."), "{msg}");
        let msg = refusal(&["bücher.example", "xn--bcher-kva.example"], false);
        assert!(msg.contains("xn--bcher-kva.example"), "{msg}");
        // A wildcard and its base are different names.
        assert_eq!(
            normalize_domains(&names(&["*.example.com", "example.com"]), true)
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn the_count_is_bounded() {
        assert!(refusal(&[], false).contains("1 to 100 domains, got 0"));
        let many: Vec<String> = (0..MAX_DOMAINS + 1)
            .map(|i| format!("h{i}.example.com"))
            .collect();
        match normalize_domains(&many, false).unwrap_err() {
            Error::Invalid { message, .. } => assert!(message.contains("got 101"), "{message}"),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            normalize_domains(&many[..MAX_DOMAINS], false)
                .unwrap()
                .len(),
            100
        );
    }

    #[test]
    fn ip_addresses_are_normalised_to_their_canonical_form() {
        let table = [
            ("127.0.0.1", "127.0.0.1"),
            (" 192.0.2.1 ", "192.0.2.1"),
            ("10.0.0.1.", "10.0.0.1"),
            ("::1", "::1"),
            ("[::1]", "::1"),
            ("0:0:0:0:0:0:0:1", "::1"),
            ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
            (
                "2001:0db8:0000:0000:0001:0000:0000:0001",
                "2001:db8::1:0:0:1",
            ),
            ("[2001:db8::A]", "2001:db8::a"),
            ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
        ];
        for (input, want) in table {
            assert_eq!(
                normalize_domains(&names(&[input]), false).unwrap(),
                vec![want.to_owned()],
                "input {input:?}"
            );
        }
        assert_eq!(
            normalize_domains(&names(&["example.com", "127.0.0.1", "::1"]), false).unwrap(),
            names(&["example.com", "127.0.0.1", "::1"])
        );
        let msg = refusal(&["::1", "0::1"], false);
        assert!(msg.contains("\"::1\" appears more than once"), "{msg}");
        assert!(refusal(&["1.2.3"], false).contains("all-numeric"));
        assert!(refusal(&["1.2.3.256"], false).contains("all-numeric"));
        // A zone index is not part of an identifier (RFC 8738 §3).
        assert!(refusal(&["fe80::1%eth0"], false).contains("\"fe80::1%eth0\""));
    }

    #[test]
    fn identifiers_know_their_kind() {
        assert_eq!(
            Identifier::of("127.0.0.1"),
            Identifier::Ip(IpAddr::from([127, 0, 0, 1]))
        );
        assert!(Identifier::of("::1").is_ip());
        assert_eq!(
            Identifier::of("*.example.com"),
            Identifier::Dns("*.example.com".into())
        );
        assert_eq!(Identifier::of("2001:db8::1").to_string(), "2001:db8::1");
    }

    #[test]
    fn wildcards_and_ip_addresses_never_share_an_order() {
        for allow in [true, false] {
            let msg = refusal(&["*.example.com", "192.0.2.1"], allow);
            assert!(msg.contains("cannot be in one order"), "{msg}");
            assert!(
                msg.contains("*.example.com") && msg.contains("192.0.2.1"),
                "{msg}"
            );
        }
    }

    #[test]
    fn dns01_cannot_validate_ip_addresses() {
        let order = names(&["example.com", "2001:db8::1"]);
        for ok in [ChallengeType::Http01, ChallengeType::TlsAlpn01] {
            assert!(check_challenge_type(&order, ok).is_ok());
        }
        match check_challenge_type(&order, ChallengeType::Dns01).unwrap_err() {
            Error::Invalid { field, message } => {
                assert_eq!(field, "challenge_type");
                assert!(
                    message.contains("\"2001:db8::1\" is an IP address"),
                    "{message}"
                );
                assert!(message.contains("http-01 or tls-alpn-01"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(check_challenge_type(&names(&["*.example.com"]), ChallengeType::Dns01).is_ok());
    }

    #[test]
    fn reverse_names_follow_rfc_8738() {
        let table: [(IpAddr, &str); 3] = [
            (IpAddr::from([127, 0, 0, 1]), "1.0.0.127.in-addr.arpa"),
            (IpAddr::from([192, 0, 2, 10]), "10.2.0.192.in-addr.arpa"),
            (
                "::1".parse().unwrap(),
                "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa",
            ),
        ];
        for (ip, name) in table {
            assert_eq!(reverse_name(ip), name);
            assert_eq!(ip_from_reverse_name(name), Some(ip), "{name}");
            assert_eq!(
                ip_from_reverse_name(&format!("{}.", name.to_ascii_uppercase())),
                Some(ip)
            );
        }
        // RFC 8738 §6's own example.
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(
            reverse_name(v6),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
        );
        assert_eq!(ip_from_reverse_name(&reverse_name(v6)), Some(v6));
        for not_an_address in [
            "example.com",
            "0.127.in-addr.arpa",
            "1.0.0.127.in-addr.arpa.example",
            "01.0.0.127.in-addr.arpa",
            "256.0.0.127.in-addr.arpa",
            "1.0.ip6.arpa",
            "in-addr.arpa",
        ] {
            assert_eq!(
                ip_from_reverse_name(not_an_address),
                None,
                "{not_an_address}"
            );
        }
    }

    #[test]
    fn bad_labels_are_refused_naming_the_name() {
        let long_label = "a".repeat(64);
        let long_name = format!("{}.example", vec!["a".repeat(63); 4].join("."));
        let ok_label = format!("{}.example", "a".repeat(63));
        assert!(normalize_domains(&names(&[&ok_label]), false).is_ok());
        let table: Vec<(String, &str)> = vec![
            ("".into(), "empty"),
            ("  ".into(), "empty"),
            (".".into(), "empty"),
            ("localhost".into(), "single label"),
            ("a..example".into(), "empty label"),
            (".example.com".into(), "empty label"),
            ("-a.example".into(), "hyphen"),
            ("a-.example".into(), "hyphen"),
            ("a_b.example".into(), "contains '_'"),
            ("a b.example".into(), "'"),
            ("a/b.example".into(), "'/'"),
            (format!("{long_label}.example"), "at most 63"),
            (long_name.clone(), "at most 253"),
            ("xn--a.example".into(), "UTS 46"),
        ];
        for (input, why) in &table {
            let msg = refusal(&[input.as_str()], false);
            assert!(msg.contains(why), "{input:?}: {msg}");
            assert!(msg.contains(&format!("{input:?}")), "{input:?}: {msg}");
        }
    }
}
