//! TLS settings (rustls): server verification on by default, against bundled roots (feature
//! `webpki-roots`) and/or the CAs you give; client certificates; and an insecure mode under a
//! name nobody picks by accident.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::Arc;

/// Why TLS settings could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// PEM data held no certificate, or an unreadable one.
    #[error("no valid certificate in the PEM data: {0}")]
    Certificate(String),
    /// PEM data held no private key, or an unreadable one.
    #[error("no valid private key in the PEM data: {0}")]
    PrivateKey(String),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(String),
    /// Verification is on but there is no root to verify against.
    #[error("no root certificates: add a CA with `ca_pem`, or enable the `webpki-roots` feature")]
    NoRoots,
    /// The server did not answer the TLS handshake in TLS: it closed the connection or sent
    /// plain bytes, as a plain MQTT listener does.
    #[error(
        "{server} did not answer in TLS ({cause}): is it a plain MQTT port? mqtts:// and wss:// \
         need a TLS listener; use mqtt:// or ws:// for a plain one"
    )]
    NotTls {
        /// `host:port`.
        server: String,
        /// What the handshake met.
        cause: String,
    },
    /// No crypto provider: neither the `ring` nor the `aws-lc-rs` feature is on, none was
    /// given with [`TlsOptions::crypto_provider`], and the process has no default.
    #[error(
        "no rustls crypto provider: enable the `ring` or `aws-lc-rs` feature, pass one to \
         `TlsOptions::crypto_provider`, or install a process default"
    )]
    NoCryptoProvider,
    /// The operating system's root certificates could not be loaded (`native-roots`).
    #[error("the system's root certificates: {0}")]
    NativeRoots(String),
    /// The server name given for SNI and verification is not a DNS name or an IP address.
    #[error("invalid TLS server name {0:?}")]
    ServerName(String),
}

/// A TLS handshake's failure, said plainly when the server did not speak TLS at all (see
/// [`TlsError::NotTls`]); other failures (a refused certificate, ...) as they are.
pub fn handshake_error(server: &crate::Server, error: std::io::Error) -> std::io::Error {
    use std::io::ErrorKind;
    let not_tls = match error.kind() {
        ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => {
            true
        }
        // rustls: what came back is not a TLS record.
        ErrorKind::InvalidData => error
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>())
            .is_some_and(|e| matches!(e, rustls::Error::InvalidMessage(_))),
        _ => false,
    };
    if !not_tls {
        return error;
    }
    let host = if server.host.contains(':') {
        format!("[{}]", server.host)
    } else {
        server.host.clone()
    };
    let tls = TlsError::NotTls {
        server: format!("{host}:{}", server.port),
        cause: error.to_string(),
    };
    std::io::Error::new(error.kind(), tls)
}

/// TLS settings for `mqtts://` and `wss://` servers.
#[derive(Debug, Clone)]
pub struct TlsOptions {
    roots: RootCertStore,
    client: Option<ClientCertificate>,
    verify: bool,
    alpn: Vec<Vec<u8>>,
    sni: bool,
    pub(crate) server_name: Option<String>,
    /// The CAs given with `ca_pem`, as certificates (the platform verifier takes them so).
    cas: Vec<CertificateDer<'static>>,
    provider: Option<Arc<rustls::crypto::CryptoProvider>>,
    #[cfg(feature = "platform-verifier")]
    platform_verifier: bool,
}

impl Default for TlsOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl TlsOptions {
    /// Verification on, against the bundled Mozilla roots when the `webpki-roots` feature is
    /// on (otherwise against the CAs added with [`TlsOptions::ca_pem`]).
    pub fn new() -> Self {
        #[allow(unused_mut)]
        let mut roots = RootCertStore::empty();
        #[cfg(feature = "webpki-roots")]
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        TlsOptions {
            roots,
            client: None,
            verify: true,
            alpn: Vec::new(),
            sni: true,
            server_name: None,
            cas: Vec::new(),
            provider: None,
            #[cfg(feature = "platform-verifier")]
            platform_verifier: false,
        }
    }

    /// Trusts the CA certificates in `pem` too.
    pub fn ca_pem(mut self, pem: &[u8]) -> Result<Self, TlsError> {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| TlsError::Certificate(e.to_string()))?;
            self.roots
                .add(cert.clone())
                .map_err(|e| TlsError::Certificate(e.to_string()))?;
            self.cas.push(cert);
            added += 1;
        }
        if added == 0 {
            return Err(TlsError::Certificate("empty".into()));
        }
        Ok(self)
    }

    /// Presents this client certificate chain and key (PEM) to servers that ask for one. The
    /// key may be PKCS#8 (`BEGIN PRIVATE KEY`), PKCS#1 (`BEGIN RSA PRIVATE KEY`) or SEC1
    /// (`BEGIN EC PRIVATE KEY`).
    pub fn client_certificate_pem(mut self, chain: &[u8], key: &[u8]) -> Result<Self, TlsError> {
        let chain = CertificateDer::pem_slice_iter(chain)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Certificate(e.to_string()))?;
        if chain.is_empty() {
            return Err(TlsError::Certificate("empty chain".into()));
        }
        let key =
            PrivateKeyDer::from_pem_slice(key).map_err(|e| TlsError::PrivateKey(e.to_string()))?;
        self.client = Some((chain, Arc::new(key)));
        Ok(self)
    }

    /// Trusts the operating system's root certificates too (feature `native-roots`; on
    /// Linux the distribution's bundle, `SSL_CERT_FILE` / `SSL_CERT_DIR` honoured).
    #[cfg(feature = "native-roots")]
    pub fn native_roots(mut self) -> Result<Self, TlsError> {
        crate::tls_provider::native_roots(&mut self.roots)?;
        Ok(self)
    }

    /// Verifies servers with the operating system's verifier (feature `platform-verifier`:
    /// its own on macOS, Windows and Android, with revocation where the OS checks it; its
    /// root store with webpki elsewhere), trusting the CAs given with
    /// [`TlsOptions::ca_pem`] too.
    #[cfg(feature = "platform-verifier")]
    pub fn platform_verifier(mut self) -> Self {
        self.platform_verifier = true;
        self
    }

    /// Uses this rustls crypto provider (see [`crate::tls_provider`] for the default).
    pub fn crypto_provider(mut self, provider: Arc<rustls::crypto::CryptoProvider>) -> Self {
        self.provider = Some(provider);
        self
    }

    /// Offers these application protocols in ALPN, in order of preference: `mqtt`, or AWS
    /// IoT's `x-amzn-mqtt-ca` for MQTT on port 443.
    pub fn alpn(mut self, protocols: &[&str]) -> Self {
        self.alpn = protocols.iter().map(|p| p.as_bytes().to_vec()).collect();
        self
    }

    /// Sends `name` as SNI and verifies the server's certificate against it, instead of the
    /// URL's host: for a server reached by an address (or through a tunnel) whose
    /// certificate names it otherwise.
    pub fn server_name(mut self, name: &str) -> Self {
        self.server_name = Some(name.to_string());
        self
    }

    /// Whether to send SNI (on by default; rustls never sends it for an IP address). The
    /// certificate is verified against the name all the same.
    pub fn sni(mut self, send: bool) -> Self {
        self.sni = send;
        self
    }

    /// Accepts any server certificate: no protection against a man in the middle. For tests
    /// against throwaway brokers only.
    pub fn dangerous_accept_any_server_certificate(mut self) -> Self {
        self.verify = false;
        self
    }

    /// The rustls configuration.
    pub fn build(self) -> Result<Arc<ClientConfig>, TlsError> {
        let provider = crate::tls_provider::provider(self.provider.as_ref())?;
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?;
        #[cfg(feature = "platform-verifier")]
        let builder = if self.verify && self.platform_verifier {
            let verifier = crate::tls_provider::platform_verifier(self.cas, provider.clone())?;
            let builder = builder
                .dangerous()
                .with_custom_certificate_verifier(verifier);
            return finish(self.client, self.alpn, self.sni, builder);
        } else {
            builder
        };
        let builder = if self.verify {
            if self.roots.is_empty() {
                return Err(TlsError::NoRoots);
            }
            builder.with_root_certificates(self.roots)
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
        };
        finish(self.client, self.alpn, self.sni, builder)
    }
}

/// A client certificate chain and its key.
type ClientCertificate = (Vec<CertificateDer<'static>>, Arc<PrivateKeyDer<'static>>);

/// The client certificate, ALPN and SNI, on a configuration whose verification is set.
fn finish(
    client: Option<ClientCertificate>,
    alpn: Vec<Vec<u8>>,
    sni: bool,
    builder: rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert>,
) -> Result<Arc<ClientConfig>, TlsError> {
    let mut config = match client {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key.clone_key())
            .map_err(|e| TlsError::Config(e.to_string()))?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn;
    config.enable_sni = sni;
    Ok(Arc::new(config))
}

/// The verifier of [`TlsOptions::dangerous_accept_any_server_certificate`]: signatures are
/// still checked, the certificate is not.
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
