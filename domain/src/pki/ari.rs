//! The certificate identifier of ACME Renewal Information ([RFC 9773 §4.1]): how the renewal
//! window of a certificate is asked for, and how a renewal order names the certificate it
//! `replaces` ([RFC 9773 §5]).
//!
//! [RFC 9773 §4.1]: https://www.rfc-editor.org/rfc/rfc9773.html#section-4.1
//! [RFC 9773 §5]: https://www.rfc-editor.org/rfc/rfc9773.html#section-5

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use x509_cert::ext::pkix::AuthorityKeyIdentifier;

use super::chain::load_chain;
use crate::{Error, Result};

/// `base64url(keyIdentifier of the leaf's Authority Key Identifier) "." base64url(the DER
/// content octets of its serial number)`, both unpadded (RFC 9773 §4.1). A leaf without an AKI
/// key identifier has no ARI identity: CAs that offer ARI always include one.
pub fn renewal_cert_id(chain_pem: &str) -> Result<String> {
    let certs = load_chain(chain_pem)?;
    let leaf = certs[0].tbs_certificate();
    let aki = leaf
        .get_extension::<AuthorityKeyIdentifier>()
        .map_err(|e| {
            Error::invalid(
                "certificate",
                format!("the leaf's authorityKeyIdentifier does not parse: {e}"),
            )
        })?
        .and_then(|(_critical, aki)| aki.key_identifier)
        .ok_or_else(|| {
            Error::invalid(
                "certificate",
                "the leaf has no authorityKeyIdentifier keyIdentifier (RFC 9773 §4.1 needs one)",
            )
        })?;
    Ok(format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(aki.as_bytes()),
        URL_SAFE_NO_PAD.encode(leaf.serial_number().as_bytes())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of RFC 9773 §4.1: AKI keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4
    /// and serial 00:87:65:43:21 give `aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE`.
    #[test]
    fn rfc_example_encoding() {
        let aki = hex::decode("69885B6B87464041E1B37B847BA0AE2CDE01C8D4").expect("hex");
        let serial = hex::decode("0087654321").expect("hex");
        assert_eq!(
            format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(aki),
                URL_SAFE_NO_PAD.encode(serial)
            ),
            "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
        );
    }

    #[test]
    fn a_certificate_without_aki_is_refused() {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["a.example".into()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        let err = renewal_cert_id(&cert.pem()).expect_err("no AKI");
        assert!(err.to_string().contains("authorityKeyIdentifier"), "{err}");
    }

    #[test]
    fn reads_aki_and_serial_of_an_issued_leaf() {
        let ca_key = rcgen::KeyPair::generate().expect("key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.key_identifier_method = rcgen::KeyIdMethod::PreSpecified(vec![7; 20]);
        let ca = ca_params.self_signed(&ca_key).expect("ca");
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let leaf_key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(vec!["a.example".into()]).expect("params");
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&[
            0x00, 0x87, 0x65, 0x43, 0x21,
        ]));
        let leaf = params.signed_by(&leaf_key, &issuer).expect("leaf");
        let chain = format!("{}{}", leaf.pem(), ca.pem());
        let id = renewal_cert_id(&chain).expect("id");
        assert_eq!(id, format!("{}.AIdlQyE", URL_SAFE_NO_PAD.encode([7u8; 20])));
    }
}
