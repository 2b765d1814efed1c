//! Push delivery with a callback, manual acknowledgements, fail-over between servers, and a
//! v5 redirect, against a mosquitto the tests start (the redirect's first hop is a scripted
//! server: mosquitto never sends a Server Reference). Every wait is bounded.
#![allow(clippy::unwrap_used, clippy::panic)]

use mqtt_proto::{
    ConnAck, Decoded, Decoder, Disconnect, DisconnectProperties, MqttString, Packet,
    ProtocolVersion, ReasonCode, Role,
};
use mqtt_test_support::{free_port, Mosquitto};
use mqtt_tokio::{Client, ConnectionEvent, Options, QoS};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn options(url: &str, id: &str) -> Options {
    let mut o = Options::new(url, id).unwrap();
    o.session.backoff.initial = Duration::from_millis(50);
    o.session.backoff.max = Duration::from_millis(200);
    o.connect_timeout = Duration::from_secs(2);
    o
}

async fn connected_to(client: &Client) -> usize {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match client.next_event().await {
                Some(ConnectionEvent::Connected { server, .. }) => return server,
                Some(_) => {}
                None => panic!("task ended"),
            }
        }
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn callbacks_receive_every_message() {
    let broker = Mosquitto::plain().unwrap();
    let url = format!("mqtt://127.0.0.1:{}", broker.port());
    let client = mqtt_tokio::spawn(options(&url, "cb")).unwrap();
    connected_to(&client).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let handle = mqtt_tokio::subscribe_with(
        &client,
        "cb/#",
        QoS::AtLeastOnce,
        move |m| {
            let _ = tx.send(m.payload().clone());
        },
        |_| {},
    )
    .await
    .unwrap();
    for n in 0..5 {
        client
            .publish("cb/t", format!("{n}"), QoS::AtLeastOnce)
            .await
            .unwrap();
    }
    for n in 0..5 {
        let got = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, format!("{n}").into_bytes());
    }
    handle.stop();
    client.disconnect().await.unwrap();
}

#[tokio::test]
async fn manual_acks_hold_the_acknowledgement_until_the_application_acks() {
    let broker = Mosquitto::plain().unwrap();
    let url = format!("mqtt://127.0.0.1:{}", broker.port());
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let id = format!("manual-{version}");
        let durable = |o: Options| {
            o.protocol_version(version)
                .clean_start(false)
                .session_expiry(300)
        };
        let client = mqtt_tokio::spawn(durable(options(&url, &id)).manual_acks(true)).unwrap();
        connected_to(&client).await;
        let mut sub = client.subscribe("ma/#", QoS::AtLeastOnce).await.unwrap();
        let publisher =
            mqtt_tokio::spawn(options(&url, &format!("{id}-p")).protocol_version(version)).unwrap();
        connected_to(&publisher).await;
        publisher
            .publish("ma/1", "first", QoS::AtLeastOnce)
            .await
            .unwrap();
        publisher
            .publish("ma/2", "second", QoS::AtLeastOnce)
            .await
            .unwrap();
        let first = tokio::time::timeout(Duration::from_secs(10), sub.next_message())
            .await
            .unwrap()
            .unwrap();
        let second = tokio::time::timeout(Duration::from_secs(10), sub.next_message())
            .await
            .unwrap()
            .unwrap();
        assert!(first.ack_token.is_some() && second.ack_token.is_some());
        // Only the first is acknowledged; the client leaves (its session stays on the
        // broker): the broker must send the second again when it comes back, not the first.
        client.ack(&first).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        drop(sub);
        client.disconnect().await.unwrap();
        let again = mqtt_tokio::spawn(durable(options(&url, &id)).manual_acks(true)).unwrap();
        let mut sub = again.subscribe("ma/#", QoS::AtLeastOnce).await.unwrap();
        let redelivered = tokio::time::timeout(Duration::from_secs(10), sub.next_message())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&redelivered.payload()[..], b"second", "{version}");
        again.ack(&redelivered).await.unwrap();
        again.disconnect().await.unwrap();
        publisher.disconnect().await.unwrap();
    }
}

#[tokio::test]
async fn fail_over_to_the_next_server() {
    let broker = Mosquitto::plain().unwrap();
    // Nothing listens on the first port.
    let dead = format!("mqtt://127.0.0.1:{}", free_port());
    let live = format!("mqtt://127.0.0.1:{}", broker.port());
    let client = mqtt_tokio::spawn(options(&dead, "failover").server(&live).unwrap()).unwrap();
    assert_eq!(connected_to(&client).await, 1);
    client.publish("fo/t", "x", QoS::AtLeastOnce).await.unwrap();
    client.disconnect().await.unwrap();
}

/// A scripted server: answers CONNECT with CONNACK, then DISCONNECT 0x9C "use another server"
/// with a Server Reference.
async fn redirecting_server(listener: tokio::net::TcpListener, reference: String) {
    let (mut socket, _) = listener.accept().await.unwrap();
    let mut buf = bytes::BytesMut::new();
    let decoder = Decoder::new(ProtocolVersion::V5, Role::Client);
    loop {
        socket.read_buf(&mut buf).await.unwrap();
        if let Ok(Decoded::Packet(Packet::Connect(_))) = decoder.decode(&mut buf) {
            break;
        }
    }
    let mut out = Vec::new();
    ConnAck::default()
        .encode(ProtocolVersion::V5, &mut out)
        .unwrap();
    let mut d = Disconnect::new(ReasonCode::UseAnotherServer);
    d.properties = DisconnectProperties {
        server_reference: Some(MqttString::new(reference).unwrap()),
        ..DisconnectProperties::default()
    };
    d.encode(ProtocolVersion::V5, &mut out).unwrap();
    socket.write_all(&out).await.unwrap();
    let _ = socket.shutdown().await;
}

#[tokio::test]
async fn a_v5_server_reference_is_followed() {
    let broker = Mosquitto::plain().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(redirecting_server(
        listener,
        format!("127.0.0.1:{}", broker.port()),
    ));
    let client =
        mqtt_tokio::spawn(options(&format!("mqtt://127.0.0.1:{port}"), "redirect")).unwrap();
    let mut saw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        let mut connected = 0;
        loop {
            let event = client.next_event().await.unwrap();
            if let ConnectionEvent::Connected { .. } = event {
                connected += 1;
            }
            saw.push(event);
            if connected == 2 {
                return;
            }
        }
    })
    .await
    .unwrap();
    assert!(saw.iter().any(|e| matches!(e,
        ConnectionEvent::Disconnected(mqtt_session::DisconnectReason::Server(ReasonCode::UseAnotherServer, p))
            if p.server_reference.is_some())), "{saw:?}");
    assert!(
        saw.iter()
            .any(|e| matches!(e, ConnectionEvent::Redirected(_))),
        "{saw:?}"
    );
    // Connected to mosquitto now: it works.
    client.publish("rd/t", "x", QoS::AtLeastOnce).await.unwrap();
    client.disconnect().await.unwrap();
}
