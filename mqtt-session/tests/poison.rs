//! Poison messages (`Config::poison_limit`): a QoS 1/2 publish that the server answers only by
//! dropping the connection, as a v3.1.1 broker does with a message larger than it accepts, is
//! given up after that many connections in a row, so the publishes behind it flow; ordinary
//! cuts while acknowledgements flow never give a message up.
#![allow(clippy::unwrap_used, clippy::panic)]

use bytes::Bytes;
use core::time::Duration;
use mqtt_proto::*;
use mqtt_session::testing::Pair;
use mqtt_session::{Config, Event, Journal, JournalWrite, OutboundMessage, PublishFailure};

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];

fn config(version: ProtocolVersion, clean_start: bool) -> Config {
    let mut c = Config::new(version, MqttString::try_from("poison").unwrap());
    c.backoff.initial = Duration::from_millis(100);
    c.poison_limit = 5;
    c.clean_start = clean_start;
    if version == ProtocolVersion::V5 && !clean_start {
        c.session_expiry_interval = 3600;
    }
    c
}

fn msg(topic: &'static str, qos: QoS) -> OutboundMessage {
    OutboundMessage::new(
        TopicName::new(topic).unwrap(),
        Bytes::from_static(b"x"),
        qos,
    )
}

/// A broker that takes packets in order, acknowledges each, and drops the connection when it
/// reads a PUBLISH to `poison/...`. Runs a driver loop at simulated speed for `rounds`
/// reconnects; returns the connections made and the events.
fn run_against_a_dropping_broker(pair: &mut Pair, rounds: usize) -> (usize, Vec<Event>) {
    let mut connections = 0;
    let mut events = Vec::new();
    for _ in 0..rounds {
        if pair.session.is_connected() && pair.session.pending_publishes() == 0 {
            break;
        }
        if !pair.session.should_connect(pair.now) {
            if pair.advance_to_next_timeout().is_none() {
                break;
            }
            events.extend(pair.events());
            continue;
        }
        connections += 1;
        pair.open();
        let session_present = !pair.session.config().clean_start;
        let mut packets = pair.send(ConnAck {
            session_present: session_present && connections > 1,
            ..ConnAck::default()
        });
        events.extend(pair.events());
        while !packets.is_empty() {
            let mut answers = Vec::new();
            let mut dropped = false;
            for packet in packets {
                match packet {
                    Packet::Publish(p) if p.topic.starts_with("poison/") => {
                        dropped = true;
                        break;
                    }
                    Packet::Publish(p) => match p.qos_pid {
                        QosPid::AtMostOnce => {}
                        QosPid::AtLeastOnce(id) => answers.push((PacketType::PubAck, id)),
                        QosPid::ExactlyOnce(id) => answers.push((PacketType::PubRec, id)),
                    },
                    Packet::PubRel(r) => answers.push((PacketType::PubComp, r.packet_id)),
                    Packet::Subscribe(s) => {
                        answers.push((PacketType::SubAck, s.packet_id));
                    }
                    _ => {}
                }
            }
            // What the broker answered before it read the poison arrives first.
            packets = Vec::new();
            for (kind, id) in answers {
                let more = if kind == PacketType::SubAck {
                    pair.send(SubAck {
                        packet_id: id,
                        reason_codes: vec![ReasonCode::GrantedQoS1],
                        properties: AckProperties::default(),
                    })
                } else {
                    pair.send_ack(kind, PubResponse::new(id))
                };
                packets.extend(more);
            }
            events.extend(pair.events());
            if dropped {
                pair.drop_connection();
                events.extend(pair.events());
                break;
            }
        }
    }
    (connections, events)
}

fn never_acknowledged(events: &[Event]) -> Vec<(u64, u16)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::PublishFailed {
                id,
                reason: PublishFailure::NeverAcknowledged { connections },
                ..
            } => Some((id.get(), *connections)),
            _ => None,
        })
        .collect()
}

fn completed(events: &[Event]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::PublishCompleted { id, .. } => Some(id.get()),
            _ => None,
        })
        .collect()
}

// The brief's case: a message the broker will not take ends every connection it is sent on.
// After `poison_limit` (5) such connections it fails with `NeverAcknowledged`, and the
// messages behind it (queued before and after) complete. This holds with a resumed session,
// where it is resent first, and with a clean one and a subscription, where the SUBACK of the
// resubscription (written before it) arrives after it was sent.
#[test]
fn a_message_the_broker_drops_the_connection_for_is_given_up_and_the_rest_flows() {
    for version in VERSIONS {
        for clean_start in [false, true] {
            let mut pair = Pair::new(config(version, clean_start));
            let filter = SubscribeFilter::new(TopicFilter::new("s").unwrap(), QoS::AtLeastOnce);
            pair.session
                .subscribe(pair.now, vec![filter], SubscribeProperties::default())
                .unwrap();
            let before = pair.session.publish(pair.now, msg("a", QoS::AtLeastOnce));
            let poison = pair
                .session
                .publish(pair.now, msg("poison/big", QoS::AtLeastOnce))
                .unwrap();
            let after = pair
                .session
                .publish(pair.now, msg("b", QoS::ExactlyOnce))
                .unwrap();
            let (connections, events) = run_against_a_dropping_broker(&mut pair, 100);
            let case = format!("{version} clean start {clean_start}");
            assert_eq!(
                never_acknowledged(&events),
                vec![(poison.id.get(), 5)],
                "{case}: {events:?}"
            );
            let done = completed(&events);
            assert!(done.contains(&before.unwrap().id.get()), "{case}");
            assert!(done.contains(&after.id.get()), "{case}");
            assert_eq!(connections, 6, "{case}");
            assert_eq!(pair.session.pending_publishes(), 0, "{case}");
            assert!(pair.session.is_connected(), "{case}");
            // Nothing of it is left to persist: the journal reads back without it.
            let snapshot = pair.session.snapshot();
            assert!(snapshot.outgoing.is_empty(), "{case}");
            let mut journal = Journal::new();
            let JournalWrite::Replace(bytes) = journal.write_session(&mut pair.session) else {
                panic!("the first write is whole");
            };
            assert_eq!(
                Journal::read(Bytes::copy_from_slice(bytes)).unwrap(),
                snapshot
            );
        }
    }
}

// `poison_limit` 0 turns it off: the message is resent on every connection.
#[test]
fn a_poison_limit_of_zero_never_gives_a_message_up() {
    for version in VERSIONS {
        let mut c = config(version, false);
        c.poison_limit = 0;
        let mut pair = Pair::new(c);
        pair.session
            .publish(pair.now, msg("poison/big", QoS::AtLeastOnce))
            .unwrap();
        let (connections, events) = run_against_a_dropping_broker(&mut pair, 100);
        assert!(connections >= 20, "{connections}");
        assert_eq!(never_acknowledged(&events), vec![]);
        assert_eq!(pair.session.pending_publishes(), 1);
    }
}

/// Connects (resuming the session after the first time), returns the PUBLISH packets the
/// session wrote.
fn connect(pair: &mut Pair, first: bool) -> Vec<Publish> {
    pair.open();
    let packets = pair.send(ConnAck {
        session_present: !first,
        ..ConnAck::default()
    });
    pair.events();
    packets
        .into_iter()
        .filter_map(|p| match p {
            Packet::Publish(p) => Some(p),
            _ => None,
        })
        .collect()
}

// An ordinary cut does not count against a message the server read past: when it
// acknowledged a publish written after it, however often the connection drops. Only the
// messages written after the last acknowledged one count, and they too start over once the
// server acknowledges one written after them. The application's own disconnect never counts.
#[test]
fn cuts_after_the_server_read_past_a_message_never_give_it_up() {
    for version in VERSIONS {
        let mut pair = Pair::new(config(version, false));
        let first = pair
            .session
            .publish(pair.now, msg("first", QoS::AtLeastOnce))
            .unwrap();
        for round in 0..20 {
            // A later publish on each connection, acknowledged before the cut; the first
            // one's acknowledgement is lost each time.
            let later = pair
                .session
                .publish(pair.now, msg("later", QoS::AtLeastOnce))
                .unwrap();
            let sent = connect(&mut pair, round == 0);
            assert_eq!(sent.len(), 2, "round {round}");
            pair.send_ack(
                PacketType::PubAck,
                PubResponse::new(later.packet_id.unwrap()),
            );
            pair.drop_connection();
            let events = pair.events();
            assert_eq!(never_acknowledged(&events), vec![], "round {round}");
            pair.advance_to_next_timeout();
        }
        assert_eq!(pair.session.pending_publishes(), 1);

        // The application's disconnect does not count.
        for _ in 0..10 {
            connect(&mut pair, false);
            pair.command(|s, now| s.disconnect(now, ReasonCode::Success, Default::default()))
                .0
                .unwrap();
            pair.command(|s, now| s.reconnect(now));
        }
        assert_eq!(never_acknowledged(&pair.events()), vec![]);

        // Five cuts with nothing acknowledged after it: given up.
        for _ in 0..5 {
            connect(&mut pair, false);
            pair.drop_connection();
            pair.advance_to_next_timeout();
        }
        assert_eq!(
            never_acknowledged(&pair.events()),
            vec![(first.id.get(), 5)]
        );
        assert_eq!(pair.session.pending_publishes(), 0);
    }
}
