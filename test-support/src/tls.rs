//! Certificates generated for a test (rcgen) and a mosquitto with TLS listeners using them.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use std::path::Path;

use crate::mosquitto::{free_port, Mosquitto, Options as BrokerOptions, StartError};

/// A CA and a client certificate signed by it (PEM).
#[derive(Debug)]
pub struct Pki {
    /// The CA certificate.
    pub ca_pem: String,
    /// The client certificate.
    pub client_pem: String,
    /// The client key.
    pub client_key: String,
}

/// A CA, a server certificate for 127.0.0.1 / localhost and a client certificate, written to
/// `dir` for mosquitto.
fn pki(dir: &Path) -> Pki {
    pki_in(dir).unwrap_or_else(|e| panic!("generating test certificates: {e}"))
}

fn pki_in(dir: &Path) -> Result<Pki, Box<dyn std::error::Error>> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;
    let server_key = KeyPair::generate()?;
    let server = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])?
        .signed_by(&server_key, &ca)?;
    let client_key = KeyPair::generate()?;
    let mut client_params = CertificateParams::new(vec!["client".to_string()])?;
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    client_params
        .distinguished_name
        .push(DnType::CommonName, "mqtt-test-client");
    let client = client_params.signed_by(&client_key, &ca)?;
    std::fs::write(dir.join("ca.pem"), ca.pem())?;
    std::fs::write(dir.join("server.pem"), server.pem())?;
    std::fs::write(dir.join("server.key"), server_key.serialize_pem())?;
    Ok(Pki {
        ca_pem: ca.pem(),
        client_pem: client.pem(),
        client_key: client_key.serialize_pem(),
    })
}

/// A mosquitto with a TLS listener and one that requires client certificates.
#[derive(Debug)]
pub struct TlsBroker {
    /// The broker (its plain listener is `broker.port()`).
    pub broker: Mosquitto,
    /// The TLS listener.
    pub tls_port: u16,
    /// The listener that requires a client certificate.
    pub mtls_port: u16,
    /// The certificates.
    pub pki: Pki,
    _dir: tempdir::Dir,
}

mod tempdir {
    /// A directory removed on drop.
    #[derive(Debug)]
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Starts a mosquitto with TLS listeners and certificates made for it.
pub fn tls_broker(name: &str) -> Result<TlsBroker, StartError> {
    let dir = std::env::temp_dir().join(format!("mqtt-tls-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| StartError(e.to_string()))?;
    let pki = pki(&dir);
    let (tls_port, mtls_port) = (free_port(), free_port());
    let files = |extra: &str| {
        vec![
            format!("cafile {}", dir.join("ca.pem").display()),
            format!("certfile {}", dir.join("server.pem").display()),
            format!("keyfile {}", dir.join("server.key").display()),
            extra.to_string(),
        ]
    };
    let mut extra = vec![format!("listener {tls_port} 127.0.0.1")];
    extra.extend(files(""));
    extra.push(format!("listener {mtls_port} 127.0.0.1"));
    extra.extend(files("require_certificate true"));
    let broker = Mosquitto::start(BrokerOptions {
        extra_config: extra,
        ..BrokerOptions::default()
    })?;
    Ok(TlsBroker {
        broker,
        tls_port,
        mtls_port,
        pki,
        _dir: tempdir::Dir(dir),
    })
}
