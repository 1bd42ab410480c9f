//! tls-alpn-01 ([RFC 8737](https://www.rfc-editor.org/rfc/rfc8737)): a TLS listener that proves
//! control of a domain by presenting, to a client offering ALPN `acme-tls/1`, a self-signed
//! certificate carrying the acmeIdentifier extension for that domain's pending challenge.
//!
//! The responder answers from the store, like http-01, so a restarted service (or another
//! instance behind the same address) answers challenges it did not start. It only ever speaks
//! `acme-tls/1` and only ever shows an acmeIdentifier certificate: anything else (no ALPN, other
//! protocols, no SNI, a name without a pending challenge) is dropped after the ClientHello.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{Acceptor, ClientHello, NoServerSessionStorage};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use scaivault_domain::SharedStore;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::LazyConfigAcceptor;

/// The ALPN protocol name of tls-alpn-01 ([RFC 8737 §6.2](https://www.rfc-editor.org/rfc/rfc8737#section-6.2)).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// How long one connection may take from accept to the end of the handshake. The CA's validation
/// is one short handshake; a client that is slower only holds a socket and a task.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections handled at once; more are closed on accept, so a flood costs sockets, not tasks.
const MAX_CONNECTIONS: usize = 256;

/// Pause after a failed `accept` (e.g. out of file descriptors), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Runs a TLS-ALPN-01 responder on `listener` until `shutdown` resolves.
///
/// Each connection gets its own task, bounded by a handshake timeout. `shutdown` stops the
/// responder when its value becomes `true` or its sender is dropped; connections still in their
/// handshake are then abandoned (the CA retries validation).
pub async fn run(listener: TcpListener, store: SharedStore, shutdown: watch::Receiver<bool>) {
    serve(listener, store, shutdown, HANDSHAKE_TIMEOUT).await;
}

/// [`run`] with the handshake timeout as a parameter (the tests shorten it).
async fn serve(
    listener: TcpListener,
    store: SharedStore,
    mut shutdown: watch::Receiver<bool>,
    handshake_timeout: Duration,
) {
    // The provider is chosen here, never taken from the process-wide default: this listener
    // must work whatever else the process installed (or failed to).
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let local = listener.local_addr().ok();
    tracing::info!(listen = ?local, "tls-alpn-01 responder started");
    let mut connections = JoinSet::new();
    loop {
        if *shutdown.borrow_and_update() {
            break;
        }
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() {
                    // The sender is gone: nobody can ask us to stop any more, so stop now.
                    break;
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    while let Some(done) = connections.try_join_next() {
                        log_join(done);
                    }
                    if connections.len() >= MAX_CONNECTIONS {
                        tracing::debug!(%peer, "tls-alpn-01: too many connections; closing this one");
                        continue;
                    }
                    let store = store.clone();
                    let provider = provider.clone();
                    connections.spawn(async move {
                        let answer = respond(tcp, peer, &store, &provider);
                        if tokio::time::timeout(handshake_timeout, answer).await.is_err() {
                            tracing::debug!(%peer, "tls-alpn-01: handshake timed out");
                        }
                    });
                }
                Err(error) => {
                    tracing::warn!(listen = ?local, %error, "tls-alpn-01: accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
    connections.shutdown().await;
    tracing::info!(listen = ?local, "tls-alpn-01 responder stopped");
}

/// Logs a connection task that panicked (a finished or aborted one says nothing).
fn log_join(done: Result<(), tokio::task::JoinError>) {
    if let Err(error) = done
        && error.is_panic()
    {
        tracing::error!(%error, "tls-alpn-01: a connection task panicked");
    }
}

/// Answers one connection: reads the ClientHello, then either completes the handshake with the
/// acmeIdentifier certificate of the named domain or drops the connection.
///
/// Reading the ClientHello before choosing a configuration is what lets the certificate depend on
/// the SNI name ([RFC 8737 §3](https://www.rfc-editor.org/rfc/rfc8737#section-3)). Refusals are
/// logged at debug only: the CA may probe names this instance does not serve, and scanners hit
/// any open port.
async fn respond(
    tcp: TcpStream,
    peer: SocketAddr,
    store: &SharedStore,
    provider: &Arc<CryptoProvider>,
) {
    let start = match LazyConfigAcceptor::new(Acceptor::default(), tcp).await {
        Ok(start) => start,
        Err(error) => {
            tracing::debug!(%peer, %error, "tls-alpn-01: no usable ClientHello");
            return;
        }
    };
    let domain = match challenge_domain(&start.client_hello()) {
        Ok(domain) => domain,
        Err(reason) => {
            tracing::debug!(%peer, reason, "tls-alpn-01: refused ClientHello");
            return;
        }
    };
    let key_authorization = match store.tls_alpn01_key_authorization(&domain).await {
        Ok(Some(key_authorization)) => key_authorization,
        Ok(None) => {
            tracing::debug!(%peer, %domain, "tls-alpn-01: no pending challenge for this name");
            return;
        }
        Err(error) => {
            tracing::debug!(%peer, %domain, %error, "tls-alpn-01: looking up the challenge failed");
            return;
        }
    };
    let config = match server_config(provider, &domain, &key_authorization) {
        Ok(config) => config,
        Err(error) => {
            tracing::debug!(%peer, %domain, %error, "tls-alpn-01: cannot build the certificate");
            return;
        }
    };
    let mut tls = match start.into_stream(config).await {
        Ok(tls) => tls,
        Err(error) => {
            tracing::debug!(%peer, %domain, %error, "tls-alpn-01: handshake failed");
            return;
        }
    };
    tracing::info!(%peer, %domain, "tls-alpn-01: presented the validation certificate");
    // The handshake is the whole proof: acme-tls/1 carries no application data and the CA closes
    // right after the handshake (RFC 8737 §4), so close our side too (close_notify, then FIN)
    // rather than wait for data.
    if let Err(error) = tls.shutdown().await {
        tracing::debug!(%peer, %domain, %error, "tls-alpn-01: closing the connection failed");
    }
}

/// The domain a ClientHello asks to validate: its SNI name, lower-cased, provided it offers
/// `acme-tls/1`.
///
/// The CA MUST send ALPN `acme-tls/1` and SNI with the domain being validated
/// ([RFC 8737 §3](https://www.rfc-editor.org/rfc/rfc8737#section-3)); a hello without them is not
/// a validation, and the acmeIdentifier certificate must never reach a client negotiating
/// another protocol ([RFC 8737 §4](https://www.rfc-editor.org/rfc/rfc8737#section-4)). DNS names
/// compare case-insensitively and the store keeps them lower-case.
fn challenge_domain(hello: &ClientHello<'_>) -> Result<String, &'static str> {
    let offers_acme = hello
        .alpn()
        .is_some_and(|mut protocols| protocols.any(|protocol| protocol == ACME_TLS_ALPN));
    if !offers_acme {
        return Err("the client does not offer ALPN acme-tls/1");
    }
    let name = hello.server_name().ok_or("the client sent no SNI name")?;
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return Err("the client sent an empty SNI name");
    }
    Ok(name.to_ascii_lowercase())
}

/// A one-connection server configuration presenting only the acmeIdentifier certificate for
/// `domain` ([RFC 8737 §3](https://www.rfc-editor.org/rfc/rfc8737#section-3)) and accepting only
/// ALPN `acme-tls/1`.
///
/// TLS 1.2 and 1.3 are both allowed: a CA validating over acme-tls/1 negotiates TLS 1.2 or later
/// ([RFC 8737 §4](https://www.rfc-editor.org/rfc/rfc8737#section-4)). No session tickets or
/// session cache: a resumed handshake would present no certificate, so it could never validate
/// anything.
fn server_config(
    provider: &Arc<CryptoProvider>,
    domain: &str,
    key_authorization: &str,
) -> Result<Arc<ServerConfig>, String> {
    let (cert, key) = scaivault_domain::pki::tls_alpn01_certificate(domain, key_authorization)
        .map_err(|e| e.to_string())?;
    let key = provider
        .key_provider
        .load_private_key(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)))
        .map_err(|e| format!("the generated key is not usable: {e}"))?;
    // Not `with_single_cert`: it parses the certificate with webpki to compare keys, and webpki
    // rejects the critical acmeIdentifier extension it does not know (`UnsupportedCriticalExtension`).
    // The key and certificate were generated together just above, so they match by construction.
    let certified = CertifiedKey::new(vec![CertificateDer::from(cert)], key);
    let mut config = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("the TLS versions are not supported: {e}"))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SingleCertAndKey::from(certified)));
    // The only protocol this listener ever negotiates (RFC 8737 §4: acme-tls/1 is for validation
    // only). The ClientHello was already checked for it; rustls would also refuse a client
    // offering only other protocols (no_application_protocol, RFC 7301 §3.2).
    config.alpn_protocols = vec![ACME_TLS_ALPN.to_vec()];
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    const ID_PE_ACME_IDENTIFIER: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.31");

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

    async fn start_with(handshake_timeout: Duration) -> Responder {
        let (store, dir) = store_with_challenge(DOMAIN, KEY_AUTHORIZATION).await;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, shutdown) = watch::channel(false);
        let task = tokio::spawn(serve(listener, store, shutdown, handshake_timeout));
        Responder {
            addr,
            stop,
            task,
            _dir: dir,
        }
    }

    async fn start() -> Responder {
        start_with(HANDSHAKE_TIMEOUT).await
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
        let task = tokio::spawn(run(listener, store, shutdown));
        drop(sender);
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("run returns once the sender is dropped")
            .expect("run did not panic");
    }
}
