//! `generate_key_and_csr` against `csr_from_pem`: the CSR the service makes for its own keys must
//! pass the check a caller's CSR goes through, for every list of names an order may carry.
//!
//! Input: UTF-8, one name per line. Properties: a list `normalize_domains` accepts (wildcards
//! allowed) always yields a CSR, a list it refuses never does, and that CSR, as PEM, is accepted
//! for exactly the normalised names, its DER unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scaivault_domain::pki::{KeyType, csr_from_pem, generate_key_and_csr, normalize_domains};
use x509_cert::der::pem::{LineEnding, encode_string};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let names: Vec<String> = text.split('\n').map(str::to_owned).collect();
    let normalized = normalize_domains(&names, true);
    // P-256: the cheapest key to generate, so the fuzzer spends its time on the names.
    let generated = generate_key_and_csr(KeyType::EcdsaP256, &names);
    let (domains, generated) = match (normalized, generated) {
        (Ok(domains), Ok(generated)) => (domains, generated),
        (Err(_), Err(_)) => return,
        (Ok(domains), Err(e)) => panic!("{names:?} -> {domains:?} is valid but no CSR: {e}"),
        (Err(e), Ok(_)) => panic!("{names:?} is refused ({e}) but got a CSR"),
    };
    assert!(
        generated
            .private_key_pem
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    let pem = encode_string("CERTIFICATE REQUEST", LineEnding::LF, &generated.csr_der)
        .expect("DER encodes as PEM");
    match csr_from_pem(&pem, &domains) {
        Ok(der) => assert_eq!(der, generated.csr_der, "{names:?}: DER changed"),
        Err(e) => panic!("{names:?}: our own CSR is refused: {e}"),
    }
});
