//! The self-signed certificate a TLS-ALPN-01 responder presents.
//!
//! The CA connects with ALPN `acme-tls/1` and SNI set to the domain, and accepts only a
//! certificate that names exactly that domain and carries a critical acmeIdentifier extension
//! holding the SHA-256 digest of the key authorization
//! ([RFC 8737 §3](https://www.rfc-editor.org/rfc/rfc8737#section-3)). For an IP identifier the
//! SNI is the address's reverse-mapping name and the certificate names the address itself, as
//! an iPAddress subjectAltName ([RFC 8738 §6](https://www.rfc-editor.org/rfc/rfc8738#section-6)).

use rcgen::{
    CertificateParams, CustomExtension, DistinguishedName, KeyPair, PKCS_ECDSA_P256_SHA256, SanType,
};
use sha2::{Digest, Sha256};

use super::domains::{Identifier, normalize_domains};
use crate::{Error, Result};

/// Builds the TLS-ALPN-01 certificate for `domain`: one subjectAltName (a dNSName, or an
/// iPAddress when `domain` is an address), the critical
/// acmeIdentifier extension (OID 1.3.6.1.5.5.7.1.31) with SHA-256 of `key_authorization`, signed
/// by a fresh P-256 key.
///
/// Returns the certificate DER and the key as PKCS#8 DER. The domain goes through
/// [`normalize_domains`] without wildcards: a wildcard cannot be validated with TLS-ALPN-01
/// ([RFC 8737 §3](https://www.rfc-editor.org/rfc/rfc8737#section-3)), and the SAN must match the
/// identifier's ASCII form.
pub fn tls_alpn01_certificate(domain: &str, key_authorization: &str) -> Result<(Vec<u8>, Vec<u8>)> {
    let name = normalize_domains(&[domain.to_owned()], false)
        .map_err(|e| match e {
            Error::Invalid { message, .. } => Error::invalid("domain", message),
            other => other,
        })?
        .remove(0);
    if key_authorization.is_empty() {
        return Err(Error::invalid(
            "key_authorization",
            format!("the key authorization for {name:?} is empty"),
        ));
    }
    let digest = Sha256::digest(key_authorization.as_bytes());
    let san = match Identifier::of(&name) {
        Identifier::Ip(ip) => SanType::IpAddress(ip),
        Identifier::Dns(dns) => SanType::DnsName(dns.try_into().map_err(|e| {
            Error::invalid(
                "domain",
                format!("{name:?} cannot be a certificate name: {e}"),
            )
        })?),
    };
    let mut params = CertificateParams::default();
    params.subject_alt_names = vec![san];
    params.distinguished_name = DistinguishedName::new();
    params
        .custom_extensions
        .push(CustomExtension::new_acme_identifier(&digest));
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
        .map_err(|e| Error::Crypto(format!("generating the tls-alpn-01 key failed: {e}")))?;
    let cert = params.self_signed(&key).map_err(|e| {
        Error::Crypto(format!(
            "signing the tls-alpn-01 certificate for {name:?} failed: {e}"
        ))
    })?;
    Ok((cert.der().to_vec(), key.serialize_der()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_cert::Certificate;
    use x509_cert::der::Decode;
    use x509_cert::der::asn1::{ObjectIdentifier, OctetString};
    use x509_cert::ext::pkix::SubjectAltName;
    use x509_cert::ext::pkix::name::GeneralName;

    const ID_PE_ACME_IDENTIFIER: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.31");

    #[test]
    fn the_certificate_carries_the_critical_acme_identifier() {
        let key_auth = "token123.thumbprint456";
        let (cert_der, key_der) = tls_alpn01_certificate("WWW.Example.test", key_auth).unwrap();
        let cert = Certificate::from_der(&cert_der).unwrap();
        let tbs = cert.tbs_certificate();

        let ext = tbs
            .extensions()
            .unwrap()
            .iter()
            .find(|e| e.extn_id == ID_PE_ACME_IDENTIFIER)
            .expect("acmeIdentifier extension");
        assert!(ext.critical, "RFC 8737 §3: the extension MUST be critical");
        let inner = OctetString::from_der(ext.extn_value.as_bytes()).unwrap();
        assert_eq!(
            inner.as_bytes(),
            Sha256::digest(key_auth.as_bytes()).as_slice()
        );

        let (_, san) = tbs.get_extension::<SubjectAltName>().unwrap().unwrap();
        assert_eq!(
            san.0,
            vec![GeneralName::DnsName(
                "www.example.test".to_owned().try_into().unwrap()
            )]
        );
        assert!(tbs.subject().is_empty());

        let key = rcgen::KeyPair::try_from(key_der.as_slice()).unwrap();
        assert_eq!(key.algorithm(), &PKCS_ECDSA_P256_SHA256);
        assert_eq!(
            tbs.subject_public_key_info().subject_public_key.raw_bytes(),
            key.public_key_raw()
        );
    }

    #[test]
    fn an_ip_identifier_gets_an_ip_address_san() {
        for (ip, octets) in [
            ("127.0.0.1", vec![127, 0, 0, 1]),
            ("0::1", std::net::Ipv6Addr::LOCALHOST.octets().to_vec()),
        ] {
            let (cert_der, _) = tls_alpn01_certificate(ip, "t.k").unwrap();
            let cert = Certificate::from_der(&cert_der).unwrap();
            let (_, san) = cert
                .tbs_certificate()
                .get_extension::<SubjectAltName>()
                .unwrap()
                .unwrap();
            assert_eq!(
                san.0,
                vec![GeneralName::IpAddress(OctetString::new(octets).unwrap())],
                "{ip}"
            );
        }
    }

    #[test]
    fn each_call_uses_a_fresh_key() {
        let (_, a) = tls_alpn01_certificate("a.example.test", "x.y").unwrap();
        let (_, b) = tls_alpn01_certificate("a.example.test", "x.y").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn wildcards_and_bad_names_are_refused() {
        for (domain, field) in [("*.example.test", "domain"), ("no_such", "domain")] {
            match tls_alpn01_certificate(domain, "x.y").unwrap_err() {
                Error::Invalid { field: f, message } => {
                    assert_eq!(f, field);
                    assert!(message.contains(domain), "{message}");
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(matches!(
            tls_alpn01_certificate("a.example.test", ""),
            Err(Error::Invalid { field, .. }) if field == "key_authorization"
        ));
    }
}
