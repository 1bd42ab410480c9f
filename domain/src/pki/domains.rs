//! The DNS names an order asks for, in the one spelling the CA, the CSR and the store share.
//!
//! ACME identifiers of type `dns` carry the ASCII (A-label) form of a name
//! ([RFC 8555 §7.1.4](https://www.rfc-editor.org/rfc/rfc8555#section-7.1.4)), so Unicode names
//! are mapped with UTS 46 before anything is compared, and a name can only be refused once, here,
//! with a message saying which name and why.

use std::collections::HashSet;
use std::net::IpAddr;

use crate::{Error, Result};

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
///
/// A wildcard is allowed only as the whole leftmost label (`*.example.com`,
/// [RFC 8555 §7.1.3](https://www.rfc-editor.org/rfc/rfc8555#section-7.1.3)) and only when
/// `allow_wildcards` is set, because CAs validate wildcards with dns-01 alone
/// ([RFC 8555 §8.4](https://www.rfc-editor.org/rfc/rfc8555#section-8.4)).
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
        let name = normalize_domain(raw, allow_wildcards)?;
        if !seen.insert(name.clone()) {
            return Err(Error::invalid(
                "domains",
                format!("{name:?} appears more than once (after normalisation of {raw:?})"),
            ));
        }
        out.push(name);
    }
    Ok(out)
}

/// Normalises and checks one name; see [`normalize_domains`].
fn normalize_domain(raw: &str, allow_wildcards: bool) -> Result<String> {
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
    if unbracketed.parse::<IpAddr>().is_ok() {
        return Err(invalid(format!(
            "{raw:?} is an IP address: IP identifiers (RFC 8738) are not supported, only DNS names"
        )));
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
    if wildcard && !allow_wildcards {
        return Err(invalid(format!(
            "`{name}` is a wildcard: wildcards need challenge_type dns-01 (RFC 8555 §7.1.3)"
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
            "{raw:?} ends in an all-numeric label, like an IP address: IP identifiers (RFC 8738) are not supported"
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
    fn ip_addresses_are_refused() {
        for ip in [
            "192.0.2.1",
            "2001:db8::1",
            "[2001:db8::1]",
            "::1",
            "10.0.0.1.",
        ] {
            let msg = refusal(&[ip], false);
            assert!(msg.contains("RFC 8738"), "{ip}: {msg}");
            assert!(msg.contains(&format!("{ip:?}")), "{msg}");
        }
        assert!(refusal(&["1.2.3"], false).contains("all-numeric"));
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
