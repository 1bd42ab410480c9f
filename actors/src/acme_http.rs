//! The HTTP client used to talk to ACME servers.
//!
//! instant-acme's `builder_with_root` would trust *only* one given certificate and drop the system
//! roots; operators need both (public CAs and their own enterprise or test CA), so this builds a
//! hyper client over a root store holding the system roots plus every certificate of each
//! `[acme] extra_roots` file.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use instant_acme::{BodyWrapper, HttpClient};
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::Error;

type Hyper = Client<HttpsConnector<HttpConnector>, BodyWrapper<Bytes>>;

/// A cheaply cloneable HTTP client for ACME servers.
#[derive(Clone)]
pub struct AcmeHttp {
    client: Hyper,
}

impl std::fmt::Debug for AcmeHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AcmeHttp")
    }
}

impl AcmeHttp {
    /// A client trusting the system roots and every certificate in `extra_roots` (PEM files).
    pub fn new(extra_roots: &[impl AsRef<Path>]) -> Result<Self, Error> {
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        let (added, _ignored) = roots.add_parsable_certificates(native.certs);
        tracing::debug!(system_roots = added, "loaded system trust roots");
        for path in extra_roots {
            let path = path.as_ref();
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|err| Error::Roots(format!("{}: {err}", path.display())))?
                .collect::<Result<_, _>>()
                .map_err(|err| Error::Roots(format!("{}: {err}", path.display())))?;
            if certs.is_empty() {
                return Err(Error::Roots(format!(
                    "{}: no PEM certificate in the file",
                    path.display()
                )));
            }
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|err| Error::Roots(format!("{}: {err}", path.display())))?;
            }
            tracing::info!(file = %path.display(), "trusting extra ACME roots");
        }
        if roots.is_empty() {
            return Err(Error::Roots(
                "no trusted roots: the system has none and [acme] extra_roots is empty".into(),
            ));
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| Error::Roots(err.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only()
            .enable_http1()
            .enable_http2()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self { client })
    }

    /// A boxed client for one instant-acme account.
    pub fn client(&self) -> Box<dyn HttpClient> {
        Box::new(self.client.clone())
    }
}
