//! `csr_from_pem`: the `csr` a caller brings to `POST /v1/pki/issue` to keep its own key.
//!
//! Input (UTF-8): the order's domains, one per line, then an empty line, then the PEM text. The
//! domains go through `normalize_domains` first, as the order actor does. Beyond "does not panic":
//! a CSR is never accepted for no domains; an accepted CSR's DER is what the PEM held and parses
//! as PKCS#10; its names, read here independently, are all accepted domains and are exactly the
//! order's (RFC 8555 §7.4); the verdict does not depend on the order or case of the domains.
#![no_main]

use std::collections::BTreeSet;
use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use scaivault_domain::Error;
use scaivault_domain::pki::{csr_from_pem, normalize_domains};
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::{Decode, pem};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::{DirectoryString, GeneralName};
use x509_cert::request::CertReq;

const ID_EXTENSION_REQ: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.14");
const ID_CE_SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (domains_part, pem_text) = text.split_once("\n\n").unwrap_or(("", text));
    let raw: Vec<String> = domains_part
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();

    // A CSR always names something, so it never matches an empty order.
    expect_refused(csr_from_pem(pem_text, &[]), pem_text);

    let Ok(domains) = normalize_domains(&raw, true) else {
        return;
    };
    let der = match csr_from_pem(pem_text, &domains) {
        Ok(der) => der,
        Err(e) => return expect_refused(Err(e), pem_text),
    };
    let req = CertReq::from_der(&der).expect("accepted DER parses as PKCS#10");
    let trimmed = pem_text.trim();
    let block = &trimmed[trimmed
        .find("-----BEGIN")
        .expect("accepted PEM has a BEGIN line")..];
    let (_, pem_der) = pem::decode_vec(block.as_bytes()).expect("accepted PEM decodes");
    assert_eq!(pem_der, der, "the DER returned is not the PEM's");

    let want: BTreeSet<String> = domains.iter().cloned().collect();
    let got: BTreeSet<String> = names_of(&req)
        .iter()
        .map(|n| n.to_ascii_lowercase())
        .collect();
    assert_eq!(got, want, "accepted a CSR whose names are not the order's");
    for name in &got {
        match normalize_domains(std::slice::from_ref(name), true) {
            Ok(n) => assert_eq!(&n[0], name, "CSR name {name:?} is not in normal form"),
            Err(e) => panic!("accepted a CSR naming {name:?}, which is not a valid domain: {e}"),
        }
    }

    // Order and case of the order's domains do not matter.
    let mut shuffled: Vec<String> = domains
        .iter()
        .rev()
        .map(|d| d.to_ascii_uppercase())
        .collect();
    let half = shuffled.len() / 2;
    shuffled.rotate_left(half);
    assert_eq!(
        csr_from_pem(pem_text, &shuffled).ok().as_ref(),
        Some(&der),
        "the verdict depends on the order or case of the domains"
    );
});

fn expect_refused(result: scaivault_domain::Result<Vec<u8>>, pem_text: &str) {
    match result {
        Ok(_) => panic!("accepted {pem_text:?} for an order with no domains"),
        Err(Error::Invalid { field, .. }) => assert_eq!(field, "csr"),
        Err(other) => panic!("refusals must be Error::Invalid(csr), got {other:?}"),
    }
}

/// Every subjectAltName dNSName and iPAddress (as canonical text; any other length as hex, which
/// no order can match) in every extensionRequest, and every subject common name: what a CA may
/// put into the certificate.
fn names_of(req: &CertReq) -> Vec<String> {
    let mut names = Vec::new();
    for attr in req.info.attributes.iter() {
        if attr.oid != ID_EXTENSION_REQ {
            continue;
        }
        for value in attr.values.iter() {
            let Ok(extensions) = value.decode_as::<Vec<Extension>>() else {
                continue;
            };
            for ext in extensions
                .iter()
                .filter(|e| e.extn_id == ID_CE_SUBJECT_ALT_NAME)
            {
                let Ok(san) = SubjectAltName::from_der(ext.extn_value.as_bytes()) else {
                    continue;
                };
                for name in san.0 {
                    match name {
                        GeneralName::DnsName(dns) => names.push(dns.to_string()),
                        GeneralName::IpAddress(octets) => {
                            let bytes = octets.as_bytes();
                            names.push(match bytes.len() {
                                4 => IpAddr::from(<[u8; 4]>::try_from(bytes).expect("4")).to_string(),
                                16 => {
                                    IpAddr::from(<[u8; 16]>::try_from(bytes).expect("16")).to_string()
                                }
                                _ => bytes.iter().map(|b| format!("{b:02x}")).collect(),
                            });
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    for atv in req.info.subject.iter() {
        if atv.oid == COMMON_NAME
            && let Ok(cn) = atv.value.decode_as::<DirectoryString>()
        {
            names.push(cn.value().into_owned());
        }
    }
    names
}
