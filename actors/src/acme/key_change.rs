//! The account key change request (RFC 8555 §7.3.5), with a new key chosen by the caller.
//!
//! instant-acme 0.8 has `Account::update_key`, but it generates the new key itself and hands it
//! out only after the CA has accepted it: a crash in between would lose the one key the CA then
//! accepts. The service seals the new key into the store *before* asking the CA (see
//! `account::rollover`), so the request is built here from the keys' PKCS#8 documents: an inner
//! JWS signed by the new key (`jwk` header, no nonce; payload `{account, oldKey}`) as the payload
//! of an outer JWS signed by the old key (`kid` = the account URL, a fresh nonce), both ES256 —
//! instant-acme's account keys are ECDSA P-256, and so is the new one. It goes through the
//! account's own HTTP client (trust roots, outbound guard, limits, Retry-After, metrics).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{Method, Request, header};
use instant_acme::{BodyWrapper, BytesResponse, Error, HttpClient, Problem};
use serde::{Deserialize, Serialize};

/// An ES256 signing key from its PKCS#8 document.
pub(crate) struct SigningKey {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
}

impl SigningKey {
    /// The P-256 key in `pkcs8` (DER), as instant-acme stores account keys.
    pub(crate) fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, Error> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
            .map_err(|_| Error::KeyRejected)?;
        Ok(Self {
            pair,
            rng: SystemRandom::new(),
        })
    }

    /// The public key as a JWK (RFC 7518 §6.2).
    fn jwk(&self) -> Jwk {
        // An uncompressed point: 0x04, then x and y, 32 bytes each.
        let (x, y) = self.pair.public_key().as_ref()[1..].split_at(32);
        Jwk {
            crv: "P-256",
            kty: "EC",
            x: URL_SAFE_NO_PAD.encode(x),
            y: URL_SAFE_NO_PAD.encode(y),
        }
    }

    /// The RFC 7638 thumbprint of the public key (base64url SHA-256 of its canonical JWK),
    /// as it ends every key authorization made with this key (RFC 8555 §8.1).
    pub(crate) fn thumbprint(&self) -> Result<String, Error> {
        let canonical = serde_json::to_vec(&self.jwk())?;
        Ok(URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            &canonical,
        )))
    }

    /// A flattened JWS (RFC 7515 §7.2.2) of `payload` under `header`.
    fn sign(&self, header: &Protected<'_>, payload: &[u8]) -> Result<Jws, Error> {
        let protected = URL_SAFE_NO_PAD.encode(serde_json::to_vec(header)?);
        let payload = URL_SAFE_NO_PAD.encode(payload);
        let signature = self
            .pair
            .sign(&self.rng, format!("{protected}.{payload}").as_bytes())
            .map_err(|_| Error::Crypto)?;
        Ok(Jws {
            protected,
            payload,
            signature: URL_SAFE_NO_PAD.encode(signature.as_ref()),
        })
    }
}

/// An EC public key, its members in the order RFC 7638 hashes them.
#[derive(Debug, Serialize)]
struct Jwk {
    crv: &'static str,
    kty: &'static str,
    x: String,
    y: String,
}

/// A JWS protected header: `jwk` for the inner JWS, `kid` and `nonce` for the outer.
#[derive(Debug, Serialize)]
struct Protected<'a> {
    alg: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    jwk: Option<Jwk>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    url: &'a str,
}

#[derive(Debug, Serialize)]
struct Jws {
    protected: String,
    payload: String,
    signature: String,
}

/// The inner JWS's payload.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyChange<'a> {
    account: &'a str,
    old_key: Jwk,
}

/// The directory resources a key change needs.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Directory {
    new_nonce: String,
    key_change: Option<String>,
}

/// Where a key change is sent: the CA's `keyChange` and `newNonce` URLs.
pub(crate) struct KeyChangeTarget {
    key_change: String,
    new_nonce: String,
}

impl KeyChangeTarget {
    /// Reads the CA's directory; `Error::Unsupported` when it offers no `keyChange`.
    pub(crate) async fn discover(
        http: &dyn HttpClient,
        directory_url: &str,
    ) -> Result<Self, Error> {
        let request = Request::builder()
            .method(Method::GET)
            .uri(directory_url)
            .body(BodyWrapper::default())?;
        let body = success(http.request(request).await?).await?;
        let directory: Directory = serde_json::from_slice(&body)?;
        let key_change = directory.key_change.ok_or(Error::Unsupported(
            "account key rollover (no keyChange in the directory)",
        ))?;
        Ok(Self {
            key_change,
            new_nonce: directory.new_nonce,
        })
    }

    /// Asks the CA to move the account at `account_url` from `old` to `new` (one attempt, with
    /// a fresh nonce: a `badNonce` answer may simply be repeated).
    pub(crate) async fn change(
        &self,
        http: &dyn HttpClient,
        account_url: &str,
        old: &SigningKey,
        new: &SigningKey,
    ) -> Result<(), Error> {
        let url = self.key_change.as_str();
        let inner = new.sign(
            &Protected {
                alg: "ES256",
                jwk: Some(new.jwk()),
                kid: None,
                nonce: None,
                url,
            },
            &serde_json::to_vec(&KeyChange {
                account: account_url,
                old_key: old.jwk(),
            })?,
        )?;
        let nonce = self.nonce(http).await?;
        let outer = old.sign(
            &Protected {
                alg: "ES256",
                jwk: None,
                kid: Some(account_url),
                nonce: Some(&nonce),
                url,
            },
            &serde_json::to_vec(&inner)?,
        )?;
        let request = Request::builder()
            .method(Method::POST)
            .uri(url)
            .header(header::CONTENT_TYPE, "application/jose+json")
            .body(BodyWrapper::from(serde_json::to_vec(&outer)?))?;
        success(http.request(request).await?).await?;
        Ok(())
    }

    /// A fresh nonce from `newNonce` (RFC 8555 §7.2).
    async fn nonce(&self, http: &dyn HttpClient) -> Result<String, Error> {
        let request = Request::builder()
            .method(Method::HEAD)
            .uri(&self.new_nonce)
            .body(BodyWrapper::default())?;
        let response = http.request(request).await?;
        response
            .parts
            .headers
            .get("replay-nonce")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
            .ok_or(Error::Str("no Replay-Nonce from newNonce"))
    }
}

/// The body of a successful answer, or the CA's problem document as `Error::Api`.
async fn success(mut response: BytesResponse) -> Result<Bytes, Error> {
    let body = response.body.into_bytes().await.map_err(Error::Other)?;
    if response.parts.status.is_success() {
        return Ok(body);
    }
    Err(Error::Api(serde_json::from_slice::<Problem>(&body)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        let (_, pkcs8) = instant_acme::Key::generate_pkcs8().expect("key");
        SigningKey::from_pkcs8(pkcs8.secret_pkcs8_der()).expect("loads")
    }

    /// The thumbprint hashes the JWK with exactly its required members, in lexicographic order
    /// (RFC 7638 §3.2), as instant-acme does for key authorizations.
    #[test]
    fn thumbprint_of_the_canonical_jwk() {
        let signer = key();
        let thumb = signer.thumbprint().expect("thumbprint");
        assert_eq!(thumb.len(), 43, "base64url of 32 bytes, unpadded");
        assert!(
            serde_json::to_string(&signer.jwk())
                .expect("json")
                .starts_with(r#"{"crv":"P-256","kty":"EC","x":""#),
            "members in lexicographic order, nothing else"
        );
    }

    /// A signature verifies under the signer's public key over `protected.payload`.
    #[test]
    fn signs_a_verifiable_flattened_jws() {
        let signer = key();
        let jws = signer
            .sign(
                &Protected {
                    alg: "ES256",
                    jwk: Some(signer.jwk()),
                    kid: None,
                    nonce: None,
                    url: "https://ca.test/key-change",
                },
                br#"{"account":"https://ca.test/acct/1"}"#,
            )
            .expect("signs");
        let public = aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
            signer.pair.public_key().as_ref().to_vec(),
        );
        let signature = URL_SAFE_NO_PAD.decode(&jws.signature).expect("b64");
        assert_eq!(signature.len(), 64, "fixed-width r || s, as JWS wants");
        public
            .verify(
                format!("{}.{}", jws.protected, jws.payload).as_bytes(),
                &signature,
            )
            .expect("verifies");
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&jws.protected).expect("b64"))
                .expect("json");
        assert_eq!(header["alg"], "ES256");
        assert!(header.get("nonce").is_none() && header.get("kid").is_none());
    }
}
