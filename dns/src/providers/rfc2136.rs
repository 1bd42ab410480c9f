//! The `rfc2136` provider: dns-01 TXT records (RFC 8555 §8.4) written with DNS UPDATE (RFC 2136)
//! signed with TSIG (RFC 8945), as BIND, Knot, PowerDNS and most self-hosted DNS accept.
//!
//! hickory-proto builds the UPDATE messages and the TSIG wire format; the MAC itself is computed
//! with aws-lc-rs, because hickory-proto 0.26 refuses to compute hmac-sha1, which older
//! deployments still use (RFC 8945 §6 lists it as MUST-implement).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_lc_rs::hmac;
use base64::Engine as _;
use hickory_proto::op::{Message, ResponseCode, update_message};
use hickory_proto::rr::rdata::tsig::{
    TSIG, TsigAlgorithm, make_tsig_record, message_tbs, signed_bitmessage_to_buf,
};
use hickory_proto::rr::{Name, RecordSet, RecordType};

use crate::config::ResolvedConfig;
use crate::dns_client::{self, ExchangeError};
use crate::error::DnsError;
use crate::provider::DnsProvider;

/// TTL of the challenge record: short, so a stale value is not cached long after cleanup.
const TXT_TTL: u32 = 60;
/// How long one UDP try may take (the primary may be far away or busy committing its journal).
const TIMEOUT: Duration = Duration::from_secs(5);
/// One try plus two retries. Retrying an UPDATE is safe: adding an RR that is there and deleting
/// one that is not are both no-ops (RFC 2136 §3.4.2.2, §2.5.4).
const ATTEMPTS: u32 = 3;
/// Allowed clock difference between us and the server (RFC 8945 §10 recommends 300 s).
const FUDGE: u16 = 300;

/// DNS UPDATE with TSIG against one primary nameserver.
pub struct Rfc2136 {
    nameserver: SocketAddr,
    key_name: Name,
    algorithm: Algorithm,
    key: hmac::Key,
    zone: Option<Name>,
}

impl fmt::Debug for Rfc2136 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rfc2136")
            .field("nameserver", &self.nameserver)
            .field("tsig_key_name", &self.key_name_text())
            .field("tsig_algorithm", &self.algorithm.label())
            .field("zone", &self.zone.as_ref().map(dns_client::name_text))
            .finish_non_exhaustive()
    }
}

/// The TSIG algorithms offered (RFC 8945 §6): the names operators write in `tsig_algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    HmacSha1,
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

impl Algorithm {
    fn parse(text: &str) -> Option<Self> {
        Some(
            match text
                .trim()
                .trim_end_matches('.')
                .to_ascii_lowercase()
                .as_str()
            {
                "hmac-sha1" => Algorithm::HmacSha1,
                "hmac-sha256" => Algorithm::HmacSha256,
                "hmac-sha384" => Algorithm::HmacSha384,
                "hmac-sha512" => Algorithm::HmacSha512,
                _ => return None,
            },
        )
    }

    fn label(self) -> &'static str {
        match self {
            Algorithm::HmacSha1 => "hmac-sha1",
            Algorithm::HmacSha256 => "hmac-sha256",
            Algorithm::HmacSha384 => "hmac-sha384",
            Algorithm::HmacSha512 => "hmac-sha512",
        }
    }

    fn hmac(self) -> hmac::Algorithm {
        match self {
            Algorithm::HmacSha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Algorithm::HmacSha256 => hmac::HMAC_SHA256,
            Algorithm::HmacSha384 => hmac::HMAC_SHA384,
            Algorithm::HmacSha512 => hmac::HMAC_SHA512,
        }
    }

    fn tsig(self) -> TsigAlgorithm {
        match self {
            Algorithm::HmacSha1 => TsigAlgorithm::HmacSha1,
            Algorithm::HmacSha256 => TsigAlgorithm::HmacSha256,
            Algorithm::HmacSha384 => TsigAlgorithm::HmacSha384,
            Algorithm::HmacSha512 => TsigAlgorithm::HmacSha512,
        }
    }
}

impl Rfc2136 {
    /// Reads `nameserver` ("IP:port", or an IP for port 53), `tsig_key_name`, `tsig_algorithm`
    /// (hmac-sha256 when absent; hmac-sha512, hmac-sha384, hmac-sha1), `tsig_secret` (base64,
    /// the resolved `tsig_secret_path`) and the optional `zone`; without it the zone is found
    /// by asking the nameserver for SOA records.
    pub fn new(config: &ResolvedConfig) -> Result<Self, DnsError> {
        let ns_text = config.required("nameserver")?.trim();
        let nameserver = ns_text
            .parse::<SocketAddr>()
            .or_else(|_| ns_text.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
            .map_err(|_| {
                DnsError::Config(format!(
                    "nameserver must be IP:port (e.g. 192.0.2.53:53), got {ns_text:?}"
                ))
            })?;
        let key_name_text = config.required("tsig_key_name")?;
        let key_name = dns_client::parse_name(key_name_text)
            .map_err(|e| DnsError::Config(format!("tsig_key_name: {e}")))?;
        let algorithm_text = config.optional("tsig_algorithm").unwrap_or("hmac-sha256");
        let algorithm = Algorithm::parse(algorithm_text).ok_or_else(|| {
            DnsError::Config(format!(
                "tsig_algorithm {algorithm_text:?} is not one of hmac-sha256, hmac-sha512, \
                 hmac-sha384, hmac-sha1"
            ))
        })?;
        let secret: String = config
            .required("tsig_secret")?
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let secret = base64::engine::general_purpose::STANDARD
            .decode(&secret)
            .map_err(|_| DnsError::Config("tsig_secret is not base64".into()))?;
        if secret.is_empty() {
            return Err(DnsError::Config("tsig_secret is empty".into()));
        }
        let zone = config
            .optional("zone")
            .map(dns_client::parse_name)
            .transpose()
            .map_err(|e| DnsError::Config(format!("zone: {e}")))?;
        Ok(Self {
            nameserver,
            key_name,
            algorithm,
            key: hmac::Key::new(algorithm.hmac(), &secret),
            zone,
        })
    }

    fn key_name_text(&self) -> String {
        dns_client::name_text(&self.key_name)
    }

    /// The zone to name in the UPDATE's zone section (RFC 2136 §2.3): the configured one, or
    /// the owner of the SOA the nameserver reveals for `name` or one of its parents.
    async fn zone_for(&self, name: &Name) -> Result<Name, DnsError> {
        if let Some(zone) = &self.zone {
            if !zone.zone_of(name) {
                return Err(DnsError::Rejected(format!(
                    "{} is not in the configured zone {}",
                    dns_client::name_text(name),
                    dns_client::name_text(zone)
                )));
            }
            return Ok(zone.clone());
        }
        let server = self.nameserver;
        dns_client::soa_walk(name, |candidate| async move {
            dns_client::query(
                server,
                &candidate,
                RecordType::SOA,
                false,
                TIMEOUT,
                ATTEMPTS,
            )
            .await
            .map_err(|e| self.transport_error(&e))
        })
        .await?
        .ok_or_else(|| {
            DnsError::Rejected(format!(
                "nameserver {server} is authoritative for no zone containing {}",
                dns_client::name_text(name)
            ))
        })
    }

    /// The UPDATE that adds or deletes the one TXT RR `value` at `fqdn`.
    async fn update(&self, fqdn: &str, value: &str, add: bool) -> Result<(), DnsError> {
        let name = dns_client::parse_name(fqdn)?;
        let zone = self.zone_for(&name).await?;
        let mut rrset = RecordSet::with_ttl(name, RecordType::TXT, TXT_TTL);
        rrset.add_rdata(dns_client::txt_rdata(value));
        let message = if add {
            // RFC 2136 §2.5.1 add to an RRset, no prerequisite: a duplicate RR is silently
            // ignored (§3.4.2.2), so adding twice succeeds and other values stay.
            update_message::append(rrset, zone.clone(), false, false)
        } else {
            // RFC 2136 §2.5.4 delete an RR from an RRset: CLASS NONE, TTL 0, matching RDATA;
            // other values stay, and deleting a value that is not there is a no-op.
            update_message::delete_by_rdata(rrset, zone.clone(), false)
        };
        self.send(message, &zone).await
    }

    /// Signs `message` (RFC 8945 §5.1), sends it, verifies a signed answer (§5.3) and maps its
    /// RCODE.
    async fn send(&self, mut message: Message, zone: &Name) -> Result<(), DnsError> {
        let now = unix_now();
        let request_mac = self.sign(&mut message, now)?;
        let bytes = message
            .to_vec()
            .map_err(|e| DnsError::Rejected(format!("cannot encode the UPDATE: {e}")))?;
        let answer = dns_client::exchange(self.nameserver, &bytes, TIMEOUT, ATTEMPTS)
            .await
            .map_err(|e| self.transport_error(&e))?;
        let response = Message::from_vec(&answer).map_err(|e| {
            DnsError::Server(format!(
                "nameserver {} sent an undecodable answer: {e}",
                self.nameserver
            ))
        })?;
        let rcode = response.metadata.response_code;
        let zone = dns_client::name_text(zone);

        if let Some(tsig) = &response.signature {
            // RFC 8945 §5.3.2: BADSIG/BADKEY answers are unsigned, BADTIME ones signed; either
            // way the server did not accept our key.
            if let Some(error) = tsig.data.error {
                return Err(DnsError::Auth(format!(
                    "nameserver {} answered {rcode} with TSIG error {error:?} for key {} ({}) \
                     on zone {zone}",
                    self.nameserver,
                    self.key_name_text(),
                    self.algorithm.label()
                )));
            }
            self.verify(&answer, &request_mac, now)?;
        }

        match rcode {
            ResponseCode::NoError => Ok(()),
            ResponseCode::Refused
            | ResponseCode::NotAuth
            | ResponseCode::BADSIG
            | ResponseCode::BADKEY
            | ResponseCode::BADTIME => Err(DnsError::Auth(format!(
                "nameserver {} answered {rcode} to an UPDATE of zone {zone} signed with TSIG \
                 key {} ({})",
                self.nameserver,
                self.key_name_text(),
                self.algorithm.label()
            ))),
            ResponseCode::ServFail => Err(DnsError::Server(format!(
                "nameserver {} answered SERVFAIL to an UPDATE of zone {zone}",
                self.nameserver
            ))),
            other => Err(DnsError::Rejected(format!(
                "nameserver {} answered {} to an UPDATE of zone {zone}",
                self.nameserver,
                other.to_str()
            ))),
        }
    }

    /// Adds the TSIG RR (RFC 8945 §4.2, §4.3.3) and returns the request MAC, which the answer's
    /// MAC covers (§4.3.1).
    fn sign(&self, message: &mut Message, now: u64) -> Result<Vec<u8>, DnsError> {
        let stub = TSIG::new(
            self.algorithm.tsig(),
            now,
            FUDGE,
            Vec::new(),
            message.metadata.id,
            None,
            Vec::new(),
        );
        let tbs = message_tbs(&*message, &stub, &self.key_name)
            .map_err(|e| DnsError::Rejected(format!("cannot encode the UPDATE for TSIG: {e}")))?;
        let mac = hmac::sign(&self.key, &tbs).as_ref().to_vec();
        message.set_signature(Box::new(make_tsig_record(
            self.key_name.clone(),
            stub.set_mac(mac.clone()),
        )));
        Ok(mac)
    }

    /// Checks a signed answer (RFC 8945 §5.3): our key and algorithm, a MAC over the request MAC
    /// and the answer, and a time within the fudge. A forged or replayed answer could claim an
    /// UPDATE succeeded when it did not.
    fn verify(&self, answer: &[u8], request_mac: &[u8], now: u64) -> Result<(), DnsError> {
        let fail = |why: String| {
            DnsError::Auth(format!(
                "the answer from {} failed TSIG verification with key {}: {why}",
                self.nameserver,
                self.key_name_text()
            ))
        };
        let (tbv, record) = signed_bitmessage_to_buf(answer, Some(request_mac), true)
            .map_err(|e| fail(e.to_string()))?;
        let tsig = &record.data;
        if !record.name.eq_ignore_root_case(&self.key_name)
            || tsig.algorithm != self.algorithm.tsig()
        {
            return Err(fail(format!(
                "signed with key {} ({})",
                dns_client::name_text(&record.name),
                tsig.algorithm.to_name()
            )));
        }
        hmac::verify(&self.key, &tbv, &tsig.mac).map_err(|_| fail("bad MAC".into()))?;
        if now.abs_diff(tsig.time) > u64::from(tsig.fudge) {
            return Err(fail(format!(
                "signed at {} but the time here is {now} (fudge {} s)",
                tsig.time, tsig.fudge
            )));
        }
        Ok(())
    }

    fn transport_error(&self, error: &ExchangeError) -> DnsError {
        match error {
            ExchangeError::Malformed(why) => {
                DnsError::Server(format!("nameserver {}: {why}", self.nameserver))
            }
            other => DnsError::Transport(format!("nameserver {}: {other}", self.nameserver)),
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[async_trait]
impl DnsProvider for Rfc2136 {
    async fn present(&self, fqdn: &str, value: &str) -> Result<(), DnsError> {
        self.update(fqdn, value, true).await
    }

    /// The configured zone, or the one the nameserver is authoritative for (its SOA).
    async fn zone_of(&self, fqdn: &str) -> Result<Option<String>, DnsError> {
        let name = dns_client::parse_name(fqdn)?;
        match self.zone_for(&name).await {
            Ok(zone) => Ok(Some(dns_client::name_text(&zone))),
            Err(DnsError::Rejected(_)) => Ok(None),
            Err(other) => Err(other),
        }
    }

    async fn clean_up(&self, fqdn: &str, value: &str) -> Result<(), DnsError> {
        self.update(fqdn, value, false).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn config(pairs: &[(&str, &str)]) -> ResolvedConfig {
        ResolvedConfig::new(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    const BASE: &[(&str, &str)] = &[
        ("nameserver", "127.0.0.1:5353"),
        ("tsig_key_name", "acme-key"),
        ("tsig_secret", "c2VjcmV0c2VjcmV0"),
    ];

    #[test]
    fn defaults_to_hmac_sha256() {
        let p = Rfc2136::new(&config(BASE)).unwrap();
        assert_eq!(p.algorithm, Algorithm::HmacSha256);
        assert_eq!(p.nameserver, "127.0.0.1:5353".parse().unwrap());
        assert!(p.zone.is_none());
        // Debug names the key but never prints the secret.
        let debug = format!("{p:?}");
        assert!(debug.contains("acme-key") && !debug.contains("c2VjcmV0"));
    }

    #[test]
    fn rejects_bad_config() {
        let with = |k: &'static str, v: &'static str| {
            let mut pairs = BASE.to_vec();
            pairs.retain(|(key, _)| *key != k);
            pairs.push((k, v));
            Rfc2136::new(&config(&pairs)).unwrap_err()
        };
        assert!(matches!(
            with("nameserver", "ns1.example"),
            DnsError::Config(_)
        ));
        assert!(matches!(
            with("tsig_algorithm", "hmac-md5"),
            DnsError::Config(_)
        ));
        assert!(matches!(with("tsig_secret", "%%%"), DnsError::Config(_)));
        assert!(matches!(
            Rfc2136::new(&config(&BASE[..2])).unwrap_err(),
            DnsError::Config(m) if m.contains("tsig_secret")
        ));
        let mut pairs = BASE.to_vec();
        pairs[0] = ("nameserver", "192.0.2.1");
        pairs.push(("tsig_algorithm", "HMAC-SHA1"));
        let p = Rfc2136::new(&config(&pairs)).unwrap();
        assert_eq!(p.nameserver, "192.0.2.1:53".parse().unwrap());
        assert_eq!(p.algorithm, Algorithm::HmacSha1);
    }

    #[test]
    fn signed_request_verifies_like_a_response() {
        let p = Rfc2136::new(&config(BASE)).unwrap();
        let name = dns_client::parse_name("_acme-challenge.example.test").unwrap();
        let zone = dns_client::parse_name("example.test").unwrap();
        let mut rrset = RecordSet::with_ttl(name, RecordType::TXT, TXT_TTL);
        rrset.add_rdata(dns_client::txt_rdata("v"));
        let mut message = update_message::append(rrset, zone, false, false);
        let now = unix_now();
        p.sign(&mut message, now).unwrap();
        let bytes = message.to_vec().unwrap();
        // The request itself verifies with no previous MAC.
        let (tbv, record) = signed_bitmessage_to_buf(&bytes, None, true).unwrap();
        hmac::verify(&p.key, &tbv, &record.data.mac).unwrap();
        assert_eq!(record.data.algorithm, TsigAlgorithm::HmacSha256);
    }

    /// A response signed as a server signs it (RFC 8945 §5.3, hickory's server-side signer)
    /// verifies; a tampered one, or one answering another request, does not.
    #[test]
    fn response_tsig_is_verified() {
        use hickory_proto::rr::{TSigResponseContext, TSigner};

        let p = Rfc2136::new(&config(BASE)).unwrap();
        let secret = base64::engine::general_purpose::STANDARD
            .decode("c2VjcmV0c2VjcmV0")
            .unwrap();
        let signer =
            TSigner::new(secret, TsigAlgorithm::HmacSha256, p.key_name.clone(), FUDGE).unwrap();
        let zone = dns_client::parse_name("example.test").unwrap();
        let mut request = update_message::append(
            RecordSet::with_ttl(zone.clone(), RecordType::TXT, TXT_TTL),
            zone,
            false,
            false,
        );
        let now = unix_now();
        let request_mac = p.sign(&mut request, now).unwrap();

        let response = Message::response(request.metadata.id, request.metadata.op_code);
        let unsigned = response.to_vec().unwrap();
        let tsig =
            TSigResponseContext::new(request.metadata.id, now, signer, request_mac.clone(), None)
                .sign(&unsigned)
                .unwrap();
        let mut signed = response;
        signed.set_signature(tsig);
        let bytes = signed.to_vec().unwrap();

        p.verify(&bytes, &request_mac, now).expect("valid response");
        assert!(matches!(
            p.verify(&bytes, &[0u8; 32], now),
            Err(DnsError::Auth(_))
        ));
        assert!(matches!(
            p.verify(&bytes, &request_mac, now + 3600),
            Err(DnsError::Auth(_))
        ));
        let mut tampered = bytes.clone();
        tampered[3] ^= 0x01; // flip a header flag bit (RCODE)
        assert!(matches!(
            p.verify(&tampered, &request_mac, now),
            Err(DnsError::Auth(_))
        ));
    }
}
