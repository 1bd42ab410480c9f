//! `normalize_domains`: the `domains` of `POST /v1/pki/issue` (IDNA, wildcards, IP addresses,
//! duplicates).
//!
//! Input: the first byte's low bit says whether wildcards are allowed (dns-01); the rest is UTF-8,
//! one name per line. Beyond "does not panic": every accepted entry is either an IP address in
//! its canonical text form (RFC 8738) or a lowercase ASCII name, at most 253 octets, of at least
//! two LDH labels of 1 to 63 octets with no edge hyphen, with a wildcard only as the whole
//! leftmost label and only when allowed; a wildcard and an IP address never share a list; the
//! output keeps the input's order and count, has no duplicates, is a fixed point, and agrees
//! name by name.
#![no_main]

use std::collections::HashSet;
use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use scaivault_domain::Error;
use scaivault_domain::pki::{MAX_DOMAINS, normalize_domains};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let allow_wildcards = flags & 1 == 1;
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let names: Vec<String> = text.split('\n').map(str::to_owned).collect();
    match normalize_domains(&names, allow_wildcards) {
        Ok(out) => check_accepted(&names, &out, allow_wildcards),
        Err(Error::Invalid { field, .. }) => assert_eq!(field, "domains"),
        Err(other) => panic!("{names:?}: refusals must be Error::Invalid, got {other:?}"),
    }
});

fn check_accepted(names: &[String], out: &[String], allow_wildcards: bool) {
    assert_eq!(
        out.len(),
        names.len(),
        "{names:?} -> {out:?}: one output per input"
    );
    assert!((1..=MAX_DOMAINS).contains(&out.len()), "{names:?}");
    let unique: HashSet<&String> = out.iter().collect();
    assert_eq!(unique.len(), out.len(), "{names:?} -> {out:?}: duplicates");
    assert!(
        !(out.iter().any(|n| n.starts_with("*."))
            && out.iter().any(|n| n.parse::<IpAddr>().is_ok())),
        "{names:?} -> {out:?}: a wildcard beside an IP address"
    );
    for (raw, name) in names.iter().zip(out) {
        check_name(raw, name, allow_wildcards);
        // The same verdict alone as in the list.
        match normalize_domains(std::slice::from_ref(raw), allow_wildcards) {
            Ok(alone) => assert_eq!(&alone[0], name, "{raw:?} alone"),
            Err(e) => panic!("{raw:?} accepted in {names:?} but refused alone: {e}"),
        }
    }
    // A fixed point, and wildcards being allowed never changes an accepted name.
    for allow in [allow_wildcards, true] {
        match normalize_domains(out, allow) {
            Ok(again) => assert_eq!(again, out, "{names:?}: normalising twice differs"),
            Err(e) => panic!("{out:?} (from {names:?}) refused when normalised again: {e}"),
        }
    }
}

fn check_name(raw: &str, name: &str, allow_wildcards: bool) {
    if let Ok(ip) = name.parse::<IpAddr>() {
        assert_eq!(ip.to_string(), name, "{raw:?}: IP address not in canonical form");
        return;
    }
    assert!(name.is_ascii(), "{raw:?} -> {name:?}: not ASCII");
    assert_eq!(name, name.to_ascii_lowercase(), "{raw:?}: not lowercase");
    assert!(name.len() <= 253, "{raw:?} -> {name:?}: longer than 253");
    let (wildcard, base) = match name.strip_prefix("*.") {
        Some(base) => (true, base),
        None => (false, name),
    };
    assert!(
        !wildcard || allow_wildcards,
        "{raw:?}: wildcard not allowed"
    );
    assert!(
        base.parse::<IpAddr>().is_err(),
        "{raw:?} -> {name:?}: an IP"
    );
    let labels: Vec<&str> = base.split('.').collect();
    assert!(labels.len() >= 2, "{raw:?} -> {name:?}: single label");
    for label in &labels {
        assert!(
            (1..=63).contains(&label.len()),
            "{raw:?} -> {name:?}: label {label:?} length"
        );
        assert!(
            label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{raw:?} -> {name:?}: label {label:?} not LDH"
        );
        assert!(
            !label.starts_with('-') && !label.ends_with('-'),
            "{raw:?} -> {name:?}: edge hyphen"
        );
    }
    let tld = labels[labels.len() - 1];
    assert!(
        !tld.bytes().all(|b| b.is_ascii_digit()),
        "{raw:?} -> {name:?}: all-numeric last label"
    );
}
