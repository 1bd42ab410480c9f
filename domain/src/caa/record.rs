//! A CAA record (RFC 8659 §4.1) and the relevant RRset of a name (§3).

use std::fmt;

/// A property tag. Tags match case-insensitively (RFC 8659 §4.1); the ones a TLS CA knows are
/// named, any other is kept as found, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CaaTag {
    /// Who may issue certificates (RFC 8659 §4.2).
    Issue,
    /// Who may issue wildcard certificates (RFC 8659 §4.3).
    IssueWild,
    /// Where to report refused requests (RFC 8659 §4.4); no bearing on issuance.
    Iodef,
    /// Who may issue S/MIME certificates (RFC 9495): known, and no bearing on TLS issuance, so
    /// its critical flag does not forbid anything here.
    IssueMail,
    /// Any other tag: a CA that does not know it must refuse when it is flagged critical.
    Other(String),
}

impl CaaTag {
    /// The tag of a record as found in DNS.
    pub fn parse(tag: &str) -> Self {
        match tag.to_ascii_lowercase().as_str() {
            "issue" => CaaTag::Issue,
            "issuewild" => CaaTag::IssueWild,
            "iodef" => CaaTag::Iodef,
            "issuemail" => CaaTag::IssueMail,
            other => CaaTag::Other(other.to_owned()),
        }
    }

    /// The tag as written in a zone file.
    pub fn as_str(&self) -> &str {
        match self {
            CaaTag::Issue => "issue",
            CaaTag::IssueWild => "issuewild",
            CaaTag::Iodef => "iodef",
            CaaTag::IssueMail => "issuemail",
            CaaTag::Other(tag) => tag,
        }
    }
}

impl fmt::Display for CaaTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One CAA record's data: flags, tag, value (RFC 8659 §4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaaRecord {
    pub flags: u8,
    pub tag: CaaTag,
    /// The value as found; bytes that are not UTF-8 are replaced (they cannot name an issuer).
    pub value: String,
}

impl CaaRecord {
    /// A record with flags 0.
    pub fn new(tag: CaaTag, value: impl Into<String>) -> Self {
        Self {
            flags: 0,
            tag,
            value: value.into(),
        }
    }

    /// The Issuer Critical Flag, bit 0 of the flags octet, i.e. 128 (RFC 8659 §4.1).
    pub fn critical(&self) -> bool {
        self.flags & 0x80 != 0
    }
}

/// `0 issue "letsencrypt.org"`: the record's data in zone-file presentation (RFC 8659 §4.1.1),
/// the value quoted with `"` and `\` escaped and other non-printable bytes as `\DDD`.
impl fmt::Display for CaaRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} \"", self.flags, self.tag)?;
        for byte in self.value.bytes() {
            match byte {
                b'"' | b'\\' => write!(f, "\\{}", char::from(byte))?,
                0x20..=0x7e => write!(f, "{}", char::from(byte))?,
                _ => write!(f, "\\{byte:03}")?,
            }
        }
        f.write_str("\"")
    }
}

/// The relevant CAA RRset of a name (RFC 8659 §3): the first non-empty CAA RRset found at the
/// name or, failing that, at its parents in turn, CNAMEs followed as a resolver does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaaSet {
    /// Where the climb found it: the name itself or one of its parents (lower-case, no trailing
    /// dot).
    pub name: String,
    /// The owner of the records: `name`, or where a CNAME chain at `name` ended.
    pub owner: String,
    pub records: Vec<CaaRecord>,
}

impl CaaSet {
    /// `example.com. CAA 0 issue "letsencrypt.org"`: a record of the set as a zone-file line.
    pub fn line(&self, record: &CaaRecord) -> String {
        format!("{}. CAA {record}", self.owner)
    }

    /// Every record of the set as a zone-file line.
    pub fn lines(&self) -> Vec<String> {
        self.records.iter().map(|r| self.line(r)).collect()
    }

    /// Where the set is, for messages: `example.com`, or `www.example.com (CNAME to cdn.example.net)`.
    pub fn location(&self) -> String {
        if self.owner == self.name {
            self.name.clone()
        } else {
            format!("{} (CNAME to {})", self.name, self.owner)
        }
    }
}

/// The names whose CAA RRsets are looked at for `domain`, in order (RFC 8659 §3): the name
/// itself (without a wildcard's `*.`), then each parent up to the top-level domain; the root is
/// not asked. `*.www.example.com` → `www.example.com`, `example.com`, `com`.
pub fn climb(domain: &str) -> Vec<String> {
    let name = domain.strip_prefix("*.").unwrap_or(domain);
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    let mut names = Vec::new();
    let mut rest = name.as_str();
    while !rest.is_empty() {
        names.push(rest.to_owned());
        rest = rest.split_once('.').map_or("", |(_, parent)| parent);
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_climb_goes_from_the_name_to_its_top_level_domain() {
        assert_eq!(
            climb("*.WWW.example.com."),
            vec!["www.example.com", "example.com", "com"]
        );
        assert_eq!(climb("example.com"), vec!["example.com", "com"]);
    }

    #[test]
    fn tags_match_case_insensitively() {
        assert_eq!(CaaTag::parse("ISSUE"), CaaTag::Issue);
        assert_eq!(CaaTag::parse("IssueWild"), CaaTag::IssueWild);
        assert_eq!(CaaTag::parse("tbs"), CaaTag::Other("tbs".into()));
    }

    #[test]
    fn records_print_as_zone_file_data() {
        let record = CaaRecord {
            flags: 128,
            tag: CaaTag::Issue,
            value: "ca.example; a=\"b\"\n".into(),
        };
        assert!(record.critical());
        assert_eq!(record.to_string(), r#"128 issue "ca.example; a=\"b\"\010""#);
        let set = CaaSet {
            name: "www.example.com".into(),
            owner: "cdn.example.net".into(),
            records: vec![CaaRecord::new(CaaTag::Issue, ";")],
        };
        assert_eq!(set.lines(), vec![r#"cdn.example.net. CAA 0 issue ";""#]);
        assert_eq!(set.location(), "www.example.com (CNAME to cdn.example.net)");
    }
}
