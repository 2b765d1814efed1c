//! MQTT over WebSocket. Debian's mosquitto 2.0.11 on this machine cannot open a websockets
//! listener ("Unable to start any listening sockets"), so this test runs a real embedded broker
//! (rumqttd, v3.1.1 over WebSocket) in the test process. Every wait is bounded.
#![allow(clippy::unwrap_used, clippy::panic)]

use mqtt_proto::ProtocolVersion;
use mqtt_tokio::{ConnectionEvent, Options, QoS};
use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

fn websocket_broker() -> SocketAddr {
    use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let server = ServerSettings {
        name: "ws".into(),
        listen: addr,
        tls: None,
        next_connection_delay_ms: 1,
        connections: ConnectionSettings {
            connection_timeout_ms: 60_000,
            max_payload_size: 64 * 1024,
            max_inflight_count: 100,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
        },
    };
    let config = Config {
        id: 0,
        router: RouterConfig {
            max_connections: 16,
            max_outgoing_packet_count: 200,
            max_segment_size: 16 * 1024 * 1024,
            max_segment_count: 10,
            custom_segment: None,
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        },
        v4: None,
        v5: None,
        ws: Some(HashMap::from([("1".to_string(), server)])),
        cluster: None,
        console: None,
        bridge: None,
        prometheus: None,
        metrics: None,
    };
    std::thread::spawn(move || {
        let _ = Broker::new(config).start();
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(addr).is_err() {
        assert!(
            Instant::now() < deadline,
            "the WebSocket broker did not listen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    addr
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
