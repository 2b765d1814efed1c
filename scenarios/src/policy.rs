//! The connection policy as a user sees it: reconnecting off means off, the CONNACK has a
//! deadline of its own, a message the broker will not take does not block the rest, and
//! connection events name the configured server.

use mqtt_client::{ClientError, ConnectionEvent};
use mqtt_proto::{ProtocolVersion, QoS, TopicName};
use mqtt_session::{DisconnectReason, OutboundMessage, PublishFailure, ReconnectStop};
use mqtt_test_support::{FaultRelay, Mosquitto, Options as BrokerOptions};
use std::net::SocketAddr;
use std::time::Duration;

use crate::{
    connected, disconnect, first_within, next_event, options, publish, spawn, url, wait_connected,
    within, Runtime,
};

/// With reconnecting off, a lost connection is reported and no new one is made until the
/// application asks for it with `Client::reconnect`.
pub async fn reconnect_off_means_off<R: Runtime>(rt: &R, version: ProtocolVersion) {
    let broker = Mosquitto::plain().unwrap_or_else(|e| panic!("{e}"));
    let relay = FaultRelay::start(SocketAddr::from(([127, 0, 0, 1], broker.port())))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut o = options(
        &url(relay.port()),
        &format!("off-{}-{version}", R::NAME),
        version,
    );
    o.session.backoff.enabled = false;
    let client = connected(rt, o).await;
    relay.cut();
    let stop = next_event(&client, "the stop", |e| match e {
        ConnectionEvent::ReconnectStopped(stop) => Some(*stop),
        ConnectionEvent::Connected { .. } => panic!("reconnected although reconnecting is off"),
        _ => None,
    })
    .await;
    assert_eq!(stop, ReconnectStop::Disabled);
    let again = first_within(Duration::from_millis(500), async {
        while let Some(event) = client.next_event().await {
            if matches!(event, ConnectionEvent::Connected { .. }) {
                return;
            }
        }
    })
    .await;
    assert!(again.is_none(), "reconnected although reconnecting is off");
    assert_eq!(relay.connections(), 1);
    within("the reconnect request", client.reconnect())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    wait_connected(&client).await;
    assert_eq!(relay.connections(), 2);
    disconnect(&client).await;
}

/// A server that accepts the TCP connection and never answers the CONNECT: the CONNACK
/// deadline is its own setting (10 s by default), not the keep-alive (60 s here).
pub async fn the_connack_deadline_is_its_own<R: Runtime>(rt: &R) {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = silent.local_addr().unwrap_or_else(|e| panic!("{e}")).port();
    let mut o = options(
        &url(port),
        &format!("connack-{}", R::NAME),
        ProtocolVersion::V5,
    );
    assert_eq!(
        o.session.connack_timeout,
        Duration::from_secs(10),
        "the default"
    );
    o.session.connack_timeout = Duration::from_millis(300);
    o.session.keep_alive = Duration::from_secs(60);
    let client = spawn(rt, o);
    next_event(&client, "the CONNACK deadline", |e| {
        matches!(
            e,
            ConnectionEvent::Disconnected(DisconnectReason::ConnAckTimeout)
        )
        .then_some(())
    })
    .await;
    drop(silent);
    drop(client);
}

/// A broker that drops the connection of a client whose packet is over its limit (mosquitto's
/// `max_packet_size`; v3.1.1 has no way to learn it): a message over the client's own
/// `max_outgoing_packet_size` is refused at once; one the broker keeps refusing is given up
/// after `poison_limit` connections, reported, and the messages behind it go through.
pub async fn a_message_the_broker_refuses_does_not_block_the_rest<R: Runtime>(rt: &R) {
    let version = ProtocolVersion::V311;
    let broker = Mosquitto::start(BrokerOptions {
        extra_config: vec!["max_packet_size 4096".into()],
        ..BrokerOptions::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let big = || {
        let topic = TopicName::new("poison/big".to_string()).unwrap_or_else(|e| panic!("{e}"));
        OutboundMessage::new(topic, vec![0u8; 8192], QoS::AtLeastOnce)
    };
    let mut o = options(&url(broker.port()), &format!("limit-{}", R::NAME), version);
    o.session.max_outgoing_packet_size = Some(4096);
    let client = connected(rt, o).await;
    let refused = within("a publish over the limit", async {
        client.publish_message(big()).await?.accepted().await
    })
    .await;
    assert!(
        matches!(
            refused,
            Err(ClientError::Session(
                mqtt_session::Error::ExceedsOutgoingLimit { .. }
            ))
        ),
        "{refused:?}"
    );
    disconnect(&client).await;

    let mut o = options(&url(broker.port()), &format!("poison-{}", R::NAME), version);
    assert_eq!(o.session.poison_limit, 0, "off by default");
    o.session.poison_limit = 5;
    let limit = o.session.poison_limit;
    let client = connected(rt, o).await;
    let poison = within("queueing the poison", client.publish_message(big()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let topic = TopicName::new("poison/small".to_string()).unwrap_or_else(|e| panic!("{e}"));
    let behind = within(
        "queueing a message behind it",
        client.publish_message(OutboundMessage::new(topic, "ok", QoS::AtLeastOnce)),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let failed = within("the poison given up", poison).await;
    assert!(
        matches!(
            failed,
            Err(ClientError::PublishFailed(PublishFailure::NeverAcknowledged { connections }))
                if connections == limit
        ),
        "{failed:?}"
    );
    within("the message behind it", behind)
        .await
        .unwrap_or_else(|e| panic!("the message behind the poison: {e}"));
    publish(&client, "poison/after", "after", QoS::AtLeastOnce).await;
    disconnect(&client).await;
}

/// Connection attempts name the server they went to by its index in `Options::servers`.
pub async fn connection_events_name_the_configured_server<R: Runtime>(rt: &R) {
    let [a, b] = mqtt_test_support::free_ports::<2>();
    let o = options(&url(a), &format!("index-{}", R::NAME), ProtocolVersion::V5)
        .server(&url(b))
        .unwrap_or_else(|e| panic!("{e}"));
    let client = spawn(rt, o);
    let mut servers = Vec::new();
    while servers.len() < 5 {
        let server = next_event(&client, "a failed attempt", |e| match e {
            ConnectionEvent::ConnectFailed { server, .. } => Some(*server),
            _ => None,
        })
        .await;
        servers.push(server);
    }
    assert_eq!(servers, [0, 1, 0, 1, 0]);
    drop(client);
}
