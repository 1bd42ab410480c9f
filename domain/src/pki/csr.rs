//! Certificate signing requests: the ones the service generates for the keys it holds, and the
//! ones callers bring when they keep the key themselves.
//!
//! ACME finalises an order with a PKCS#10 CSR whose names must be exactly the order's identifiers
//! ([RFC 8555 §7.4](https://www.rfc-editor.org/rfc/rfc8555#section-7.4)); a CA refuses any other
//! CSR with `badCSR` only after every challenge has been solved. A caller's CSR is therefore
//! checked here, before the order starts, so a mismatch costs nothing and names the culprit.

use std::collections::BTreeSet;
use std::fmt;

use aws_lc_rs::signature::{self as sig, VerificationAlgorithm};
use rcgen::{CertificateParams, DistinguishedName, KeyPair, PKCS_ECDSA_P256_SHA256, SanType};
use rcgen::{PKCS_ECDSA_P384_SHA384, PKCS_RSA_SHA256, RsaKeySize};
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::{Decode, Header, Reader, SliceReader};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::request::CertReq;
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use super::domains::{Identifier, normalize_domains};
use super::key_type::KeyType;
use crate::{Error, Result};

/// A freshly generated private key and the CSR it signed.
#[derive(Clone)]
pub struct GeneratedKey {
    /// The private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub private_key_pem: String,
    /// The CSR, DER-encoded, as ACME's finalize request carries it (base64url of these bytes).
    pub csr_der: Vec<u8>,
}

impl fmt::Debug for GeneratedKey {
    /// Leaves the private key out: a `Debug` print must never leak it into logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("private_key_pem", &"<redacted>")
            .field("csr_der_len", &self.csr_der.len())
            .finish()
    }
}

/// Generates a new key of `key_type` and a CSR for `domains` signed with it.
///
/// The names are first put through [`normalize_domains`] (wildcards allowed) so the CSR carries
/// exactly the spelling the order's identifiers use. They go into the subjectAltName extension
/// only, a DNS name as a dNSName and an IP address as an iPAddress (its 4 or 16 octets,
/// [RFC 8738 §3](https://www.rfc-editor.org/rfc/rfc8738#section-3)): the subject DN is left empty because CAs take the names from the SAN
/// ([RFC 8555 §7.4](https://www.rfc-editor.org/rfc/rfc8555#section-7.4)) and rcgen would otherwise
/// add a placeholder common name that the CA refuses.
pub fn generate_key_and_csr(key_type: KeyType, domains: &[String]) -> Result<GeneratedKey> {
    let names = normalize_domains(domains, true)?;
    let key = generate_key(key_type)?;
    let mut params = CertificateParams::default();
    params.subject_alt_names = names
        .iter()
        .map(|name| match Identifier::of(name) {
            Identifier::Ip(ip) => Ok(SanType::IpAddress(ip)),
            Identifier::Dns(dns) => dns.try_into().map(SanType::DnsName).map_err(|e| {
                Error::invalid("domains", format!("cannot put {name:?} into a CSR: {e}"))
            }),
        })
        .collect::<Result<_>>()?;
    params.distinguished_name = DistinguishedName::new();
    let csr = params
        .serialize_request(&key)
        .map_err(|e| Error::Crypto(format!("signing the {key_type} CSR failed: {e}")))?;
    Ok(GeneratedKey {
        private_key_pem: key.serialize_pem(),
        csr_der: csr.der().to_vec(),
    })
}

/// A new private key of the given type.
fn generate_key(key_type: KeyType) -> Result<KeyPair> {
    let generated = match key_type {
        KeyType::EcdsaP256 => KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256),
        KeyType::EcdsaP384 => KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384),
        KeyType::Rsa2048 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048),
        KeyType::Rsa4096 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_4096),
    };
    generated.map_err(|e| Error::Crypto(format!("generating a {key_type} key failed: {e}")))
}

/// PEM labels a PKCS#10 request goes by; `NEW CERTIFICATE REQUEST` is what older tools (Netscape,
/// some Windows versions) write ([RFC 7468 §7](https://www.rfc-editor.org/rfc/rfc7468#section-7)).
const CSR_LABELS: [&str; 2] = ["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"];

/// Checks a caller's PEM CSR and returns its DER.
///
/// The request must parse as PKCS#10 ([RFC 2986](https://www.rfc-editor.org/rfc/rfc2986)), its
/// self-signature must verify (proof that the caller holds the key), it may name only DNS names
/// and IP addresses (subjectAltName in the extensionRequest attribute, plus the subject CN if
/// any; an address in its canonical text form), and that set must equal `expected_domains`,
/// compared case-insensitively
/// ([RFC 8555 §7.4](https://www.rfc-editor.org/rfc/rfc8555#section-7.4)).
pub fn csr_from_pem(pem: &str, expected_domains: &[String]) -> Result<Vec<u8>> {
    let invalid = |message: String| Error::invalid("csr", message);
    let text = pem.trim();
    let Some(start) = text.find("-----BEGIN") else {
        return Err(invalid(
            "not a PEM certificate request: no -----BEGIN CERTIFICATE REQUEST----- line found"
                .into(),
        ));
    };
    let (label, der) = x509_cert::der::pem::decode_vec(&text.as_bytes()[start..])
        .map_err(|e| invalid(format!("not a PEM certificate request: {e}")))?;
    if !CSR_LABELS.contains(&label) {
        return Err(invalid(format!(
            "not a PEM certificate request: the PEM block is a {label:?}, expected \"CERTIFICATE REQUEST\""
        )));
    }
    let req = CertReq::from_der(&der).map_err(|e| {
        invalid(format!(
            "not a PEM certificate request: PKCS#10 does not parse: {e}"
        ))
    })?;
    verify_self_signature(&der, &req)?;

    let names = requested_names(&req)?;
    let got: BTreeSet<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
    let want: BTreeSet<String> = expected_domains
        .iter()
        .map(|n| n.to_ascii_lowercase())
        .collect();
    if got != want {
        let missing: Vec<&String> = want.difference(&got).collect();
        let extra: Vec<&String> = got.difference(&want).collect();
        let mut problems = Vec::new();
        if !missing.is_empty() {
            problems.push(format!("missing {missing:?}"));
        }
        if !extra.is_empty() {
            problems.push(format!("not in the order {extra:?}"));
        }
        return Err(invalid(format!(
            "the CSR's names must be exactly the order's domains: {}",
            problems.join("; ")
        )));
    }
    Ok(der)
}

/// The names a CSR asks for: its subjectAltName dNSNames and iPAddresses (as canonical text) and
/// its subject common names.
fn requested_names(req: &CertReq) -> Result<Vec<String>> {
    let invalid = |message: String| Error::invalid("csr", message);
    let mut names = Vec::new();
    for attr in req.info.attributes.iter() {
        if attr.oid != ID_EXTENSION_REQ {
            continue;
        }
        for value in attr.values.iter() {
            let extensions: Vec<Extension> = value.decode_as().map_err(|e| {
                invalid(format!(
                    "the extensionRequest attribute does not parse: {e}"
                ))
            })?;
            for ext in extensions
                .iter()
                .filter(|e| e.extn_id == ID_CE_SUBJECT_ALT_NAME)
            {
                let san = SubjectAltName::from_der(ext.extn_value.as_bytes())
                    .map_err(|e| invalid(format!("the subjectAltName does not parse: {e}")))?;
                for name in san.0 {
                    match name {
                        GeneralName::DnsName(dns) => names.push(dns.to_string()),
                        GeneralName::IpAddress(octets) => {
                            names.push(ip_text(octets.as_bytes()).ok_or_else(|| {
                                invalid(format!(
                                    "the CSR's iPAddress subjectAltName has {} octets; an address has 4 or 16",
                                    octets.as_bytes().len()
                                ))
                            })?);
                        }
                        other => {
                            return Err(invalid(format!(
                                "the CSR asks for a subjectAltName other than a DNS name or IP address ({}): only those are supported",
                                general_name_kind(&other)
                            )));
                        }
                    }
                }
            }
        }
    }
    for atv in req.info.subject.iter() {
        if atv.oid == COMMON_NAME {
            let cn: x509_cert::ext::pkix::name::DirectoryString = atv
                .value
                .decode_as()
                .map_err(|e| invalid(format!("the subject common name does not parse: {e}")))?;
            names.push(cn.value().into_owned());
        }
    }
    if names.is_empty() {
        return Err(invalid(
            "the CSR names no domain: it needs a subjectAltName with the order's DNS names".into(),
        ));
    }
    Ok(names)
}

/// An iPAddress subjectAltName's octets as the address's canonical text (RFC 5280 §4.2.1.6: 4
/// octets for IPv4, 16 for IPv6); `None` for any other length.
pub(crate) fn ip_text(octets: &[u8]) -> Option<String> {
    let ip = match octets.len() {
        4 => std::net::IpAddr::from(<[u8; 4]>::try_from(octets).ok()?),
        16 => std::net::IpAddr::from(<[u8; 16]>::try_from(octets).ok()?),
        _ => return None,
    };
    Some(ip.to_string())
}

/// A short name for a subjectAltName choice, for error messages.
fn general_name_kind(name: &GeneralName) -> &'static str {
    match name {
        GeneralName::OtherName(_) => "otherName",
        GeneralName::Rfc822Name(_) => "rfc822Name (email)",
        GeneralName::DnsName(_) => "dNSName",
        GeneralName::DirectoryName(_) => "directoryName",
        GeneralName::EdiPartyName(_) => "ediPartyName",
        GeneralName::UniformResourceIdentifier(_) => "URI",
        GeneralName::IpAddress(_) => "iPAddress",
        GeneralName::RegisteredId(_) => "registeredID",
    }
}

const ID_EXTENSION_REQ: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.14");
const ID_CE_SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const ID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// Verifies a CSR's signature over its `CertificationRequestInfo` with the key it carries
/// ([RFC 2986 §3](https://www.rfc-editor.org/rfc/rfc2986#section-3)): without it anyone could
/// submit a CSR for a public key whose private half they do not hold.
///
/// Covers what CAs accept for TLS certificates: ECDSA P-256/P-384 with SHA-256/384, RSA
/// PKCS#1 v1.5 with SHA-256/384/512 (2048 to 8192 bits), and Ed25519. RSA-PSS is refused.
fn verify_self_signature(der: &[u8], req: &CertReq) -> Result<()> {
    let invalid = |message: String| Error::invalid("csr", message);
    let tbs =
        signed_bytes(der).map_err(|e| invalid(format!("not a PEM certificate request: {e}")))?;
    let key: &SubjectPublicKeyInfoOwned = &req.info.public_key;
    let key_alg = key.algorithm.oid;
    let curve = || {
        key.algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
    };
    let algorithm: &dyn VerificationAlgorithm = match (req.algorithm.oid, key_alg) {
        (ECDSA_WITH_SHA256, ID_EC_PUBLIC_KEY) if curve() == Some(SECP256R1) => {
            &sig::ECDSA_P256_SHA256_ASN1
        }
        (ECDSA_WITH_SHA256, ID_EC_PUBLIC_KEY) if curve() == Some(SECP384R1) => {
            &sig::ECDSA_P384_SHA256_ASN1
        }
        (ECDSA_WITH_SHA384, ID_EC_PUBLIC_KEY) if curve() == Some(SECP256R1) => {
            &sig::ECDSA_P256_SHA384_ASN1
        }
        (ECDSA_WITH_SHA384, ID_EC_PUBLIC_KEY) if curve() == Some(SECP384R1) => {
            &sig::ECDSA_P384_SHA384_ASN1
        }
        (SHA256_WITH_RSA, RSA_ENCRYPTION) => &sig::RSA_PKCS1_2048_8192_SHA256,
        (SHA384_WITH_RSA, RSA_ENCRYPTION) => &sig::RSA_PKCS1_2048_8192_SHA384,
        (SHA512_WITH_RSA, RSA_ENCRYPTION) => &sig::RSA_PKCS1_2048_8192_SHA512,
        (ID_ED25519, ID_ED25519) => &sig::ED25519,
        (sig_alg, key_alg) => {
            return Err(invalid(format!(
                "unsupported CSR signature algorithm {sig_alg} with key algorithm {key_alg}{}: \
                 use ECDSA P-256/P-384, RSA (PKCS#1 v1.5, 2048+ bits) or Ed25519",
                curve()
                    .map(|c| format!(" on curve {c}"))
                    .unwrap_or_default()
            )));
        }
    };
    let public_key = key
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| invalid("the CSR's public key is not a whole number of octets".into()))?;
    let signature = req
        .signature
        .as_bytes()
        .ok_or_else(|| invalid("the CSR's signature is not a whole number of octets".into()))?;
    sig::UnparsedPublicKey::new(algorithm, public_key)
        .verify(tbs, signature)
        .map_err(|_| {
            invalid(
                "the CSR's signature does not verify with its own public key: it was altered or signed with another key"
                    .into(),
            )
        })
}

/// The exact encoded `CertificationRequestInfo`, as it was signed: the first element of the
/// outer SEQUENCE, taken from the input rather than re-encoded.
fn signed_bytes(der: &[u8]) -> x509_cert::der::Result<&[u8]> {
    let mut reader = SliceReader::new(der)?;
    let _outer = Header::decode(&mut reader)?;
    reader.tlv_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_cert::der::pem::{LineEnding, encode_string};

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    fn to_pem(der: &[u8]) -> String {
        encode_string("CERTIFICATE REQUEST", LineEnding::LF, der).unwrap()
    }

    fn refusal(pem: &str, expected: &[&str]) -> String {
        match csr_from_pem(pem, &names(expected)).unwrap_err() {
            Error::Invalid { field, message } => {
                assert_eq!(field, "csr");
                message
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    fn round_trip(key_type: KeyType) {
        let domains = names(&["example.test", "*.example.test", "www.example.test"]);
        let generated = generate_key_and_csr(key_type, &domains).unwrap();
        assert!(
            generated
                .private_key_pem
                .starts_with("-----BEGIN PRIVATE KEY-----"),
            "PKCS#8 PEM expected"
        );
        let key = KeyPair::from_pem(&generated.private_key_pem).unwrap();
        let req = CertReq::from_der(&generated.csr_der).unwrap();
        assert!(req.info.subject.is_empty(), "the subject DN must be empty");
        assert_eq!(
            req.info.public_key.subject_public_key.raw_bytes(),
            key.public_key_raw(),
            "the CSR carries the generated key"
        );
        let mut got = requested_names(&req).unwrap();
        got.sort();
        let mut want = domains.clone();
        want.sort();
        assert_eq!(got, want);
        // Order and case of the expected names do not matter.
        let der = csr_from_pem(
            &to_pem(&generated.csr_der),
            &names(&["WWW.example.test", "*.example.test", "example.test"]),
        )
        .unwrap();
        assert_eq!(der, generated.csr_der);
    }

    #[test]
    fn generated_csr_round_trips_ecdsa_p256() {
        round_trip(KeyType::EcdsaP256);
    }

    #[test]
    fn generated_csr_round_trips_ecdsa_p384() {
        round_trip(KeyType::EcdsaP384);
    }

    #[test]
    fn generated_csr_round_trips_rsa_2048() {
        round_trip(KeyType::Rsa2048);
    }

    /// RSA 4096 key generation can take a few seconds; that is expected.
    #[test]
    fn generated_csr_round_trips_rsa_4096() {
        round_trip(KeyType::Rsa4096);
    }

    #[test]
    fn generation_normalises_and_validates_names() {
        let g = generate_key_and_csr(KeyType::EcdsaP256, &names(&["Bücher.Example"])).unwrap();
        let req = CertReq::from_der(&g.csr_der).unwrap();
        assert_eq!(
            requested_names(&req).unwrap(),
            names(&["xn--bcher-kva.example"])
        );
        assert!(matches!(
            generate_key_and_csr(KeyType::EcdsaP256, &[]),
            Err(Error::Invalid { .. })
        ));
        assert!(matches!(
            generate_key_and_csr(KeyType::EcdsaP256, &names(&["*.example", "192.0.2.1"])),
            Err(Error::Invalid { .. })
        ));
    }

    #[test]
    fn ip_addresses_become_ip_address_sans() {
        let g = generate_key_and_csr(
            KeyType::EcdsaP256,
            &names(&["a.example", "127.0.0.1", "2001:DB8:0::1"]),
        )
        .unwrap();
        let req = CertReq::from_der(&g.csr_der).unwrap();
        let mut sans = Vec::new();
        for attr in req.info.attributes.iter() {
            for value in attr.values.iter() {
                let extensions: Vec<Extension> = value.decode_as().unwrap();
                for ext in extensions {
                    sans.extend(
                        SubjectAltName::from_der(ext.extn_value.as_bytes())
                            .unwrap()
                            .0,
                    );
                }
            }
        }
        let octets = |bytes: &[u8]| {
            GeneralName::IpAddress(x509_cert::der::asn1::OctetString::new(bytes).unwrap())
        };
        assert_eq!(
            sans,
            vec![
                GeneralName::DnsName("a.example".to_owned().try_into().unwrap()),
                octets(&[127, 0, 0, 1]),
                octets(
                    &"2001:db8::1"
                        .parse::<std::net::Ipv6Addr>()
                        .unwrap()
                        .octets()
                ),
            ]
        );
        // The caller's CSR with IP SANs matches the order's canonical spelling.
        let pem = to_pem(&g.csr_der);
        assert!(csr_from_pem(&pem, &names(&["a.example", "127.0.0.1", "2001:db8::1"])).is_ok());
        let msg = refusal(&pem, &["a.example", "127.0.0.2", "2001:db8::1"]);
        assert!(msg.contains("missing [\"127.0.0.2\"]"), "{msg}");
        assert!(msg.contains("not in the order [\"127.0.0.1\"]"), "{msg}");
    }

    #[test]
    fn debug_hides_the_private_key() {
        let g = generate_key_and_csr(KeyType::EcdsaP256, &names(&["example.test"])).unwrap();
        let printed = format!("{g:?}");
        assert!(!printed.contains("PRIVATE KEY"), "{printed}");
        assert!(!printed.contains(&g.private_key_pem[30..60]), "{printed}");
        assert!(printed.contains("redacted"));
    }

    #[test]
    fn name_mismatches_are_named() {
        let g =
            generate_key_and_csr(KeyType::EcdsaP256, &names(&["a.example", "b.example"])).unwrap();
        let pem = to_pem(&g.csr_der);
        let msg = refusal(&pem, &["a.example", "c.example"]);
        assert!(msg.contains("missing [\"c.example\"]"), "{msg}");
        assert!(msg.contains("not in the order [\"b.example\"]"), "{msg}");
        let msg = refusal(&pem, &["a.example"]);
        assert!(!msg.contains("missing"), "{msg}");
        assert!(msg.contains("\"b.example\""), "{msg}");
    }

    #[test]
    fn subject_cn_counts_as_a_name() {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(names(&["a.example"])).unwrap();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "cn.example");
        let pem = params.serialize_request(&key).unwrap().pem().unwrap();
        assert!(csr_from_pem(&pem, &names(&["a.example", "cn.example"])).is_ok());
        let msg = refusal(&pem, &["a.example"]);
        assert!(msg.contains("\"cn.example\""), "{msg}");
    }

    #[test]
    fn other_name_kinds_are_refused() {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(names(&["a.example"])).unwrap();
        params
            .subject_alt_names
            .push(SanType::Rfc822Name("me@a.example".try_into().unwrap()));
        params.distinguished_name = DistinguishedName::new();
        let pem = params.serialize_request(&key).unwrap().pem().unwrap();
        let msg = refusal(&pem, &["a.example"]);
        assert!(msg.contains("rfc822Name"), "{msg}");
    }

    #[test]
    fn tampered_signature_is_refused() {
        let g = generate_key_and_csr(KeyType::EcdsaP256, &names(&["a.example"])).unwrap();
        let mut der = g.csr_der.clone();
        // Flip a bit inside the signed name bytes ("a.example" -> "c.example").
        let pos = der
            .windows(9)
            .position(|w| w == b"a.example")
            .expect("name in the DER");
        der[pos] = b'c';
        let msg = refusal(&to_pem(&der), &["c.example"]);
        assert!(msg.contains("does not verify"), "{msg}");
    }

    #[test]
    fn garbage_is_refused() {
        for bad in [
            "",
            "hello",
            "-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----\n",
        ] {
            let msg = refusal(bad, &["a.example"]);
            assert!(msg.starts_with("not a PEM certificate request: "), "{msg}");
        }
        let not_a_csr = encode_string(
            "CERTIFICATE REQUEST",
            LineEnding::LF,
            b"\x30\x03\x02\x01\x00",
        )
        .unwrap();
        assert!(refusal(&not_a_csr, &["a.example"]).starts_with("not a PEM certificate request: "));
        let cert_pem = encode_string("CERTIFICATE", LineEnding::LF, b"\x30\x00").unwrap();
        let msg = refusal(&cert_pem, &["a.example"]);
        assert!(msg.contains("\"CERTIFICATE\""), "{msg}");
    }
}
