//! Certificate serial numbers in one canonical spelling.
//!
//! Callers write serials as `1A:2B:..` (OpenSSL, browsers) or plain hex (CA dashboards, Pebble's
//! `/cert-status-by-serial/<hex>`), sometimes with the DER sign octet `00` in front. A serial is an
//! integer (RFC 5280 §4.1.2.2), so both sides of a comparison are reduced to the same form:
//! uppercase hex of the big-endian unsigned value, no separators, no leading zeros.

use crate::{Error, Result};

/// Longest serial value in octets: conforming CAs "MUST NOT use serialNumber values longer than
/// 20 octets" ([RFC 5280 §4.1.2.2](https://www.rfc-editor.org/rfc/rfc5280#section-4.1.2.2)).
pub const MAX_SERIAL_OCTETS: usize = 20;

/// Reduces a serial written as `1A:2B:..`, `1a2b..` or `0x1a2b..` to uppercase hex without
/// colons or leading zeros (`"0"` for zero).
///
/// Colons must separate groups of one or two digits, as `openssl x509 -serial` and browsers
/// print them; anything else is refused rather than guessed at.
pub fn normalize_serial(input: &str) -> Result<String> {
    let trimmed = input.trim();
    let body = trimmed
        .strip_prefix("0x")
        .or_else(|| trimmed.strip_prefix("0X"))
        .unwrap_or(trimmed);
    if body.is_empty() {
        return Err(Error::invalid(
            "serial_number",
            "a serial number is needed, as 1A:2B:.. or plain hex",
        ));
    }
    let digits: String = if body.contains(':') {
        let groups: Vec<&str> = body.split(':').collect();
        if groups.iter().any(|g| g.is_empty() || g.len() > 2) {
            return Err(Error::invalid(
                "serial_number",
                format!("{input:?}: colons must separate groups of two hex digits, as in 1A:2B:3C"),
            ));
        }
        groups.concat()
    } else {
        body.to_owned()
    };
    if let Some(bad) = digits.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(Error::invalid(
            "serial_number",
            format!("{input:?} is not hex: {bad:?} is not a hex digit"),
        ));
    }
    let value = digits.trim_start_matches('0').to_ascii_uppercase();
    if value.len() > MAX_SERIAL_OCTETS * 2 {
        return Err(Error::invalid(
            "serial_number",
            format!(
                "{input:?} is longer than {MAX_SERIAL_OCTETS} octets, the limit of RFC 5280 §4.1.2.2"
            ),
        ));
    }
    Ok(if value.is_empty() {
        "0".to_owned()
    } else {
        value
    })
}

/// Spells a [`normalize_serial`] result as colon-separated octets (`1A:2B:..`), padding an odd
/// number of digits with a leading zero so every group is one octet.
pub fn serial_with_colons(normalized: &str) -> String {
    let padded = if normalized.len() % 2 == 1 {
        format!("0{normalized}")
    } else {
        normalized.to_owned()
    };
    padded
        .as_bytes()
        .chunks(2)
        .map(|pair| String::from_utf8_lossy(pair).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_reduce_to_one_form() {
        let table = [
            ("1A:2B:3C", "1A2B3C"),
            ("1a:2b:3c", "1A2B3C"),
            ("1a2b3c", "1A2B3C"),
            ("0x1a2b3c", "1A2B3C"),
            ("0X1A2B3C", "1A2B3C"),
            ("  00:8F:01  ", "8F01"),
            ("008f01", "8F01"),
            ("0:1", "1"),
            ("A:B", "AB"),
            ("0", "0"),
            ("00:00", "0"),
            ("0x0", "0"),
            // 20 octets with the DER sign octet in front still fits.
            (
                "00:FF:EE:DD:CC:BB:AA:99:88:77:66:55:44:33:22:11:00:01:02:03:04",
                "FFEEDDCCBBAA9988776655443322110001020304",
            ),
        ];
        for (input, want) in table {
            assert_eq!(normalize_serial(input).unwrap(), want, "input {input:?}");
        }
    }

    #[test]
    fn bad_serials_are_refused_naming_the_input() {
        let table = [
            ("", "needed"),
            ("   ", "needed"),
            ("0x", "needed"),
            ("12:zz", "not a hex digit"),
            ("xyz", "not a hex digit"),
            ("-1", "not a hex digit"),
            ("1A::2B", "groups of two"),
            ("1A:2B:", "groups of two"),
            ("1A2:B", "groups of two"),
            ("1A 2B", "not a hex digit"),
            (
                "01FFEEDDCCBBAA9988776655443322110001020304",
                "longer than 20 octets",
            ),
        ];
        for (input, why) in table {
            match normalize_serial(input).unwrap_err() {
                Error::Invalid { field, message } => {
                    assert_eq!(field, "serial_number");
                    assert!(message.contains(why), "{input:?}: {message}");
                    if !input.trim().is_empty() && input != "0x" {
                        assert!(message.contains(&format!("{input:?}")), "{message}");
                    }
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn colons_pad_to_whole_octets() {
        assert_eq!(serial_with_colons("1A2B3C"), "1A:2B:3C");
        assert_eq!(serial_with_colons("8F01"), "8F:01");
        assert_eq!(serial_with_colons("ABC"), "0A:BC");
        assert_eq!(serial_with_colons("0"), "00");
        for s in ["1A2B3C", "ABC", "0"] {
            assert_eq!(normalize_serial(&serial_with_colons(s)).unwrap(), s);
        }
    }
}
