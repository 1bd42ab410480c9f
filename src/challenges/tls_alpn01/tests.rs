//! The responder against real TLS clients, on a store with a pending order.

use super::*;

use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{ServerName, SubjectPublicKeyInfoDer, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use scaivault_domain::account::{AccountRecord, AccountStatus};
use scaivault_domain::ids;
use scaivault_domain::order::{ChallengeRecord, ChallengeType, OrderRecord, OrderStatus};
use scaivault_domain::pki::KeyType;
use scaivault_domain::provider::{Environment, Provider};
use scaivault_domain::timestamp::now;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use x509_cert::Certificate;
use x509_cert::der::asn1::{ObjectIdentifier, OctetString};
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

const DOMAIN: &str = "a.example.test";
const KEY_AUTHORIZATION: &str =
    "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";
const ID_PE_ACME_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.31");

/// A SQLite store holding one pending order for `domain` with a tls-alpn-01 challenge.
async fn store_with_challenge(
    domain: &str,
    key_authorization: &str,
) -> (SharedStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let store: SharedStore = scaivault_store::connect(&url).await.expect("open sqlite");
    let account = AccountRecord {
        id: ids::new_id("acme"),
        name: "tls-alpn".into(),
        provider: Provider::Custom,
        environment: Environment::Staging,
        directory_url: "https://127.0.0.1:14000/dir".into(),
        email: "certs@acme.example".into(),
        status: AccountStatus::Active,
        account_url: "https://127.0.0.1:14000/my-account/1".into(),
        eab_kid: None,
        created_at: now(),
        deactivated_at: None,
        key_thumbprint: None,
        key_rolled_at: None,
    };
    store
        .insert_account(&account, b"sealed")
        .await
        .expect("insert account");
    let order = OrderRecord {
        id: ids::new_id("ord"),
        account_id: account.id.clone(),
        certificate_id: None,
        domains: vec![domain.into()],
        challenge_type: ChallengeType::TlsAlpn01,
        key_type: KeyType::EcdsaP256,
        csr_pem: None,
        profile: None,
        auto_renew: true,
        dns_provider_id: None,
        status: OrderStatus::Pending,
        order_url: "https://127.0.0.1:14000/my-order/1".into(),
        error: None,
        ca_attempts: 1,
        not_after: None,
        created_at: now(),
        updated_at: now(),
    };
    let challenge = ChallengeRecord {
        order_id: order.id.clone(),
        domain: domain.into(),
        challenge_type: ChallengeType::TlsAlpn01,
        status: "pending".into(),
        token: "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA".into(),
        key_authorization: key_authorization.into(),
        authorization_url: "https://127.0.0.1:14000/authz/1".into(),
        challenge_url: "https://127.0.0.1:14000/chall/1".into(),
        error: None,
    };
    store
        .insert_order(&order, &[challenge])
        .await
        .expect("insert order");
    (store, dir)
}

struct Responder {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    _dir: tempfile::TempDir,
}

/// Limits like the default configuration's, with this handshake timeout.
fn limits(handshake_timeout: Duration) -> Limits {
    Limits {
        header_timeout: handshake_timeout,
        request_timeout: Duration::from_secs(120),
        idle_timeout: Duration::from_secs(60),
        max_connections: 1024,
    }
}

async fn start_with(handshake_timeout: Duration) -> Responder {
    let (store, dir) = store_with_challenge(DOMAIN, KEY_AUTHORIZATION).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, shutdown) = watch::channel(false);
    let task = tokio::spawn(run(listener, store, limits(handshake_timeout), shutdown));
    Responder {
        addr,
        stop,
        task,
        _dir: dir,
    }
}

async fn start() -> Responder {
    start_with(Duration::from_secs(10)).await
}

/// Trusts any certificate, as a CA does for tls-alpn-01 (the certificate is self-signed by
/// design), but still checks the handshake signature with the certificate's key.
///
/// rustls's own signature helpers parse the certificate with webpki, which refuses the
/// critical acmeIdentifier extension; so the key is taken out of the certificate here and
/// checked as a raw public key. The responder's key is P-256, whose TLS 1.2 and TLS 1.3
/// signature schemes coincide (`ecdsa_secp256r1_sha256`), so one check serves both versions.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl AnyCertificate {
    fn verify(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let spki = Certificate::from_der(cert.as_ref())
            .and_then(|cert| cert.tbs_certificate().subject_public_key_info().to_der())
            .map_err(|e| rustls::Error::General(format!("unparsable certificate: {e}")))?;
        rustls::crypto::verify_tls13_signature_with_raw_key(
            message,
            &SubjectPublicKeyInfoDer::from(spki),
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ECDSA_NISTP256_SHA256]
    }
}

fn client_config(
    alpn: &[&[u8]],
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> ClientConfig {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config
}

async fn connect_with(
    addr: SocketAddr,
    sni: &str,
    config: ClientConfig,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(sni.to_owned()).expect("server name");
    let connect = TlsConnector::from(Arc::new(config)).connect(name, tcp);
    tokio::time::timeout(Duration::from_secs(10), connect)
        .await
        .expect("the handshake ends in time")
}

async fn connect(
    addr: SocketAddr,
    sni: &str,
    alpn: &[&[u8]],
) -> std::io::Result<TlsStream<TcpStream>> {
    let versions = [&rustls::version::TLS13, &rustls::version::TLS12];
    connect_with(addr, sni, client_config(alpn, &versions)).await
}

/// Checks the certificate as a CA does (RFC 8737 §3): one DNS SAN naming the domain, and a
/// critical acmeIdentifier whose value is the DER OCTET STRING of SHA-256(key authorization).
fn assert_validation_certificate(tls: &TlsStream<TcpStream>) {
    let (_, connection) = tls.get_ref();
    assert_eq!(connection.alpn_protocol(), Some(ACME_TLS_ALPN));
    let chain = connection.peer_certificates().expect("a certificate");
    assert_eq!(chain.len(), 1, "only the validation certificate");
    let cert = Certificate::from_der(chain[0].as_ref()).expect("X.509");
    let tbs = cert.tbs_certificate();
    let acme = tbs
        .extensions()
        .expect("extensions")
        .iter()
        .find(|e| e.extn_id == ID_PE_ACME_IDENTIFIER)
        .expect("acmeIdentifier extension");
    assert!(acme.critical, "acmeIdentifier must be critical");
    let digest = Sha256::digest(KEY_AUTHORIZATION.as_bytes());
    let mut expected = vec![0x04, 0x20];
    expected.extend_from_slice(&digest);
    assert_eq!(acme.extn_value.as_bytes(), expected.as_slice());
    let value = OctetString::from_der(acme.extn_value.as_bytes()).expect("OCTET STRING");
    assert_eq!(value.as_bytes(), digest.as_slice());
    let (_, san) = tbs
        .get_extension::<SubjectAltName>()
        .expect("SAN decodes")
        .expect("SAN present");
    assert_eq!(
        san.0,
        vec![GeneralName::DnsName(DOMAIN.to_owned().try_into().unwrap())]
    );
}

async fn stop(responder: Responder) {
    responder.stop.send(true).expect("responder listening");
    tokio::time::timeout(Duration::from_secs(5), responder.task)
        .await
        .expect("run returns after shutdown")
        .expect("run did not panic");
}

#[tokio::test]
async fn tls_alpn01_presents_the_acme_identifier_certificate() {
    let responder = start().await;
    let mut tls = connect(responder.addr, DOMAIN, &[ACME_TLS_ALPN])
        .await
        .expect("handshake");
    assert_validation_certificate(&tls);
    let (_, connection) = tls.get_ref();
    assert_eq!(
        connection.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    // The responder closes after the handshake: nothing but close_notify follows.
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut rest))
        .await
        .expect("the responder closes");
    assert!(read.is_ok(), "{read:?}");
    assert!(rest.is_empty());
    stop(responder).await;
}

#[tokio::test]
async fn tls_alpn01_answers_over_tls12_and_other_offered_protocols() {
    let responder = start().await;
    let tls12 = client_config(&[ACME_TLS_ALPN], &[&rustls::version::TLS12]);
    let tls = connect_with(responder.addr, DOMAIN, tls12)
        .await
        .expect("TLS 1.2 handshake");
    assert_validation_certificate(&tls);
    assert_eq!(
        tls.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
    // Offered alongside others, acme-tls/1 is still the only protocol negotiated.
    let tls = connect(responder.addr, DOMAIN, &[b"h2", ACME_TLS_ALPN, b"http/1.1"])
        .await
        .expect("handshake");
    assert_validation_certificate(&tls);
    stop(responder).await;
}

#[tokio::test]
async fn tls_alpn01_matches_the_sni_name_case_insensitively() {
    let responder = start().await;
    let tls = connect(responder.addr, "A.Example.TEST", &[ACME_TLS_ALPN])
        .await
        .expect("handshake");
    assert_validation_certificate(&tls);
    stop(responder).await;
}

#[tokio::test]
async fn tls_alpn01_refuses_clients_not_offering_acme_tls() {
    let responder = start().await;
    let no_alpn = connect(responder.addr, DOMAIN, &[]).await;
    assert!(no_alpn.is_err(), "no ALPN must not get a certificate");
    let h2 = connect(responder.addr, DOMAIN, &[b"h2", b"http/1.1"]).await;
    assert!(h2.is_err(), "h2 must not get a certificate");
    // The responder still serves a real validation afterwards.
    let tls = connect(responder.addr, DOMAIN, &[ACME_TLS_ALPN])
        .await
        .expect("handshake");
    assert_validation_certificate(&tls);
    stop(responder).await;
}

#[tokio::test]
async fn tls_alpn01_refuses_unknown_or_missing_names() {
    let responder = start().await;
    let unknown = connect(responder.addr, "b.example.test", &[ACME_TLS_ALPN]).await;
    assert!(unknown.is_err(), "no pending challenge for b.example.test");
    let mut no_sni = client_config(
        &[ACME_TLS_ALPN],
        &[&rustls::version::TLS13, &rustls::version::TLS12],
    );
    no_sni.enable_sni = false;
    let no_sni = connect_with(responder.addr, DOMAIN, no_sni).await;
    assert!(
        no_sni.is_err(),
        "a hello without SNI names nothing to validate"
    );
    stop(responder).await;
}

#[tokio::test]
async fn tls_alpn01_closes_silent_connections_after_the_timeout() {
    let responder = start_with(Duration::from_millis(200)).await;
    let mut tcp = TcpStream::connect(responder.addr).await.expect("connect");
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf))
        .await
        .expect("the responder gives up on a silent client");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    stop(responder).await;
}

#[tokio::test]
async fn tls_alpn01_run_returns_on_shutdown_or_dropped_sender() {
    let responder = start().await;
    // A connection stuck in its handshake does not hold up shutdown.
    let _idle = TcpStream::connect(responder.addr).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(50)).await;
    stop(responder).await;

    let (store, _dir) = store_with_challenge(DOMAIN, KEY_AUTHORIZATION).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let (sender, shutdown) = watch::channel(false);
    let task = tokio::spawn(run(
        listener,
        store,
        limits(Duration::from_secs(10)),
        shutdown,
    ));
    drop(sender);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("run returns once the sender is dropped")
        .expect("run did not panic");
}

/// RFC 8738 §6: for an IP identifier the validator sends the address's reverse-mapping name as
/// SNI, and the certificate names the address itself.
#[tokio::test]
async fn tls_alpn01_answers_an_ip_identifier_by_its_reverse_name() {
    for (ip, sni, octets) in [
        ("127.0.0.1", "1.0.0.127.in-addr.arpa", vec![127, 0, 0, 1]),
        (
            "::1",
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.IP6.ARPA",
            std::net::Ipv6Addr::LOCALHOST.octets().to_vec(),
        ),
    ] {
        let (store, _dir) = store_with_challenge(ip, KEY_AUTHORIZATION).await;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop_tx, shutdown) = watch::channel(false);
        let task = tokio::spawn(run(
            listener,
            store,
            limits(Duration::from_secs(10)),
            shutdown,
        ));
        let tls = connect(addr, sni, &[ACME_TLS_ALPN])
            .await
            .unwrap_or_else(|e| panic!("{ip}: handshake: {e}"));
        let (_, connection) = tls.get_ref();
        let chain = connection.peer_certificates().expect("a certificate");
        let cert = Certificate::from_der(chain[0].as_ref()).expect("X.509");
        let (_, san) = cert
            .tbs_certificate()
            .get_extension::<SubjectAltName>()
            .expect("SAN decodes")
            .expect("SAN present");
        assert_eq!(
            san.0,
            vec![GeneralName::IpAddress(
                OctetString::new(octets).expect("octets")
            )],
            "{ip}"
        );
        // The address's reverse name only: a shorter reverse name (a network) is not served.
        assert!(
            connect(addr, "0.0.127.in-addr.arpa", &[ACME_TLS_ALPN])
                .await
                .is_err()
        );
        stop(Responder {
            addr,
            stop: stop_tx,
            task,
            _dir: tempfile::tempdir().expect("tempdir"),
        })
        .await;
    }
}
