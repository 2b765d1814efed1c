//! MQTT over WebSocket. Debian's mosquitto 2.0.11 on this machine cannot open a websockets
//! listener ("Unable to start any listening sockets"), so this runs against a real embedded
//! broker (rumqttd, v3.1.1 over WebSocket) in the test process.

use mqtt_client::ConnectionEvent;
use mqtt_proto::{ProtocolVersion, QoS};

use crate::{disconnect, next_event, next_message, options, publish, spawn, subscribe, Runtime};

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
