//! DNS names: where a domain's dns-01 value goes ([`challenge_name`]), and what the cloud
//! providers share: the forms their APIs want a record name in, and the walk up the labels that
//! finds the zone enclosing a name.

use crate::error::DnsError;

/// The name a dns-01 TXT record for `domain` goes under (RFC 8555 §8.4):
/// `_acme-challenge.<domain>`, with a leading `*.` removed: the authorization of a wildcard names
/// its base domain (RFC 8555 §7.1.4), so an apex and its wildcard share one name, each with its
/// own value.
pub fn challenge_name(domain: &str) -> String {
    let base = domain.trim_start_matches("*.");
    format!("_acme-challenge.{base}")
}

/// Lower-case, no trailing dot.
pub(crate) fn normalize(fqdn: &str) -> Result<String, DnsError> {
    let fqdn = fqdn.trim().trim_end_matches('.').to_ascii_lowercase();
    if fqdn.is_empty() {
        return Err(DnsError::Rejected("empty record name".into()));
    }
    Ok(fqdn)
}

/// `name` with the trailing dot the DNS APIs want.
pub(crate) fn absolute(fqdn: &str) -> String {
    format!("{}.", fqdn.trim_end_matches('.').to_ascii_lowercase())
}

/// Whether `fqdn` is `zone` or a name below it (both lower-case, no trailing dot).
pub(crate) fn in_zone(fqdn: &str, zone: &str) -> bool {
    fqdn == zone
        || fqdn
            .strip_suffix(zone)
            .is_some_and(|prefix| prefix.ends_with('.'))
}

/// The record name relative to its zone, `@` at the apex.
pub(crate) fn relative_name(fqdn: &str, zone: &str) -> String {
    if fqdn == zone {
        return "@".to_owned();
    }
    fqdn.strip_suffix(zone)
        .and_then(|s| s.strip_suffix('.'))
        .unwrap_or(fqdn)
        .to_owned()
}

/// The names that may be the zone of `fqdn`, closest first: `fqdn` itself, then each parent
/// with at least two labels (a delegated `_acme-challenge.<name>` zone is its own apex).
pub(crate) fn zone_candidates(fqdn: &str) -> Vec<&str> {
    let mut out = vec![fqdn];
    for (i, c) in fqdn.char_indices() {
        if c == '.' {
            let parent = &fqdn[i + 1..];
            if parent.contains('.') {
                out.push(parent);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_names_drop_the_wildcard_label() {
        assert_eq!(
            challenge_name("www.example.test"),
            "_acme-challenge.www.example.test"
        );
        assert_eq!(
            challenge_name("*.example.test"),
            "_acme-challenge.example.test"
        );
        assert_eq!(
            challenge_name("example.test"),
            "_acme-challenge.example.test"
        );
    }

    #[test]
    fn candidates_walk_up_to_two_labels() {
        assert_eq!(
            zone_candidates("_acme-challenge.a.example.com"),
            vec![
                "_acme-challenge.a.example.com",
                "a.example.com",
                "example.com"
            ]
        );
    }

    #[test]
    fn relative_names() {
        assert_eq!(
            relative_name("_acme-challenge.a.example.com", "example.com"),
            "_acme-challenge.a"
        );
        assert_eq!(
            relative_name("_acme-challenge.www.example.com", "example.com"),
            "_acme-challenge.www"
        );
        assert_eq!(relative_name("example.com", "example.com"), "@");
    }

    #[test]
    fn absolute_names_get_one_dot() {
        assert_eq!(
            absolute("_acme-challenge.Example.test"),
            "_acme-challenge.example.test."
        );
        assert_eq!(absolute("a.test."), "a.test.");
    }
}
