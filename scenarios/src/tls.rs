//! TLS against mosquitto with certificates made for the test (rcgen): the server is verified
//! against our CA, a wrong CA is refused, no roots is a clear error, a listener that requires
//! client certificates takes ours, and the insecure mode is there under its long name.

use mqtt_client::{Client, ConnectionEvent, TlsOptions};
use mqtt_proto::{ProtocolVersion, QoS};
use mqtt_test_support::tls::TlsBroker;

use crate::{
    disconnect, next_event, next_message, options, publish, spawn, subscribe, text, Runtime,
};

fn tls_broker<R: Runtime>(name: &str) -> TlsBroker {
    mqtt_test_support::tls::tls_broker(&format!("{}-{name}", R::NAME))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A client of `mqtts://127.0.0.1:{port}` with the id `{id}-{runtime}` and, when given, these
/// TLS options; its connection started on `rt`.
fn tls_client<R: Runtime>(rt: &R, port: u16, id: &str, tls: Option<TlsOptions>) -> Client {
    let mut o = options(
        &format!("mqtts://127.0.0.1:{port}"),
        &format!("{id}-{}", R::NAME),
        ProtocolVersion::V5,
    );
    if let Some(tls) = tls {
        o = o.tls(tls).unwrap();
    }
    spawn(rt, o)
}

/// The first outcome of connecting: `Ok` on CONNACK, `Err` with the transport error.
async fn first_outcome(client: &Client) -> Result<(), String> {
    next_event(client, "the outcome of the TLS connection", |e| match e {
        ConnectionEvent::Connected { .. } => Some(Ok(())),
        ConnectionEvent::ConnectFailed { error, .. } => Some(Err(error.clone())),
        ConnectionEvent::Disconnected(reason) => Some(Err(format!("{reason:?}"))),
        _ => None,
    })
    .await
}

async fn round_trip(client: &Client) {
    let mut sub = subscribe(client, "tls/#", QoS::AtLeastOnce).await;
    publish(client, "tls/1", "secret", QoS::AtLeastOnce).await;
    assert_eq!(
        text(&next_message(&mut sub, "the message over TLS").await),
        "secret"
    );
}

/// The server's certificate is verified against our CA, and the connection works.
pub async fn tls_server_verified_against_our_ca<R: Runtime>(rt: &R) {
    let b = tls_broker::<R>("verified");
    let tls = TlsOptions::new().ca_pem(b.pki.ca_pem.as_bytes()).unwrap();
    let client = tls_client(rt, b.tls_port, "tls-ok", Some(tls));
    assert_eq!(first_outcome(&client).await, Ok(()));
    round_trip(&client).await;
    disconnect(&client).await;
    // The plain listener is still plain.
    assert!(b.broker.port() != b.tls_port);
}

/// A server certificate from another CA is refused.
pub async fn tls_wrong_ca_is_refused<R: Runtime>(rt: &R) {
    let b = tls_broker::<R>("wrong-ca");
    let other = tls_broker::<R>("other-ca");
    let tls = TlsOptions::new()
        .ca_pem(other.pki.ca_pem.as_bytes())
        .unwrap();
    let client = tls_client(rt, b.tls_port, "tls-wrong", Some(tls));
    let error = first_outcome(&client).await.unwrap_err();
    assert!(
        error.contains("certificate") || error.contains("UnknownIssuer"),
        "{error}"
    );
    disconnect(&client).await;
}

/// Without roots (no CA given, no bundled roots) connecting fails with an error that says so,
/// never with an unverified connection.
pub async fn tls_no_roots_is_a_clear_error<R: Runtime>(rt: &R) {
    let b = tls_broker::<R>("no-roots");
    let client = tls_client(rt, b.tls_port, "tls-none", None);
    let error = first_outcome(&client).await.unwrap_err();
    assert!(error.contains("root"), "{error}");
    disconnect(&client).await;
}

/// A listener that requires a client certificate refuses a client without one and takes ours.
pub async fn tls_client_certificates<R: Runtime>(rt: &R) {
    let b = tls_broker::<R>("mtls");
    let without = TlsOptions::new().ca_pem(b.pki.ca_pem.as_bytes()).unwrap();
    let client = tls_client(rt, b.mtls_port, "mtls-none", Some(without));
    assert!(first_outcome(&client).await.is_err());
    disconnect(&client).await;

    let with = TlsOptions::new()
        .ca_pem(b.pki.ca_pem.as_bytes())
        .unwrap()
        .client_certificate_pem(b.pki.client_pem.as_bytes(), b.pki.client_key.as_bytes())
        .unwrap();
    let client = tls_client(rt, b.mtls_port, "mtls-ok", Some(with));
    assert_eq!(first_outcome(&client).await, Ok(()));
    round_trip(&client).await;
    disconnect(&client).await;
}

/// The insecure mode connects without verifying the server.
pub async fn tls_insecure_mode_skips_verification<R: Runtime>(rt: &R) {
    let b = tls_broker::<R>("insecure");
    let tls = TlsOptions::new().dangerous_accept_any_server_certificate();
    let client = tls_client(rt, b.tls_port, "tls-insecure", Some(tls));
    assert_eq!(first_outcome(&client).await, Ok(()));
    round_trip(&client).await;
    disconnect(&client).await;
}
