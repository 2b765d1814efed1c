//! TLS against mosquitto with certificates the test generates (rcgen): the server is verified
//! against our CA, a wrong CA is refused, a listener that requires client certificates takes
//! ours, and the insecure mode is there under its long name. Every wait is bounded.
#![allow(clippy::unwrap_used, clippy::panic)]

use mqtt_test_support::tls::TlsBroker;
use mqtt_tokio::{Client, ConnectionEvent, Options, QoS, TlsOptions};
use std::time::Duration;

fn tls_broker(name: &str) -> TlsBroker {
    mqtt_test_support::tls::tls_broker(name).unwrap()
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
