//! MQTT over WebSocket. Debian's mosquitto 2.0.11 on this machine cannot open a websockets
//! listener ("Unable to start any listening sockets"), so this test runs a real embedded broker
//! (rumqttd, v3.1.1 over WebSocket) in the test process. Every wait is bounded.
#![allow(clippy::unwrap_used, clippy::panic)]

use mqtt_proto::ProtocolVersion;
use mqtt_tokio::{ConnectionEvent, Options, QoS};
use std::time::Duration;

fn websocket_broker() -> std::net::SocketAddr {
    mqtt_test_support::embedded::rumqttd("ws").unwrap()
}

#[tokio::test]
async fn publish_and_subscribe_over_websocket() {
    let addr = websocket_broker();
    let options = Options::new(&format!("ws://{addr}/mqtt"), "ws-client")
        .unwrap()
        .protocol_version(ProtocolVersion::V311);
    let client = mqtt_tokio::spawn(options).unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match client.next_event().await {
                Some(ConnectionEvent::Connected { .. }) => return,
                Some(ConnectionEvent::ConnectFailed { error, .. }) => panic!("{error}"),
                Some(_) => {}
                None => panic!("task ended"),
            }
        }
    })
    .await
    .unwrap();
    let mut sub = tokio::time::timeout(
        Duration::from_secs(10),
        client.subscribe("ws/#", QoS::AtLeastOnce),
    )
    .await
    .unwrap()
    .unwrap();
    // A payload larger than one frame's worth of small writes, to cross frame boundaries.
    let big = vec![7u8; 100_000 / 2];
    for (topic, payload) in [("ws/small", b"hi".to_vec()), ("ws/big", big.clone())] {
        tokio::time::timeout(
            Duration::from_secs(10),
            client.publish(topic, payload, QoS::AtLeastOnce),
        )
        .await
        .unwrap()
        .unwrap();
    }
    let first = tokio::time::timeout(Duration::from_secs(10), sub.next_message())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&first.payload()[..], b"hi");
    let second = tokio::time::timeout(Duration::from_secs(10), sub.next_message())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.payload().len(), big.len());
    tokio::time::timeout(Duration::from_secs(10), client.disconnect())
        .await
        .unwrap()
        .unwrap();
}
