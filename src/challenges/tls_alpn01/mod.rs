//! tls-alpn-01 ([RFC 8737](https://www.rfc-editor.org/rfc/rfc8737)): a TLS listener that proves
//! control of a domain by presenting, to a client offering ALPN `acme-tls/1`, a self-signed
//! certificate carrying the acmeIdentifier extension for that domain's pending challenge.
//!
//! The responder answers from the store, like http-01, so a restarted service (or another
//! instance behind the same address) answers challenges it did not start. It only ever speaks
//! `acme-tls/1` and only ever shows an acmeIdentifier certificate: anything else (no ALPN, other
//! protocols, no SNI, a name without a pending challenge) is dropped after the ClientHello.
//!
//! An IP identifier is validated through its reverse-mapping name: SNI cannot carry an address,
//! so the CA sends e.g. `1.0.0.127.in-addr.arpa` for `127.0.0.1`, and the certificate names the
//! address itself ([RFC 8738 §6](https://www.rfc-editor.org/rfc/rfc8738#section-6)).

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;

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

use crate::listen::{self, Accepted, Limits, log_panic};

/// The ALPN protocol name of tls-alpn-01 ([RFC 8737 §6.2](https://www.rfc-editor.org/rfc/rfc8737#section-6.2)).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// Runs a TLS-ALPN-01 responder on `listener` until `shutdown` resolves.
///
/// Each connection gets its own task, bounded by `limits.header_timeout` from accept to the end
/// of the handshake; at most `limits.max_connections` are handled at once, more wait to be
/// accepted. `shutdown` stops the responder when its value becomes `true` or its sender is
/// dropped; connections still in their handshake are then abandoned (the CA retries validation).
pub async fn run(
    listener: TcpListener,
    store: SharedStore,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
) {
    // The provider is chosen here, never taken from the process-wide default: this listener
    // must work whatever else the process installed (or failed to).
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let local = listener.local_addr().ok();
    tracing::info!(listen = ?local, "tls-alpn-01 responder started");
    let acceptor = listen::Acceptor::new(listener, limits.max_connections);
    // Stops on `true`, and when the sender is gone: nobody can ask us to stop any more.
    let mut stop = pin!(async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    });
    let mut connections = JoinSet::new();
    while let Some(Accepted { tcp, peer, permit }) = acceptor.accept(stop.as_mut()).await {
        while let Some(done) = connections.try_join_next() {
            log_panic(done);
        }
        let store = store.clone();
        let provider = provider.clone();
        connections.spawn(async move {
            let _permit = permit;
            let answer = respond(tcp, peer, &store, &provider);
            if tokio::time::timeout(limits.header_timeout, answer)
                .await
                .is_err()
            {
                tracing::debug!(%peer, "tls-alpn-01: handshake timed out");
            }
        });
    }
    connections.shutdown().await;
    tracing::info!(listen = ?local, "tls-alpn-01 responder stopped");
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
    let sni = match challenge_domain(&start.client_hello()) {
        Ok(sni) => sni,
        Err(reason) => {
            tracing::debug!(%peer, reason, "tls-alpn-01: refused ClientHello");
            return;
        }
    };
    let (domain, key_authorization) = match find_challenge(store, &sni).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            tracing::debug!(%peer, %sni, "tls-alpn-01: no pending challenge for this name");
            return;
        }
        Err(error) => {
            tracing::debug!(%peer, %sni, %error, "tls-alpn-01: looking up the challenge failed");
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

/// The identifier an SNI name asks to validate and its key authorization. A reverse-mapping
/// name (`….in-addr.arpa`, `….ip6.arpa`) stands for an IP identifier (RFC 8738 §6), kept in the
/// store in canonical text form; it is tried first, then the name itself, since a DNS identifier
/// may also be spelled like a reverse-mapping name.
async fn find_challenge(
    store: &SharedStore,
    sni: &str,
) -> scaivault_domain::Result<Option<(String, String)>> {
    let mut candidates = Vec::with_capacity(2);
    if let Some(ip) = scaivault_domain::pki::ip_from_reverse_name(sni) {
        candidates.push(ip.to_string());
    }
    candidates.push(sni.to_owned());
    for candidate in candidates {
        if let Some(key_authorization) = store.tls_alpn01_key_authorization(&candidate).await? {
            return Ok(Some((candidate, key_authorization)));
        }
    }
    Ok(None)
}

/// The name a ClientHello asks to validate: its SNI name, lower-cased, provided it offers
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
mod tests;
