//! TLS against mosquitto with certificates the test generates (rcgen): the server is verified
//! against our CA, a wrong CA is refused, a listener that requires client certificates takes
//! ours, and the insecure mode is there under its long name. Every wait is bounded.
#![allow(clippy::unwrap_used, clippy::panic)]

use mqtt_test_support::{free_port, Mosquitto, Options as BrokerOptions};
use mqtt_tokio::{Client, ConnectionEvent, Options, QoS, TlsOptions};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use std::path::Path;
use std::time::Duration;

struct Pki {
    ca_pem: String,
    client_pem: String,
    client_key: String,
}

/// A CA, a server certificate for 127.0.0.1 / localhost and a client certificate, written to
/// `dir` for mosquitto.
fn pki(dir: &Path) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let mut client_params = CertificateParams::new(vec!["client".to_string()]).unwrap();
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    client_params
        .distinguished_name
        .push(DnType::CommonName, "mqtt-test-client");
    let client = client_params.signed_by(&client_key, &ca).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), server.pem()).unwrap();
    std::fs::write(dir.join("server.key"), server_key.serialize_pem()).unwrap();
    Pki {
        ca_pem: ca.pem(),
        client_pem: client.pem(),
        client_key: client_key.serialize_pem(),
    }
}

struct TlsBroker {
    broker: Mosquitto,
    tls_port: u16,
    mtls_port: u16,
    pki: Pki,
    _dir: tempdir::Dir,
}

mod tempdir {
    /// A directory removed on drop.
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn tls_broker(name: &str) -> TlsBroker {
    let dir = std::env::temp_dir().join(format!("mqtt-tokio-tls-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
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
    })
    .unwrap();
    TlsBroker {
        broker,
        tls_port,
        mtls_port,
        pki,
        _dir: tempdir::Dir(dir),
    }
}

fn options(port: u16, id: &str) -> Options {
    let mut o = Options::new(&format!("mqtts://127.0.0.1:{port}"), id).unwrap();
    o.session.backoff.initial = Duration::from_millis(50);
    o.connect_timeout = Duration::from_secs(3);
    o
}

/// The first outcome of connecting: `Ok` on CONNACK, `Err` with the transport error.
async fn first_outcome(client: &Client) -> Result<(), String> {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match client.next_event().await {
                Some(ConnectionEvent::Connected { .. }) => return Ok(()),
                Some(ConnectionEvent::ConnectFailed { error, .. }) => return Err(error),
                Some(ConnectionEvent::Disconnected(reason)) => return Err(format!("{reason:?}")),
                Some(_) => {}
                None => return Err("task ended".into()),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no outcome"))
}

async fn round_trip(client: &Client) {
    let mut sub = tokio::time::timeout(
        Duration::from_secs(10),
        client.subscribe("tls/#", QoS::AtLeastOnce),
    )
    .await
    .unwrap()
    .unwrap();
    tokio::time::timeout(
        Duration::from_secs(10),
        client.publish("tls/1", "secret", QoS::AtLeastOnce),
    )
    .await
    .unwrap()
    .unwrap();
    let m = tokio::time::timeout(Duration::from_secs(10), sub.next_message())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&m.payload()[..], b"secret");
}

#[tokio::test]
async fn the_server_is_verified_against_our_ca() {
    let b = tls_broker("verified");
    let tls = TlsOptions::new().ca_pem(b.pki.ca_pem.as_bytes()).unwrap();
    let client = mqtt_tokio::spawn(options(b.tls_port, "tls-ok").tls(tls).unwrap()).unwrap();
    assert_eq!(first_outcome(&client).await, Ok(()));
    round_trip(&client).await;
    client.disconnect().await.unwrap();
    // The plain listener is still plain.
    assert!(b.broker.port() != b.tls_port);
}

#[tokio::test]
async fn a_wrong_ca_is_refused() {
    let b = tls_broker("wrong-ca");
    let other = tls_broker("other-ca");
    let tls = TlsOptions::new()
        .ca_pem(other.pki.ca_pem.as_bytes())
        .unwrap();
    let client = mqtt_tokio::spawn(options(b.tls_port, "tls-wrong").tls(tls).unwrap()).unwrap();
    let outcome = first_outcome(&client).await;
    let error = outcome.unwrap_err();
    assert!(
        error.contains("certificate") || error.contains("UnknownIssuer"),
        "{error}"
    );
    client.disconnect().await.unwrap();
}

#[tokio::test]
async fn no_roots_is_a_clear_error_not_an_unverified_connection() {
    let b = tls_broker("no-roots");
    let client = mqtt_tokio::spawn(options(b.tls_port, "tls-none")).unwrap();
    let error = first_outcome(&client).await.unwrap_err();
    assert!(error.contains("root"), "{error}");
    client.disconnect().await.unwrap();
}

#[tokio::test]
async fn client_certificates() {
    let b = tls_broker("mtls");
    let without = TlsOptions::new().ca_pem(b.pki.ca_pem.as_bytes()).unwrap();
    let client =
        mqtt_tokio::spawn(options(b.mtls_port, "mtls-none").tls(without).unwrap()).unwrap();
    assert!(first_outcome(&client).await.is_err());
    client.disconnect().await.unwrap();

    let with = TlsOptions::new()
        .ca_pem(b.pki.ca_pem.as_bytes())
        .unwrap()
        .client_certificate_pem(b.pki.client_pem.as_bytes(), b.pki.client_key.as_bytes())
        .unwrap();
    let client = mqtt_tokio::spawn(options(b.mtls_port, "mtls-ok").tls(with).unwrap()).unwrap();
    assert_eq!(first_outcome(&client).await, Ok(()));
    round_trip(&client).await;
    client.disconnect().await.unwrap();
}

#[tokio::test]
async fn the_insecure_mode_skips_verification() {
    let b = tls_broker("insecure");
    let tls = TlsOptions::new().dangerous_accept_any_server_certificate();
    let client = mqtt_tokio::spawn(options(b.tls_port, "tls-insecure").tls(tls).unwrap()).unwrap();
    assert_eq!(first_outcome(&client).await, Ok(()));
    client.disconnect().await.unwrap();
}
