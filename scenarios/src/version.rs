//! A v5 client meeting a broker that speaks MQTT 3.1.1 only: aedes (Node.js), which answers a
//! v5 CONNECT with the v3.1.1 CONNACK "unacceptable protocol version" and closes, and a
//! scripted front to mosquitto that closes a v5 connection without a word.

use mqtt_client::ConnectionEvent;
use mqtt_proto::{ProtocolVersion, QoS, ReasonCode};
use mqtt_session::{DisconnectReason, ReconnectStop};
use mqtt_test_support::aedes::Aedes;
use mqtt_test_support::Mosquitto;

use crate::{
    disconnect, next_event, next_message, options, publish, spawn, subscribe, text, url, Runtime,
};

/// Without the fallback, the client reports that the server does not support MQTT 5 and stops
/// (it does not retry what cannot pass); with `Options::fallback_to_v311`, its next attempt
/// speaks 3.1.1, connects, and works.
pub async fn a_v5_client_meets_a_v311_only_broker<R: Runtime>(rt: &R) {
    let aedes = Aedes::start().unwrap_or_else(|e| panic!("{e}"));
    let url = url(aedes.port());
    let client = spawn(
        rt,
        options(
            &url,
            &format!("v5-at-aedes-{}", R::NAME),
            ProtocolVersion::V5,
        ),
    );
    let reason = next_event(&client, "the refusal", |e| match e {
        ConnectionEvent::Disconnected(reason) => Some(reason.clone()),
        ConnectionEvent::Connected { .. } => panic!("aedes accepted a v5 CONNECT"),
        _ => None,
    })
    .await;
    assert_eq!(reason, DisconnectReason::V5NotSupported { fallback: false });
    assert!(reason.is_permanent());
    let stop = next_event(&client, "the stop", |e| match e {
        ConnectionEvent::ReconnectStopped(stop) => Some(*stop),
        ConnectionEvent::Reconnecting { .. } => panic!("retried a v5 CONNECT aedes refused"),
        _ => None,
    })
    .await;
    assert_eq!(
        stop,
        ReconnectStop::Refused(ReasonCode::UnsupportedProtocolVersion)
    );
    disconnect(&client).await;

    let fallback = options(
        &url,
        &format!("v5-falls-back-{}", R::NAME),
        ProtocolVersion::V5,
    )
    .fallback_to_v311(true);
    let client = spawn(rt, fallback);
    let mut saw = Vec::new();
    next_event(&client, "the CONNACK after the fallback", |e| {
        saw.push(e.clone());
        matches!(e, ConnectionEvent::Connected { .. }).then_some(())
    })
    .await;
    assert!(
        saw.contains(&ConnectionEvent::Disconnected(
            DisconnectReason::V5NotSupported { fallback: true }
        )),
        "{saw:?}"
    );
    let mut sub = subscribe(&client, "fb/#", QoS::AtLeastOnce).await;
    publish(&client, "fb/t", "over 3.1.1", QoS::AtLeastOnce).await;
    assert_eq!(
        text(&next_message(&mut sub, "the message").await),
        "over 3.1.1"
    );
    disconnect(&client).await;
}

/// A server in front of mosquitto that closes a v5 connection without a word and lets 3.1.1
/// through: the fallback takes the silent close for a 3.1.1-only server, and the next attempt
/// connects with 3.1.1.
pub async fn a_silent_close_of_a_v5_connect_falls_back<R: Runtime>(rt: &R) {
    let broker = Mosquitto::plain().unwrap_or_else(|e| panic!("{e}"));
    let port = crate::net::v311_only_front(broker.port())
        .unwrap_or_else(|e| panic!("starting the scripted front: {e}"));
    let fallback = options(
        &url(port),
        &format!("v5-silent-{}", R::NAME),
        ProtocolVersion::V5,
    )
    .fallback_to_v311(true);
    let client = spawn(rt, fallback);
    let mut saw = Vec::new();
    next_event(&client, "the CONNACK after the fallback", |e| {
        saw.push(e.clone());
        matches!(e, ConnectionEvent::Connected { .. }).then_some(())
    })
    .await;
    assert_eq!(
        saw.first(),
        Some(&ConnectionEvent::Disconnected(
            DisconnectReason::TransportClosed
        )),
        "{saw:?}"
    );
    let mut sub = subscribe(&client, "fb/#", QoS::AtLeastOnce).await;
    publish(&client, "fb/t", "x", QoS::AtLeastOnce).await;
    assert_eq!(text(&next_message(&mut sub, "the message").await), "x");
    disconnect(&client).await;
}
