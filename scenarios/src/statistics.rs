//! Operation statistics ([`Client::statistics`](mqtt_client::Client::statistics)) against a
//! real broker: messages and payload bytes per QoS exactly as published and received, the
//! bytes on the wire exactly as a relay in between saw them, the gauges back at zero once
//! everything is acknowledged, and a connection the relay cut counted as a reconnect with
//! its cause.

use mqtt_client::{ConnectionEvent, PerQoS, Statistics};
use mqtt_proto::{ProtocolVersion, QoS};
use mqtt_session::DisconnectReason;
use mqtt_test_support::{FaultRelay, Mosquitto, Options as BrokerOptions};
use std::net::SocketAddr;

use crate::{
    connected, disconnect, next_event, next_message, options, publish, subscribe, until, url,
    wait_connected, Runtime,
};

/// Messages published at each QoS, and the payload size of each.
const COUNTS: [(QoS, u64, usize); 3] = [
    (QoS::AtMostOnce, 3, 100),
    (QoS::AtLeastOnce, 4, 200),
    (QoS::ExactlyOnce, 5, 300),
];

/// What [`COUNTS`] adds up to: messages, and payload bytes, per QoS.
fn expected() -> (PerQoS, PerQoS) {
    let mut messages = PerQoS::default();
    let mut bytes = PerQoS::default();
    for (qos, count, size) in COUNTS {
        let (m, b) = match qos {
            QoS::AtMostOnce => (&mut messages.at_most_once, &mut bytes.at_most_once),
            QoS::AtLeastOnce => (&mut messages.at_least_once, &mut bytes.at_least_once),
            QoS::ExactlyOnce => (&mut messages.exactly_once, &mut bytes.exactly_once),
        };
        *m = count;
        *b = count * size as u64;
    }
    (messages, bytes)
}

/// The client's wire counters equal what the relay passed, over every connection so far.
fn wire_matches(stats: &Statistics, relay: &FaultRelay) -> bool {
    let passed = relay.recorded();
    let sent: usize = passed.iter().map(|p| p.from_client.len()).sum();
    let received: usize = passed.iter().map(|p| p.from_server.len()).sum();
    stats.bytes_sent == sent as u64 && stats.bytes_received == received as u64
}

/// One client publishes 3 QoS 0, 4 QoS 1 and 5 QoS 2 messages of 100, 200 and 300 bytes to
/// a topic it subscribes to at QoS 2, through a relay that records the bytes: every counter
/// matches, exactly. The relay then cuts the connection: one reconnect, its cause the closed
/// transport; the wire still matches over both connections. After the graceful disconnect
/// the figures are still there to read.
pub async fn statistics_count_what_was_sent_and_received<R: Runtime>(
    rt: &R,
    version: ProtocolVersion,
) {
    let broker = Mosquitto::start(BrokerOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let relay = FaultRelay::start(SocketAddr::from(([127, 0, 0, 1], broker.port())))
        .unwrap_or_else(|e| panic!("{e}"));
    relay.record();
    let id = format!("stats-{}-{version}", R::NAME);
    let client = connected(rt, options(&url(relay.port()), &id, version)).await;
    let fresh = client.statistics();
    assert_eq!((fresh.connections, fresh.reconnects), (1, 0));
    assert_eq!(fresh.messages_sent.total(), 0);

    let topic = format!("stats/{id}");
    let mut sub = subscribe(&client, &topic, QoS::ExactlyOnce).await;
    for (qos, count, size) in COUNTS {
        for _ in 0..count {
            publish(&client, &topic, vec![b'x'; size], qos).await;
        }
    }
    let total: u64 = COUNTS.iter().map(|&(_, count, _)| count).sum();
    for i in 0..total {
        next_message(&mut sub, &format!("message {i} of {total}")).await;
    }

    let (messages, payload) = expected();
    // The acknowledgements of what the reader took go out on the task's next turn, and the
    // relay passes bytes on its own thread: wait (bounded) for both to settle.
    let stats = until("the acknowledgements and the relay to settle", || {
        let s = client.statistics();
        (s.acks_owed == 0 && s.inbound_buffered_bytes == 0 && wire_matches(&s, &relay)).then_some(s)
    })
    .await;
    assert_eq!(stats.messages_sent, messages);
    assert_eq!(stats.payload_bytes_sent, payload);
    assert_eq!(stats.messages_received, messages, "{stats:#?}");
    assert_eq!(stats.payload_bytes_received, payload);
    assert_eq!(
        (stats.publishes_completed, stats.publishes_failed),
        (total, 0)
    );
    assert_eq!((stats.publishes_in_flight, stats.publishes_queued), (0, 0));
    assert!(stats.bytes_sent > payload.total() && stats.bytes_received > payload.total());
    assert_eq!(stats.disconnects.total(), 0);

    relay.cut();
    let reason = next_event(&client, "the cut", |event| match event {
        ConnectionEvent::Disconnected(reason) => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert!(
        matches!(reason, DisconnectReason::TransportClosed),
        "{reason}"
    );
    wait_connected(&client).await;
    let stats = client.statistics();
    assert_eq!((stats.connections, stats.reconnects), (2, 1));
    assert_eq!(stats.disconnects.transport_closed, 1, "{stats:#?}");
    assert_eq!(stats.disconnects.total(), 1);
    assert_eq!(stats.connect_failures, 0);

    publish(&client, &topic, "after", QoS::AtLeastOnce).await;
    next_message(&mut sub, "the message after the cut").await;
    until("the wire to settle over both connections", || {
        let s = client.statistics();
        (s.acks_owed == 0 && wire_matches(&s, &relay)).then_some(())
    })
    .await;
    // What arrives after the DISCONNECT is read and discarded, not counted: the wire is not
    // compared after it.
    disconnect(&client).await;
    let stats = client.statistics();
    assert_eq!(
        stats.messages_sent.at_least_once,
        messages.at_least_once + 1
    );
    assert_eq!(
        stats.messages_received.at_least_once,
        messages.at_least_once + 1
    );
    assert_eq!(stats.disconnects.local, 1, "{stats:#?}");
    assert_eq!(stats.publishes_in_flight, 0);
}
