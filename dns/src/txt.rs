//! TXT values as the provider APIs write them: RFC 1035 §3.3.14 character strings (`"abc"`,
//! with `"` and `\` escaped).
//!
//! Two forms, kept apart because they differ on input an ACME value never contains (a 43
//! character base64url digest reads the same in both):
//! - [`quote`]/[`unquote`], the JSON APIs (Cloudflare, DigitalOcean, Hetzner): one quoted
//!   string; unquoted content is taken as is;
//! - [`quote_strings`]/[`unquote_strings`], zone-file presentation (Route 53, Google Cloud DNS):
//!   255-byte strings, `\DDD` escapes, whitespace between strings ignored.

/// One RFC 1035 character string.
pub(crate) fn quote(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The text of TXT content: quoted character strings concatenated, or the content as is (an
/// API may store it unquoted, a record made elsewhere may carry quotes).
pub(crate) fn unquote(content: &str) -> String {
    let content = content.trim();
    if !content.starts_with('"') {
        return content.to_owned();
    }
    let mut out = String::with_capacity(content.len());
    let (mut quoted, mut escaped) = (false, false);
    for c in content.chars() {
        if escaped {
            out.push(c);
            escaped = false;
        } else if c == '\\' && quoted {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if quoted {
            out.push(c);
        }
    }
    out
}

/// A TXT value as zone-file character-strings: quoted, `"` and `\` escaped, split into
/// 255-byte strings when longer (RFC 1035 §3.3.14; ACME values are 43 characters).
pub(crate) fn quote_strings(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = String::new();
    for (i, chunk) in bytes.chunks(255).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push('"');
        for &b in chunk {
            match b {
                b'"' | b'\\' => {
                    out.push('\\');
                    out.push(b as char);
                }
                0x20..=0x7e => out.push(b as char),
                _ => out.push_str(&format!("\\{b:03}")),
            }
        }
        out.push('"');
    }
    if bytes.is_empty() {
        out.push_str("\"\"");
    }
    out
}

/// The value of a TXT record given as zone-file character-strings: every quoted string
/// unquoted (`\"`, `\\` and `\DDD` decoded) and concatenated; unquoted text taken as is.
pub(crate) fn unquote_strings(raw: &str) -> String {
    let mut out: Vec<u8> = Vec::new();
    let bytes = raw.trim().as_bytes();
    let mut i = 0;
    let mut quoted = false;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'"' => quoted = !quoted,
            b'\\' if i + 3 < bytes.len() && bytes[i + 1..i + 4].iter().all(u8::is_ascii_digit) => {
                let n = (bytes[i + 1] - b'0') as u32 * 100
                    + (bytes[i + 2] - b'0') as u32 * 10
                    + (bytes[i + 3] - b'0') as u32;
                out.push(u8::try_from(n).unwrap_or(b'?'));
                i += 3;
            }
            b'\\' if i + 1 < bytes.len() => {
                out.push(bytes[i + 1]);
                i += 1;
            }
            b' ' | b'\t' if !quoted => {}
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_round_trips() {
        assert_eq!(quote("abc"), "\"abc\"");
        assert_eq!(unquote("\"abc\""), "abc");
        assert_eq!(unquote("abc"), "abc");
        assert_eq!(unquote("\"ab\" \"c\""), "abc");
        assert_eq!(unquote(&quote("a\"b\\c")), "a\"b\\c");
    }

    #[test]
    fn zone_file_quoting_round_trips() {
        for value in ["abc", "with \"quote\" and \\", "", &"x".repeat(300)] {
            assert_eq!(unquote_strings(&quote_strings(value)), value);
        }
        assert_eq!(quote_strings("abc"), "\"abc\"");
        assert_eq!(unquote_strings("\"ab\" \"cd\""), "abcd");
        assert_eq!(unquote_strings("\"a\\034b\""), "a\"b");
    }
}
