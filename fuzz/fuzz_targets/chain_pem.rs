//! `parse_chain` and `private_key_matches`: the PEM chain a CA returns
//! (`application/pem-certificate-chain`, RFC 8555 §7.4.2), which the service stores and serves.
//!
//! Input: UTF-8 PEM text. Beyond "does not panic": an accepted chain's serial is canonical (see
//! `normalize_serial`), its re-encoded PEM parses again to the very same facts (what is stored
//! reads back identically), and a chain `parse_chain` accepts always loads for the key check.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use scaivault_domain::Error;
use scaivault_domain::pki::{
    KeyType, generate_key_and_csr, normalize_serial, parse_chain, private_key_matches,
};

/// A P-256 key made once per run, only for `private_key_matches`; it matches no seed's leaf.
/// Generated rather than committed so the repository holds no private key.
fn key_pem() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| {
        generate_key_and_csr(KeyType::EcdsaP256, &["fuzz.example".to_owned()])
            .expect("a P-256 key")
            .private_key_pem
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let key_check = private_key_matches(text, key_pem());
    match parse_chain(text) {
        Ok(chain) => {
            assert_eq!(
                normalize_serial(&chain.serial).ok().as_deref(),
                Some(chain.serial.as_str()),
                "serial not canonical"
            );
            assert!(!chain.chain_pem.contains('\r'));
            match parse_chain(&chain.chain_pem) {
                Ok(again) => assert_eq!(again, chain, "the stored chain reads back differently"),
                Err(e) => panic!("the re-encoded chain is refused: {e}\n{}", chain.chain_pem),
            }
            assert!(
                key_check.is_ok(),
                "parse_chain accepted the chain but the key check could not load it: {key_check:?}"
            );
        }
        Err(Error::Invalid { field, .. }) => assert_eq!(field, "certificate"),
        Err(other) => panic!("refusals must be Error::Invalid(certificate), got {other:?}"),
    }
    if let Err(e) = key_check {
        assert!(matches!(e, Error::Invalid { .. }), "{e:?}");
    }
});
