//! DNS name handling the cloud providers share: the forms their APIs want a record name in,
//! and the walk up the labels that finds the zone enclosing a name.

use super::DnsError;

/// Lower-case, no trailing dot.
pub(super) fn normalize(fqdn: &str) -> Result<String, DnsError> {
    let fqdn = fqdn.trim().trim_end_matches('.').to_ascii_lowercase();
    if fqdn.is_empty() {
        return Err(DnsError::Rejected("empty record name".into()));
    }
    Ok(fqdn)
}

/// `name` with the trailing dot the DNS APIs want.
pub(super) fn absolute(fqdn: &str) -> String {
    format!("{}.", fqdn.trim_end_matches('.').to_ascii_lowercase())
}

/// The record name relative to its zone, `@` at the apex.
pub(super) fn relative_name(fqdn: &str, zone: &str) -> String {
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
pub(super) fn zone_candidates(fqdn: &str) -> Vec<&str> {
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
