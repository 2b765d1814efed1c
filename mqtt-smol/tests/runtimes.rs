//! The smol client under smol's executor and under async-std's, against a mosquitto the tests
//! start themselves. Every wait is bounded.
#![allow(clippy::unwrap_used, clippy::panic)]

use futures_lite::future;
use mqtt_proto::ProtocolVersion;
use mqtt_smol::{Client, ConnectionEvent, Options, QoS};
use mqtt_test_support::Mosquitto;
use std::time::Duration;

async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    future::or(async { Some(f.await) }, async {
        async_io::Timer::after(Duration::from_secs(10)).await;
        None
    })
    .await
    .unwrap_or_else(|| panic!("timed out: {what}"))
}

async fn connected(port: u16, id: &str, version: ProtocolVersion) -> Client {
    let options = Options::new(&format!("mqtt://127.0.0.1:{port}"), id)
        .unwrap()
        .protocol_version(version);
    let client = mqtt_smol::spawn(options).unwrap();
    within("CONNACK", async {
        loop {
            match client.next_event().await {
                Some(ConnectionEvent::Connected { .. }) => return,
                Some(_) => {}
                None => panic!("task ended"),
            }
        }
    })
    .await;
    client
}

/// One scenario body, run on both executors: QoS 0/1/2 round trips in both versions, and a
/// publish handle that says its packet id at once.
async fn round_trips(port: u16, runtime: &str) {
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let client = connected(port, &format!("{runtime}-{version}"), version).await;
        let mut sub = within(
            "subscribe",
            client.subscribe(&format!("{runtime}/#"), QoS::ExactlyOnce),
        )
        .await
        .unwrap();
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let topic = format!("{runtime}/{}", qos as u8);
            let done = within("publish", client.publish(&topic, "m", qos))
                .await
                .unwrap();
            assert_eq!(done.packet_id.is_some(), qos != QoS::AtMostOnce);
            let m = within("message", sub.next_message()).await.unwrap();
            assert_eq!(m.topic().as_str(), topic);
            assert_eq!(m.qos(), qos);
        }
        within("disconnect", client.disconnect()).await.unwrap();
    }
}

#[test]
fn under_smol() {
    let broker = Mosquitto::plain().unwrap();
    smol::block_on(round_trips(broker.port(), "smol"));
}

#[test]
fn under_async_std() {
    let broker = Mosquitto::plain().unwrap();
    async_std::task::block_on(round_trips(broker.port(), "async-std"));
}

#[test]
fn will_on_a_cut_connection_under_smol() {
    let broker = Mosquitto::plain().unwrap();
    smol::block_on(async {
        let watcher = connected(broker.port(), "will-watch", ProtocolVersion::V5).await;
        let mut sub = within(
            "subscribe",
            watcher.subscribe("will/smol", QoS::AtLeastOnce),
        )
        .await
        .unwrap();
        let mut will =
            mqtt_proto::Will::new(mqtt_proto::TopicName::new("will/smol").unwrap(), "gone");
        will.qos = QoS::AtLeastOnce;
        let options = Options::new(&format!("mqtt://127.0.0.1:{}", broker.port()), "will-smol")
            .unwrap()
            .will(will);
        let (client, connection) = mqtt_smol::new(options).unwrap();
        // The task runs on this executor; dropping it cuts the connection without DISCONNECT.
        let task = smol::spawn(connection.run());
        within("CONNACK", async {
            while !matches!(
                client.next_event().await,
                Some(ConnectionEvent::Connected { .. })
            ) {}
        })
        .await;
        drop(task);
        let m = within("will", sub.next_message()).await.unwrap();
        assert_eq!(&m.payload()[..], b"gone");
        within("disconnect", watcher.disconnect()).await.unwrap();
    });
}

#[test]
fn websocket_under_async_std() {
    // Debian's mosquitto here cannot serve WebSocket: a real embedded broker does.
    let addr = mqtt_test_support::embedded::rumqttd("ws").unwrap();
    async_std::task::block_on(async {
        let options = Options::new(&format!("ws://{addr}/mqtt"), "ws-async-std")
            .unwrap()
            .protocol_version(ProtocolVersion::V311);
        let client = mqtt_smol::spawn(options).unwrap();
        within("CONNACK", async {
            loop {
                match client.next_event().await {
                    Some(ConnectionEvent::Connected { .. }) => return,
                    Some(ConnectionEvent::ConnectFailed { error, .. }) => panic!("{error}"),
                    Some(_) => {}
                    None => panic!("task ended"),
                }
            }
        })
        .await;
        let mut sub = within("subscribe", client.subscribe("ws/#", QoS::AtLeastOnce))
            .await
            .unwrap();
        let big = vec![9u8; 50_000];
        within(
            "publish",
            client.publish("ws/big", big.clone(), QoS::AtLeastOnce),
        )
        .await
        .unwrap();
        let m = within("message", sub.next_message()).await.unwrap();
        assert_eq!(m.payload().len(), big.len());
        within("disconnect", client.disconnect()).await.unwrap();
    });
}
