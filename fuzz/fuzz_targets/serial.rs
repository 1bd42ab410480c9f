//! `normalize_serial`: the serial a caller types into `POST /v1/pki/revoke`.
//!
//! Beyond "does not panic": an accepted serial is canonical (uppercase hex, no separators, no
//! leading zeros, at most 20 octets as RFC 5280 §4.1.2.2 allows), normalising is idempotent, the
//! colon spelling and the lowercase spelling round-trip to it, it is the same integer the input
//! wrote, and every plain-hex serial of at most 20 octets is accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scaivault_domain::Error;
use scaivault_domain::pki::serial::MAX_SERIAL_OCTETS;
use scaivault_domain::pki::{normalize_serial, serial_with_colons};

fuzz_target!(|data: &[u8]| {
    // The API hands the parser a JSON string, so only UTF-8 ever reaches it.
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    match normalize_serial(input) {
        Ok(canonical) => check_accepted(input, &canonical),
        Err(Error::Invalid { field, .. }) => {
            assert_eq!(field, "serial_number");
            assert!(
                !is_plain_hex_within_limit(input),
                "{input:?} is plain hex of at most {MAX_SERIAL_OCTETS} octets but was refused"
            );
        }
        Err(other) => panic!("{input:?}: a bad serial must be Error::Invalid, got {other:?}"),
    }
});

fn check_accepted(input: &str, canonical: &str) {
    assert!(!canonical.is_empty(), "{input:?}");
    assert!(
        canonical
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)),
        "{input:?} -> {canonical:?}: not uppercase hex"
    );
    assert!(
        canonical == "0" || !canonical.starts_with('0'),
        "{input:?} -> {canonical:?}: leading zero"
    );
    assert!(
        canonical.len() <= MAX_SERIAL_OCTETS * 2,
        "{input:?} -> {canonical:?}: longer than {MAX_SERIAL_OCTETS} octets"
    );
    // The same integer: the input's hex digits, separators and prefix and leading zeros dropped.
    let trimmed = input.trim();
    let body = trimmed
        .strip_prefix("0x")
        .or_else(|| trimmed.strip_prefix("0X"))
        .unwrap_or(trimmed);
    let digits: String = body.chars().filter(|c| *c != ':').collect();
    let value = digits.trim_start_matches('0').to_ascii_uppercase();
    let value = if value.is_empty() { "0" } else { &value };
    assert_eq!(canonical, value, "{input:?} names another integer");

    // Every spelling of the canonical form comes back to it.
    let colons = serial_with_colons(canonical);
    assert!(
        colons.split(':').all(|g| g.len() == 2),
        "{canonical:?} -> {colons:?}: groups must be whole octets"
    );
    for spelling in [
        canonical.to_owned(),
        colons.clone(),
        colons.to_ascii_lowercase(),
        canonical.to_ascii_lowercase(),
        format!("0x{canonical}"),
        format!(" 00{canonical}\n"),
    ] {
        match normalize_serial(&spelling) {
            Ok(again) => assert_eq!(again, canonical, "{spelling:?} (from {input:?})"),
            Err(e) => panic!("{spelling:?} (from {input:?}) was refused: {e}"),
        }
    }
}

/// Trimmed, optionally `0x`-prefixed, only hex digits, and at most 20 octets once leading zeros
/// are dropped: such an input must be accepted.
fn is_plain_hex_within_limit(input: &str) -> bool {
    let trimmed = input.trim();
    let body = trimmed
        .strip_prefix("0x")
        .or_else(|| trimmed.strip_prefix("0X"))
        .unwrap_or(trimmed);
    !body.is_empty()
        && body.bytes().all(|b| b.is_ascii_hexdigit())
        && body.trim_start_matches('0').len() <= MAX_SERIAL_OCTETS * 2
}
