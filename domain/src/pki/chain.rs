//! Certificate chains as a CA returns them, reduced to what the service stores and shows.
//!
//! ACME delivers the chain as `application/pem-certificate-chain`, leaf first, each certificate
//! issued by the next ([RFC 8555 §7.4.2](https://www.rfc-editor.org/rfc/rfc8555#section-7.4.2)).
//! The facts read here (serial, validity, issuer, names) drive renewal, revocation and listing,
//! so they are read once from the certificate itself, never from what was asked for.

use rcgen::KeyPair;
use time::OffsetDateTime;
use x509_cert::Certificate;
use x509_cert::der::EncodePem;
use x509_cert::der::pem::LineEnding;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::time::Time;

use super::serial::normalize_serial;
use crate::{Error, Result};

/// An issued chain and the facts of its leaf certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedChain {
    /// The whole chain, leaf first, re-encoded as PEM with LF line endings and nothing between
    /// the blocks, so identical chains are identical strings.
    pub chain_pem: String,
    /// The leaf's serial, as [`normalize_serial`] spells it.
    pub serial: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// The leaf's issuer DN as an RFC 4514 string (`CN=..,O=..,C=..`).
    pub issuer: String,
    /// The leaf's subjectAltName DNS names, in certificate order.
    pub sans: Vec<String>,
}

/// Parses a PEM chain (leaf first) and reads its leaf.
///
/// Refuses an empty input, anything that is not a `CERTIFICATE` PEM block, and a chain whose
/// certificates are not each issued by the next, since storing a misordered chain would serve
/// broken TLS later.
pub fn parse_chain(pem: &str) -> Result<IssuedChain> {
    let certs = load_chain(pem)?;
    for (i, pair) in certs.windows(2).enumerate() {
        let (child, parent) = (pair[0].tbs_certificate(), pair[1].tbs_certificate());
        if child.issuer() != parent.subject() {
            return Err(Error::invalid(
                "certificate",
                format!(
                    "certificate {} (subject {:?}) is issued by {:?}, not by certificate {} ({:?}): \
                     a chain is leaf first, each certificate followed by its issuer (RFC 8555 §7.4.2)",
                    i + 1,
                    child.subject().to_string(),
                    child.issuer().to_string(),
                    i + 2,
                    parent.subject().to_string(),
                ),
            ));
        }
    }
    let mut chain_pem = String::new();
    for (i, cert) in certs.iter().enumerate() {
        let block = cert.to_pem(LineEnding::LF).map_err(|e| {
            Error::invalid(
                "certificate",
                format!("certificate {} cannot be re-encoded: {e}", i + 1),
            )
        })?;
        chain_pem.push_str(&block);
    }
    let leaf = certs[0].tbs_certificate();
    let serial = normalize_serial(&hex::encode(leaf.serial_number().as_bytes()))
        .map_err(|e| Error::invalid("certificate", format!("the leaf's serial number: {e}")))?;
    let validity = leaf.validity();
    Ok(IssuedChain {
        chain_pem,
        serial,
        not_before: to_offset_date_time(&validity.not_before)?,
        not_after: to_offset_date_time(&validity.not_after)?,
        issuer: leaf.issuer().to_string(),
        sans: subject_alt_names(&certs[0])?,
    })
}

/// Whether `private_key_pem` is the private half of the leaf's public key, compared on the
/// SubjectPublicKeyInfo's key bits. Checked before storing so a chain is never paired with a key
/// that cannot serve it.
///
/// `Ok(false)` for a well-formed mismatch; `Error::Invalid` when either input does not parse.
pub fn private_key_matches(chain_leaf_pem_or_chain: &str, private_key_pem: &str) -> Result<bool> {
    let certs = load_chain(chain_leaf_pem_or_chain)?;
    let key = KeyPair::from_pem(private_key_pem).map_err(|e| {
        Error::invalid(
            "private_key",
            format!("not a PEM private key (PKCS#8, SEC1 or PKCS#1): {e}"),
        )
    })?;
    let leaf_key = certs[0]
        .tbs_certificate()
        .subject_public_key_info()
        .subject_public_key
        .raw_bytes();
    Ok(leaf_key == key.public_key_raw())
}

/// Decodes every `CERTIFICATE` block; at least one.
pub(crate) fn load_chain(pem: &str) -> Result<Vec<Certificate>> {
    let text = pem.trim();
    if text.is_empty() {
        return Err(Error::invalid(
            "certificate",
            "the certificate chain is empty: a PEM chain, leaf first, is needed",
        ));
    }
    if !text.contains("-----BEGIN CERTIFICATE-----") {
        return Err(Error::invalid(
            "certificate",
            "not a PEM certificate chain: no -----BEGIN CERTIFICATE----- line found",
        ));
    }
    let normalised = text.replace("\r\n", "\n");
    let certs = Certificate::load_pem_chain(normalised.as_bytes())
        .map_err(|e| Error::invalid("certificate", format!("not a PEM certificate chain: {e}")))?;
    if certs.is_empty() {
        return Err(Error::invalid(
            "certificate",
            "not a PEM certificate chain: no CERTIFICATE block found",
        ));
    }
    Ok(certs)
}

/// The leaf's DNS and IP subjectAltNames (an address as its canonical text, the spelling of an
/// order's `domains`); other name kinds are skipped.
fn subject_alt_names(cert: &Certificate) -> Result<Vec<String>> {
    let san = cert
        .tbs_certificate()
        .get_extension::<SubjectAltName>()
        .map_err(|e| {
            Error::invalid(
                "certificate",
                format!("the leaf's subjectAltName does not parse: {e}"),
            )
        })?;
    Ok(san
        .map(|(_critical, san)| {
            san.0
                .into_iter()
                .filter_map(|name| match name {
                    GeneralName::DnsName(dns) => Some(dns.to_string()),
                    GeneralName::IpAddress(octets) => super::csr::ip_text(octets.as_bytes()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default())
}

/// An X.509 time as an `OffsetDateTime` (UTC).
fn to_offset_date_time(t: &Time) -> Result<OffsetDateTime> {
    let secs = i64::try_from(t.to_unix_duration().as_secs()).ok();
    secs.and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .ok_or_else(|| Error::invalid("certificate", format!("validity time {t} is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, IsCa,
        KeyUsagePurpose, PKCS_ECDSA_P384_SHA384, SerialNumber, date_time_ymd,
    };
    use time::macros::datetime;

    struct TestChain {
        ca_pem: String,
        leaf_pem: String,
        leaf_key_pem: String,
    }

    fn make_chain() -> TestChain {
        let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca_params.distinguished_name = DistinguishedName::new();
        ca_params.distinguished_name.push(DnType::CountryName, "DE");
        ca_params
            .distinguished_name
            .push(DnType::OrganizationName, "ScaiVault Test");
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Test CA R1");
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();

        let leaf_key = KeyPair::generate().unwrap();
        let mut leaf_params = CertificateParams::new(vec![
            "example.test".to_owned(),
            "*.example.test".to_owned(),
            "192.0.2.1".to_owned(),
            "2001:db8::1".to_owned(),
        ])
        .unwrap();
        leaf_params.distinguished_name = DistinguishedName::new();
        // A leading zero octet (as DER adds before a high bit) must not reach the stored serial.
        leaf_params.serial_number = Some(SerialNumber::from_slice(&[
            0x00, 0x8f, 0x01, 0x02, 0xab, 0xcd,
        ]));
        leaf_params.not_before = date_time_ymd(2026, 1, 2);
        leaf_params.not_after = date_time_ymd(2026, 4, 2);
        let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();
        TestChain {
            ca_pem: ca.pem(),
            leaf_pem: leaf.pem(),
            leaf_key_pem: leaf_key.serialize_pem(),
        }
    }

    #[test]
    fn every_field_of_the_leaf_is_read() {
        let t = make_chain();
        let input = format!("{}\n{}", t.leaf_pem, t.ca_pem);
        let chain = parse_chain(&input).unwrap();
        assert_eq!(chain.serial, "8F0102ABCD");
        assert_eq!(chain.not_before, datetime!(2026-01-02 00:00 UTC));
        assert_eq!(chain.not_after, datetime!(2026-04-02 00:00 UTC));
        assert_eq!(chain.issuer, "CN=Test CA R1,O=ScaiVault Test,C=DE");
        // IP addresses (RFC 8738) too, in the canonical spelling of an order's `domains`.
        assert_eq!(
            chain.sans,
            vec!["example.test", "*.example.test", "192.0.2.1", "2001:db8::1"]
        );
        // Normalised: both certificates, leaf first, LF only, and stable when parsed again.
        let blocks = chain
            .chain_pem
            .matches("-----BEGIN CERTIFICATE-----")
            .count();
        assert_eq!(blocks, 2);
        assert!(!chain.chain_pem.contains('\r'));
        let leaf_body: String = t
            .leaf_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let first_block: String = chain
            .chain_pem
            .split("-----END CERTIFICATE-----")
            .next()
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        assert_eq!(first_block, leaf_body);
        assert_eq!(parse_chain(&chain.chain_pem).unwrap(), chain);
    }

    #[test]
    fn crlf_and_surrounding_whitespace_are_accepted() {
        let t = make_chain();
        let input = format!("\n\n{}\r\n\r\n{}\n\n", t.leaf_pem, t.ca_pem).replace('\n', "\r\n");
        let chain = parse_chain(&input).unwrap();
        assert_eq!(chain.serial, "8F0102ABCD");
        assert_eq!(
            chain.chain_pem,
            parse_chain(&format!("{}{}", t.leaf_pem, t.ca_pem))
                .unwrap()
                .chain_pem
        );
    }

    #[test]
    fn a_lone_leaf_parses() {
        let t = make_chain();
        let chain = parse_chain(&t.leaf_pem).unwrap();
        assert_eq!(chain.chain_pem.matches("BEGIN CERTIFICATE").count(), 1);
        assert_eq!(chain.issuer, "CN=Test CA R1,O=ScaiVault Test,C=DE");
    }

    #[test]
    fn a_misordered_chain_is_refused() {
        let t = make_chain();
        match parse_chain(&format!("{}{}", t.ca_pem, t.leaf_pem)).unwrap_err() {
            Error::Invalid { field, message } => {
                assert_eq!(field, "certificate");
                assert!(message.contains("leaf first"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn garbage_is_refused() {
        for bad in [
            "",
            "   ",
            "hello",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        ] {
            match parse_chain(bad).unwrap_err() {
                Error::Invalid { field, message } => {
                    assert_eq!(field, "certificate");
                    assert!(
                        message.contains("empty")
                            || message.contains("not a PEM certificate chain"),
                        "{bad:?}: {message}"
                    );
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn the_private_key_is_matched_against_the_leaf() {
        let t = make_chain();
        let chain = format!("{}{}", t.leaf_pem, t.ca_pem);
        assert!(private_key_matches(&chain, &t.leaf_key_pem).unwrap());
        assert!(private_key_matches(&t.leaf_pem, &t.leaf_key_pem).unwrap());
        let other = KeyPair::generate().unwrap().serialize_pem();
        assert!(!private_key_matches(&chain, &other).unwrap());
        match private_key_matches(&chain, "not a key").unwrap_err() {
            Error::Invalid { field, .. } => assert_eq!(field, "private_key"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            private_key_matches("junk", &t.leaf_key_pem),
            Err(Error::Invalid { .. })
        ));
    }
}
