//! TLS options real deployments need (issue 24.2), through the public `Client`: ALPN and the
//! server name (SNI and verification) seen by a TLS relay that records them in front of
//! mosquitto; client keys in PKCS#8, PKCS#1 and SEC1 (made by `openssl`) taken by mosquitto's
//! listener that requires certificates; and the clear errors when TLS meets a plain port and
//! a plain connection meets a TLS one.

use mqtt_client::{Client, ConnectionEvent, Options, TlsOptions};
use mqtt_proto::{ProtocolVersion, QoS};
use mqtt_test_support::relay::{Handshake, TlsRelay};
use mqtt_test_support::tls::{openssl_client_certificate, KeyForm};

use crate::{
    disconnect, next_event, next_message, options, publish, spawn, subscribe, text, Runtime,
};

fn client_options<R: Runtime>(port: u16, id: &str, tls: TlsOptions) -> Options {
    options(
        &format!("mqtts://127.0.0.1:{port}"),
        &format!("{id}-{}", R::NAME),
        ProtocolVersion::V5,
    )
    .tls(tls)
    .unwrap_or_else(|e| panic!("{e}"))
}

/// `Ok` on CONNACK, `Err` with what ended the attempt.
async fn outcome(client: &Client) -> Result<(), String> {
    next_event(client, "the outcome of connecting", |e| match e {
        ConnectionEvent::Connected { .. } => Some(Ok(())),
        ConnectionEvent::ConnectFailed { error, .. } => Some(Err(error.clone())),
        ConnectionEvent::Disconnected(reason) => Some(Err(format!("{reason:?}"))),
        _ => None,
    })
    .await
}

async fn round_trip(client: &Client, topic: &str) {
    let mut sub = subscribe(client, topic, QoS::AtLeastOnce).await;
    publish(client, topic, "over TLS", QoS::AtLeastOnce).await;
    assert_eq!(
        text(&next_message(&mut sub, "the message").await),
        "over TLS"
    );
}

/// ALPN: the client's protocols are offered and one agreed (the relay requires `mqtt`);
/// without ALPN the relay closes the connection. Server name: `localhost` goes as SNI and the
/// certificate (for 127.0.0.1 and localhost) verifies against it while the URL holds the
/// address; a name the certificate lacks is refused; SNI can be left out.
pub async fn tls_alpn_and_server_name<R: Runtime>(rt: &R) {
    let broker = mqtt_test_support::tls::tls_broker(&format!("{}-alpn", R::NAME))
        .unwrap_or_else(|e| panic!("{e}"));
    let target = ([127, 0, 0, 1], broker.broker.port()).into();
    let relay =
        TlsRelay::start_with_alpn(target, &broker.pki, &["mqtt"]).unwrap_or_else(|e| panic!("{e}"));
    let ca = || {
        TlsOptions::new()
            .ca_pem(broker.pki.ca_pem.as_bytes())
            .unwrap()
    };

    let tls = ca()
        .alpn(&["x-amzn-mqtt-ca", "mqtt"])
        .server_name("localhost");
    let client = spawn(rt, client_options::<R>(relay.port(), "alpn", tls));
    assert_eq!(outcome(&client).await, Ok(()));
    round_trip(&client, "tls/alpn").await;
    disconnect(&client).await;
    assert_eq!(
        relay.handshakes()[0],
        Handshake {
            server_name: Some("localhost".into()),
            alpn: Some("mqtt".into())
        }
    );

    let client = spawn(rt, client_options::<R>(relay.port(), "no-alpn", ca()));
    assert!(outcome(&client).await.is_err(), "connected without ALPN");
    disconnect(&client).await;

    let wrong = ca().alpn(&["mqtt"]).server_name("broker.example");
    let client = spawn(rt, client_options::<R>(relay.port(), "wrong-name", wrong));
    let error = outcome(&client).await.unwrap_err();
    assert!(error.contains("not valid for name"), "{error}");
    disconnect(&client).await;

    let count = relay.handshakes().len();
    let no_sni = ca().alpn(&["mqtt"]).server_name("localhost").sni(false);
    let client = spawn(rt, client_options::<R>(relay.port(), "no-sni", no_sni));
    assert_eq!(outcome(&client).await, Ok(()));
    disconnect(&client).await;
    assert_eq!(relay.handshakes()[count].server_name, None);
}

/// Client keys in each PEM form a deployment hands out: PKCS#8 and PKCS#1 RSA, SEC1 EC.
pub async fn tls_client_keys_in_every_pem_form<R: Runtime>(rt: &R) {
    let broker = mqtt_test_support::tls::tls_broker(&format!("{}-keys", R::NAME))
        .unwrap_or_else(|e| panic!("{e}"));
    for (form, marker) in [
        (KeyForm::RsaPkcs8, "BEGIN PRIVATE KEY"),
        (KeyForm::RsaPkcs1, "BEGIN RSA PRIVATE KEY"),
        (KeyForm::EcSec1, "BEGIN EC PRIVATE KEY"),
    ] {
        let (cert, key) =
            openssl_client_certificate(&broker.pki, form).unwrap_or_else(|e| panic!("{e}"));
        assert!(key.contains(marker), "{form:?}: {key}");
        let tls = TlsOptions::new()
            .ca_pem(broker.pki.ca_pem.as_bytes())
            .unwrap()
            .client_certificate_pem(cert.as_bytes(), key.as_bytes())
            .unwrap_or_else(|e| panic!("{form:?}: {e}"));
        let id = format!("key-{form:?}");
        let client = spawn(rt, client_options::<R>(broker.mtls_port, &id, tls));
        assert_eq!(outcome(&client).await, Ok(()), "{form:?}");
        round_trip(&client, "tls/keys").await;
        disconnect(&client).await;
    }
}

/// `mqtts://` to a plain MQTT port fails saying the port is plain; `mqtt://` to a TLS port
/// that answers in TLS (a rustls server's alert) fails saying it is a TLS port. (mosquitto's
/// own TLS listener answers a plain CONNECT by resetting the connection without a byte, which
/// tells nothing: the client reports the closed transport.)
pub async fn tls_and_plain_ports_mixed_up_are_named<R: Runtime>(rt: &R) {
    let broker = mqtt_test_support::tls::tls_broker(&format!("{}-mixed", R::NAME))
        .unwrap_or_else(|e| panic!("{e}"));
    let tls = TlsOptions::new()
        .ca_pem(broker.pki.ca_pem.as_bytes())
        .unwrap();
    let client = spawn(
        rt,
        client_options::<R>(broker.broker.port(), "tls-to-plain", tls),
    );
    let error = outcome(&client).await.unwrap_err();
    assert!(error.contains("is it a plain MQTT port?"), "{error}");
    disconnect(&client).await;

    let target = ([127, 0, 0, 1], broker.broker.port()).into();
    let relay = TlsRelay::start(target, &broker.pki).unwrap_or_else(|e| panic!("{e}"));
    let plain = options(
        &format!("mqtt://127.0.0.1:{}", relay.port()),
        &format!("plain-to-tls-{}", R::NAME),
        ProtocolVersion::V5,
    );
    let client = spawn(rt, plain);
    let error = outcome(&client).await.unwrap_err();
    assert!(error.contains("this is a TLS port"), "{error}");
    disconnect(&client).await;
}

/// The platform's trust and the crypto provider: the platform verifier and the system's root
/// store do not trust the test's CA (verification stays on: refused), and do with it added;
/// a crypto provider given explicitly is the one used (ring's with one cipher suite
/// connects; one with none cannot make a configuration).
pub async fn tls_platform_trust_and_provider_choice<R: Runtime>(rt: &R) {
    use mqtt_client::rustls::crypto::{ring, CryptoProvider};
    use std::sync::Arc;
    let broker = mqtt_test_support::tls::tls_broker(&format!("{}-platform", R::NAME))
        .unwrap_or_else(|e| panic!("{e}"));
    let ca = broker.pki.ca_pem.as_bytes();
    let native = || {
        TlsOptions::new()
            .native_roots()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let cases = [
        ("platform", TlsOptions::new().platform_verifier(), false),
        (
            "platform-ca",
            TlsOptions::new().ca_pem(ca).unwrap().platform_verifier(),
            true,
        ),
        ("native", native(), false),
        ("native-ca", native().ca_pem(ca).unwrap(), true),
    ];
    for (id, tls, trusted) in cases {
        let client = spawn(rt, client_options::<R>(broker.tls_port, id, tls));
        match outcome(&client).await {
            Ok(()) => assert!(trusted, "{id}: connected to a server it should not trust"),
            Err(error) => {
                assert!(!trusted, "{id}: {error}");
                assert!(error.contains("UnknownIssuer"), "{id}: {error}");
            }
        }
        disconnect(&client).await;
    }

    let chacha = CryptoProvider {
        cipher_suites: vec![ring::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256],
        ..ring::default_provider()
    };
    let tls = TlsOptions::new()
        .ca_pem(ca)
        .unwrap()
        .crypto_provider(Arc::new(chacha));
    let client = spawn(rt, client_options::<R>(broker.tls_port, "chacha", tls));
    assert_eq!(outcome(&client).await, Ok(()));
    round_trip(&client, "tls/provider").await;
    disconnect(&client).await;
    let empty = CryptoProvider {
        cipher_suites: Vec::new(),
        ..ring::default_provider()
    };
    let tls = TlsOptions::new()
        .ca_pem(ca)
        .unwrap()
        .crypto_provider(Arc::new(empty));
    assert!(Options::new("mqtts://127.0.0.1:1", "x")
        .unwrap()
        .tls(tls)
        .is_err());
}
