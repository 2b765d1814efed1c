//! The client's own limit on the PUBLISH packets it sends (`Config::max_outgoing_packet_size`):
//! a message the broker would not take is refused at `publish`, with an error that names that
//! limit, instead of being sent and making the broker drop the connection.
#![allow(clippy::unwrap_used, clippy::panic)]

use bytes::Bytes;
use core::num::NonZeroU32;
use core::time::Duration;
use mqtt_proto::*;
use mqtt_session::testing::{Pair, TestSession};
use mqtt_session::{Config, Error, Event, OutboundMessage, PublishFailure};

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];

fn config(version: ProtocolVersion, max: Option<u32>) -> Config {
    let mut c = Config::new(version, MqttString::try_from("size").unwrap());
    c.backoff.initial = Duration::ZERO;
    c.max_outgoing_packet_size = max;
    match version {
        ProtocolVersion::V5 => c.session_expiry_interval = 3600,
        ProtocolVersion::V311 => c.clean_start = false,
    }
    c
}

fn msg(payload_len: usize) -> OutboundMessage {
    OutboundMessage::new(
        TopicName::new("big").unwrap(),
        Bytes::from(vec![b'x'; payload_len]),
        QoS::AtLeastOnce,
    )
}

/// The encoded size of the PUBLISH of `msg(payload_len)`.
fn size(version: ProtocolVersion, payload_len: usize) -> usize {
    let m = msg(payload_len);
    Packet::Publish(Publish::new(
        m.topic,
        m.payload,
        QosPid::AtLeastOnce(PacketId::MIN),
    ))
    .encoded_len(version)
    .unwrap()
}

// Over the limit, connected or not, `publish` refuses the message and takes nothing (no
// Packet Identifier, no queue slot); a message of exactly the limit goes.
#[test]
fn a_publish_over_the_configured_limit_is_refused_with_that_limit() {
    for version in VERSIONS {
        let fits = size(version, 0);
        let max = fits as u32 + 50;
        let mut pair = Pair::new(config(version, Some(max)));
        let over = size(version, 51);
        for connected in [false, true] {
            if connected {
                pair.connect();
                pair.events();
            }
            let (r, sent) = pair.command(|s, now| s.publish(now, msg(51)));
            assert_eq!(
                r,
                Err(Error::ExceedsOutgoingLimit { size: over, max }),
                "{version} connected: {connected}"
            );
            assert_eq!(sent, vec![]);
            assert_eq!(pair.session.pending_publishes(), 0);
        }
        let err = Error::ExceedsOutgoingLimit { size: over, max };
        assert_eq!(
            err.to_string(),
            format!(
                "packet of {over} bytes exceeds the configured maximum outgoing packet size {max}"
            )
        );
        let (r, sent) = pair.command(|s, now| s.publish(now, msg(50)));
        assert_eq!(r.unwrap().packet_id, PacketId::new(1));
        assert_eq!(sent.len(), 1);
    }
}

// v5: the server's Maximum Packet Size applies too; the lower of the two limits is the one
// reported.
#[test]
fn v5_the_lower_of_the_configured_and_the_servers_limit_applies() {
    let v5 = ProtocolVersion::V5;
    let base = size(v5, 0) as u32;
    for (own, server, payload, expected) in [
        (base + 50, base + 20, 30, "server"),
        (base + 20, base + 50, 30, "own"),
        (base + 20, base + 20, 30, "own"),
    ] {
        let mut pair = Pair::new(config(v5, Some(own)));
        pair.connect_with(ConnAck {
            properties: ConnAckProperties {
                maximum_packet_size: NonZeroU32::new(server),
                ..ConnAckProperties::default()
            },
            ..ConnAck::default()
        });
        pair.events();
        let (r, _) = pair.command(|s, now| s.publish(now, msg(payload)));
        let size = size(v5, payload);
        let want = match expected {
            "server" => Error::PacketTooLarge { size, max: server },
            _ => Error::ExceedsOutgoingLimit { size, max: own },
        };
        assert_eq!(r, Err(want), "own {own}, server {server}");
    }
}

// A message accepted under another configuration (restored from a snapshot) that is over the
// limit fails when it would be sent, and the messages behind it go.
#[test]
fn a_restored_publish_over_the_limit_fails_and_the_rest_flows() {
    for version in VERSIONS {
        let mut pair = Pair::new(config(version, None));
        let big = pair.session.publish(pair.now, msg(200)).unwrap();
        let small = pair.session.publish(pair.now, msg(1)).unwrap();
        let snapshot = pair.session.snapshot();

        let max = size(version, 100) as u32;
        let mut pair = Pair::new(config(version, Some(max)));
        pair.session =
            TestSession::restore_with_tables(config(version, Some(max)), snapshot, pair.now)
                .unwrap();
        let sent = pair.connect();
        let published: Vec<_> = sent
            .iter()
            .filter_map(|p| match p {
                Packet::Publish(p) => Some(p.packet_id()),
                _ => None,
            })
            .collect();
        assert_eq!(published, vec![small.packet_id], "{version}");
        let events = pair.events();
        assert!(
            events.contains(&Event::PublishFailed {
                id: big.id,
                packet_id: big.packet_id,
                reason: PublishFailure::ExceedsOutgoingLimit {
                    size: size(version, 200),
                    max,
                },
            }),
            "{events:?}"
        );
    }
}
