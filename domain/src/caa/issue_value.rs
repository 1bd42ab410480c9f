//! The value of an `issue` or `issuewild` property (RFC 8659 §4.2):
//!
//! ```text
//! issue-value = *WSP [issuer-domain-name *WSP] [";" *WSP [parameters *WSP]]
//! parameters  = (parameter *WSP ";" *WSP parameters) / parameter
//! parameter   = tag *WSP "=" *WSP value
//! value       = *(%x21-3A / %x3C-7E)
//! ```

/// An `issue`/`issuewild` value taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueValue {
    /// The issuer domain name, lower-case; `None` for a value without one (`";"`), which
    /// authorizes no CA at all.
    pub issuer: Option<String>,
    /// The parameters in order, tags lower-cased (RFC 8657 defines `accounturi` and
    /// `validationmethods`; CAs ignore the ones they do not know).
    pub parameters: Vec<(String, String)>,
}

impl IssueValue {
    /// Parses a value. Empty parameter slots (`"ca.example;"`, `"ca.example; ; a=b"`) are
    /// skipped rather than refused: a harmless slip in a record should not make this check
    /// stricter than a CA is. A malformed issuer or parameter is an error naming it.
    pub fn parse(value: &str) -> Result<Self, String> {
        let (issuer, rest) = match value.split_once(';') {
            Some((issuer, rest)) => (issuer, Some(rest)),
            None => (value, None),
        };
        let issuer = issuer.trim_matches(is_wsp);
        let issuer = if issuer.is_empty() {
            None
        } else {
            // A trailing dot is not in the grammar but is how zone files spell names; a CA
            // comparing names would not be misled by it either.
            let name = issuer.strip_suffix('.').unwrap_or(issuer);
            if !name.split('.').all(is_label) {
                return Err(format!("{issuer:?} is not an issuer domain name"));
            }
            Some(name.to_ascii_lowercase())
        };
        let mut parameters = Vec::new();
        for slot in rest.into_iter().flat_map(|rest| rest.split(';')) {
            let slot = slot.trim_matches(is_wsp);
            if slot.is_empty() {
                continue;
            }
            let (tag, value) = slot
                .split_once('=')
                .ok_or_else(|| format!("parameter {slot:?} has no '='"))?;
            let (tag, value) = (tag.trim_matches(is_wsp), value.trim_matches(is_wsp));
            if !is_label(tag) {
                return Err(format!("{tag:?} is not a parameter tag"));
            }
            if !value
                .bytes()
                .all(|b| (0x21..=0x7e).contains(&b) && b != b';')
            {
                return Err(format!(
                    "the value of parameter {tag} has spaces or controls"
                ));
            }
            parameters.push((tag.to_ascii_lowercase(), value.to_owned()));
        }
        Ok(Self { issuer, parameters })
    }

    /// The value of parameter `tag` (lower-case); an error when it is given more than once,
    /// since which one counts would be a guess (RFC 8657 §3 and §4 allow one of each).
    pub fn parameter(&self, tag: &str) -> Result<Option<&str>, String> {
        let mut found = self
            .parameters
            .iter()
            .filter(|(t, _)| t == tag)
            .map(|(_, v)| v.as_str());
        let first = found.next();
        if found.next().is_some() {
            return Err(format!("parameter {tag} is given more than once"));
        }
        Ok(first)
    }
}

/// WSP (RFC 5234): space or horizontal tab.
fn is_wsp(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// `label = (ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT))`: letters and digits, hyphens inside.
fn is_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(t, v)| ((*t).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn issuer_and_parameters() {
        // RFC 8659 §4.2's example, and RFC 8657's parameters.
        let value = IssueValue::parse("ca.example.net; account=230123").unwrap();
        assert_eq!(value.issuer.as_deref(), Some("ca.example.net"));
        assert_eq!(value.parameters, params(&[("account", "230123")]));
        let value = IssueValue::parse(
            " LetsEncrypt.org ;accounturi=https://acme.example/acct/1 ; validationmethods=dns-01,http-01",
        )
        .unwrap();
        assert_eq!(value.issuer.as_deref(), Some("letsencrypt.org"));
        assert_eq!(
            value.parameter("accounturi").unwrap(),
            Some("https://acme.example/acct/1")
        );
        assert_eq!(
            value.parameter("validationmethods").unwrap(),
            Some("dns-01,http-01")
        );
    }

    #[test]
    fn no_issuer_authorizes_nobody() {
        for text in [";", "", "  ;  ", "; a=b"] {
            assert_eq!(IssueValue::parse(text).unwrap().issuer, None, "{text:?}");
        }
    }

    #[test]
    fn malformed_values_are_errors() {
        for text in [
            "ca example",
            "-ca.example",
            "ca..example",
            "ca.example; a",
            "ca.example; a b=c",
            "ca.example; a=b c",
        ] {
            assert!(IssueValue::parse(text).is_err(), "{text:?}");
        }
        let twice = IssueValue::parse("ca.example; accounturi=a; accounturi=b").unwrap();
        assert!(twice.parameter("accounturi").is_err());
    }

    #[test]
    fn empty_slots_and_trailing_dots_are_tolerated() {
        let value = IssueValue::parse("ca.example.; ; a=b;").unwrap();
        assert_eq!(value.issuer.as_deref(), Some("ca.example"));
        assert_eq!(value.parameters, params(&[("a", "b")]));
    }
}
