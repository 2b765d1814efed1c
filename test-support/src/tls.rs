//! Certificates generated for a test (rcgen) and a mosquitto with TLS listeners using them (for
//! TLS in front of a broker that has none, see [`relay`](crate::relay)).

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use std::path::Path;

use crate::mosquitto::{free_ports, Mosquitto, Options as BrokerOptions, StartError};

/// A CA, a server certificate signed by it for 127.0.0.1 / localhost, and a client certificate
/// signed by it (PEM).
#[derive(Debug)]
pub struct Pki {
    /// The CA certificate.
    pub ca_pem: String,
    /// The CA's key (PKCS#8), for certificates signed by other tools.
    pub ca_key: String,
    /// The server certificate, for `127.0.0.1` and `localhost`.
    pub server_pem: String,
    /// The server key.
    pub server_key: String,
    /// The client certificate.
    pub client_pem: String,
    /// The client key.
    pub client_key: String,
}

impl Pki {
    /// A fresh CA and the certificates it signs, in memory. Each call makes a different CA, so
    /// a second `Pki` serves as "a CA that did not sign this server".
    pub fn generate() -> Result<Pki, StartError> {
        generate().map_err(|e| StartError(format!("generating test certificates: {e}")))
    }

    /// Writes `ca.pem`, `server.pem` and `server.key` to `dir` (for mosquitto).
    fn write_server_files(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::write(dir.join("ca.pem"), &self.ca_pem)?;
        std::fs::write(dir.join("server.pem"), &self.server_pem)?;
        std::fs::write(dir.join("server.key"), &self.server_key)
    }
}

fn generate() -> Result<Pki, rcgen::Error> {
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
    Ok(Pki {
        ca_pem: ca.pem(),
        ca_key: ca.key().serialize_pem(),
        server_pem: server.pem(),
        server_key: server_key.serialize_pem(),
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
    _dir: crate::TempDir,
}

/// Starts a mosquitto with TLS listeners and certificates made for it.
pub fn tls_broker(name: &str) -> Result<TlsBroker, StartError> {
    let temp =
        crate::TempDir::new(&format!("tls-{name}")).map_err(|e| StartError(e.to_string()))?;
    let dir = temp.path();
    let pki = Pki::generate()?;
    pki.write_server_files(dir)
        .map_err(|e| StartError(format!("writing test certificates: {e}")))?;
    let [tls_port, mtls_port] = free_ports();
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
        _dir: temp,
    })
}

/// The form of a client key made by [`openssl_client_certificate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyForm {
    /// RSA in PKCS#8 (`BEGIN PRIVATE KEY`).
    RsaPkcs8,
    /// RSA in PKCS#1 (`BEGIN RSA PRIVATE KEY`).
    RsaPkcs1,
    /// EC P-256 in SEC1 (`BEGIN EC PRIVATE KEY`).
    EcSec1,
}

/// A client certificate signed by `pki`'s CA, with a key in `form`, made by the `openssl`
/// command (rcgen here cannot make RSA keys): the certificate and the key, PEM.
pub fn openssl_client_certificate(
    pki: &Pki,
    form: KeyForm,
) -> Result<(String, String), StartError> {
    let temp = crate::TempDir::new("client-cert").map_err(|e| StartError(e.to_string()))?;
    let dir = temp.path();
    let path = |name: &str| dir.join(name).display().to_string();
    std::fs::write(dir.join("ca.pem"), &pki.ca_pem).map_err(|e| StartError(e.to_string()))?;
    std::fs::write(dir.join("ca.key"), &pki.ca_key).map_err(|e| StartError(e.to_string()))?;
    let openssl = |args: &[&str]| -> Result<(), StartError> {
        let status = std::process::Command::new("openssl")
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .map_err(|e| {
                StartError(format!(
                    "openssl is not installed ({e}): run `apt-get install -y openssl`"
                ))
            })?;
        if !status.success() {
            return Err(StartError(format!("openssl {args:?} failed: {status}")));
        }
        Ok(())
    };
    let key = path("key.pem");
    match form {
        KeyForm::RsaPkcs8 | KeyForm::RsaPkcs1 => openssl(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            &key,
        ])?,
        KeyForm::EcSec1 => openssl(&[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            &key,
        ])?,
    }
    let (csr, cert, ext) = (path("client.csr"), path("client.pem"), path("client.ext"));
    // Extensions make an X.509 v3 certificate (webpki takes no other).
    std::fs::write(
        &ext,
        "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
    )
    .map_err(|e| StartError(e.to_string()))?;
    openssl(&[
        "req",
        "-new",
        "-key",
        &key,
        "-subj",
        "/CN=mqtt-test-client",
        "-out",
        &csr,
    ])?;
    openssl(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &path("ca.pem"),
        "-CAkey",
        &path("ca.key"),
        "-CAcreateserial",
        "-extfile",
        &ext,
        "-days",
        "1",
        "-out",
        &cert,
    ])?;
    let key = if form == KeyForm::RsaPkcs1 {
        let pkcs1 = path("key-pkcs1.pem");
        openssl(&["rsa", "-in", &key, "-traditional", "-out", &pkcs1])?;
        pkcs1
    } else {
        key
    };
    let read = |p: &str| std::fs::read_to_string(p).map_err(|e| StartError(e.to_string()));
    Ok((read(&cert)?, read(&key)?))
}
