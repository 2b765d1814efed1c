//! MQTT over WebSocket. Debian's mosquitto 2.0.11 on this machine cannot open a websockets
//! listener ("Unable to start any listening sockets"), so this runs against a real embedded
//! broker (rumqttd, v3.1.1 over WebSocket) in the test process. For `wss://` a TLS relay in
//! the test process (`mqtt_test_support::relay`) terminates TLS with a certificate from a CA
//! made for the test and forwards to that broker's `ws` listener.

use mqtt_client::{Client, ConnectionEvent, TlsOptions};
use mqtt_proto::{ProtocolVersion, QoS};
use mqtt_test_support::relay::TlsRelay;
use mqtt_test_support::tls::Pki;

use crate::{
    disconnect, next_event, next_message, options, publish, spawn, subscribe, text, Runtime,
};

/// Publish and subscribe over `ws://`, with a small payload and one large enough to span many
/// frames and reads.
pub async fn websocket_publish_and_subscribe<R: Runtime>(rt: &R) {
    let addr = mqtt_test_support::embedded::rumqttd("ws").unwrap_or_else(|e| panic!("{e}"));
    let o = options(
        &format!("ws://{addr}/mqtt"),
        &format!("ws-{}", R::NAME),
        ProtocolVersion::V311,
    );
    let client = spawn(rt, o);
    next_event(&client, "CONNACK over WebSocket", |e| match e {
        ConnectionEvent::Connected { .. } => Some(()),
        ConnectionEvent::ConnectFailed { error, .. } => panic!("{error}"),
        _ => None,
    })
    .await;
    let mut sub = subscribe(&client, "ws/#", QoS::AtLeastOnce).await;
    let big = vec![7u8; 50_000];
    for (topic, payload) in [("ws/small", b"hi".to_vec()), ("ws/big", big.clone())] {
        publish(&client, topic, payload, QoS::AtLeastOnce).await;
    }
    let first = next_message(&mut sub, "the small message").await;
    assert_eq!(first.topic().as_str(), "ws/small");
    assert_eq!(&first.payload()[..], b"hi");
    let second = next_message(&mut sub, "the large message").await;
    assert_eq!(second.topic().as_str(), "ws/big");
    assert_eq!(&second.payload()[..], &big[..]);
    disconnect(&client).await;
}

/// The first outcome of connecting: `Ok` on CONNACK, `Err` with the transport error of
/// `ConnectFailed` (or the reason the connection ended).
async fn first_outcome(client: &Client, what: &str) -> Result<(), String> {
    next_event(client, what, |e| match e {
        ConnectionEvent::Connected { .. } => Some(Ok(())),
        ConnectionEvent::ConnectFailed { error, .. } => Some(Err(error.clone())),
        ConnectionEvent::Disconnected(reason) => Some(Err(format!("{reason:?}"))),
        _ => None,
    })
    .await
}

/// Publish and subscribe over `wss://`, the server verified against the test's CA (no
/// insecure mode): messages at QoS 0 and 1 both arrive. The same URL with another CA in the
/// roots fails to connect, with a certificate error reported as `ConnectFailed`.
pub async fn secure_websocket_publish_and_subscribe<R: Runtime>(rt: &R) {
    let broker = mqtt_test_support::embedded::rumqttd("ws").unwrap_or_else(|e| panic!("{e}"));
    let pki = Pki::generate().unwrap_or_else(|e| panic!("{e}"));
    let relay = TlsRelay::start(broker, &pki).unwrap_or_else(|e| panic!("{e}"));
    let url = format!("wss://127.0.0.1:{}/mqtt", relay.port());

    let tls = TlsOptions::new().ca_pem(pki.ca_pem.as_bytes()).unwrap();
    let o = options(&url, &format!("wss-{}", R::NAME), ProtocolVersion::V311)
        .tls(tls)
        .unwrap();
    let client = spawn(rt, o);
    assert_eq!(
        first_outcome(&client, "CONNACK over wss://").await,
        Ok(()),
        "connecting to {url} with the test CA"
    );
    let mut sub = subscribe(&client, "wss/#", QoS::AtLeastOnce).await;
    publish(&client, "wss/0", "at most once", QoS::AtMostOnce).await;
    publish(&client, "wss/1", "at least once", QoS::AtLeastOnce).await;
    // Delivery QoS is not asserted: rumqttd 0.20 delivers at the subscription's QoS, not the
    // minimum with the publish's (bytebeamio/rumqtt#707), so the QoS 0 message comes at QoS 1.
    let mut received = Vec::new();
    for what in [
        "the first message over wss://",
        "the second message over wss://",
    ] {
        let m = next_message(&mut sub, what).await;
        received.push((m.topic().as_str().to_string(), text(&m)));
    }
    received.sort();
    assert_eq!(
        received,
        [
            ("wss/0".to_string(), "at most once".to_string()),
            ("wss/1".to_string(), "at least once".to_string()),
        ]
    );
    disconnect(&client).await;

    // Another CA in the roots: the relay's certificate is not trusted. (Both test CAs have
    // rcgen's default name, so rustls reports "invalid peer certificate: BadSignature".)
    let other = Pki::generate().unwrap_or_else(|e| panic!("{e}"));
    let tls = TlsOptions::new().ca_pem(other.ca_pem.as_bytes()).unwrap();
    let o = options(
        &url,
        &format!("wss-wrong-ca-{}", R::NAME),
        ProtocolVersion::V311,
    )
    .tls(tls)
    .unwrap();
    let client = spawn(rt, o);
    let error = next_event(&client, "ConnectFailed with another CA", |e| match e {
        ConnectionEvent::ConnectFailed { error, .. } => Some(error.clone()),
        ConnectionEvent::Connected { .. } => {
            panic!("connected to {url} though our CA was not in the roots")
        }
        _ => None,
    })
    .await;
    assert!(
        error.contains("certificate") || error.contains("UnknownIssuer"),
        "{error}"
    );
    disconnect(&client).await;
    drop(relay);
}
