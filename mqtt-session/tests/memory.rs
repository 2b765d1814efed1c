//! The memory of the session's queues: a burst grows the event queue once and later bursts
//! reuse it without allocating; once the connection has been quiet for a keep-alive period the
//! memory is given back. Messages acknowledged by the application (manual acks) allocate
//! nothing either once the queues have grown.
#![allow(clippy::unwrap_used, clippy::panic)]

use bytes::BytesMut;
use mqtt_proto::*;
use mqtt_session::testing::Pair;
use mqtt_session::{Config, Event, Message, Timer};
use mqtt_test_support::gated_alloc::{count_allocations_here, net_bytes_here, Gated};

#[global_allocator]
static GLOBAL: Gated = Gated;

/// The allocation counter is global: the tests of this file count one at a time.
static COUNTING: std::sync::Mutex<()> = std::sync::Mutex::new(());

const BURST: usize = 200;

/// `BURST` QoS 0 messages from the server, as one read.
fn burst(version: ProtocolVersion) -> BytesMut {
    let mut wire = BytesMut::new();
    for n in 0..BURST {
        let publish = Publish::new(
            TopicName::new("burst/t").unwrap(),
            format!("{n}"),
            QosPid::AtMostOnce,
        );
        Packet::Publish(publish).encode(version, &mut wire).unwrap();
    }
    // Shared now (the first split of a buffer allocates its shared header), so that the
    // counts below are the session's alone.
    let _ = wire.split_to(0);
    wire
}

#[test]
fn a_burst_reuses_the_event_queue_and_a_quiet_connection_gives_it_back() {
    let _one_at_a_time = COUNTING.lock().unwrap_or_else(|e| e.into_inner());
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let mut pair = Pair::new(Config::new(version, MqttString::new("memory").unwrap()));
        pair.connect();
        assert!(matches!(&pair.events()[..], [Event::Connected(_)]));
        let now = pair.now;
        let read_and_drain = |session: &mut mqtt_session::testing::TestSession,
                              mut wire: BytesMut| {
            count_allocations_here(|| {
                session.handle_read(now, &mut wire);
                let mut messages = 0;
                while let Some(event) = session.poll_event() {
                    assert!(matches!(event, Event::Message(_)), "{event:?}");
                    messages += 1;
                }
                messages
            })
        };

        let (messages, first) = read_and_drain(&mut pair.session, burst(version));
        assert_eq!(messages, BURST);
        assert!(
            first > 0,
            "{version}: the first burst grows the event queue"
        );
        // Drained after every read, as a driver does: the next burst reuses the queue.
        for _ in 0..3 {
            let (messages, again) = read_and_drain(&mut pair.session, burst(version));
            assert_eq!(messages, BURST);
            assert_eq!(again, 0, "{version}: a later burst allocated");
        }

        // Quiet for a keep-alive period: the queue's memory goes back.
        let (at, timer) = pair.session.next_timeout().unwrap();
        assert_eq!(timer, Timer::KeepAlive);
        let ((), net) = net_bytes_here(|| pair.session.handle_timeout(at));
        let queue = (BURST * core::mem::size_of::<Event>()) as isize;
        assert!(
            net <= -queue / 2,
            "{version}: {net} bytes after the keep-alive, the queue held at least {queue}"
        );
    }
}

/// With manual acks, a QoS 1 or 2 message read, acknowledged by the application and answered
/// (PUBACK, or PUBREC then PUBCOMP for the server's PUBREL) allocates nothing once warm; the
/// acknowledgement once gathered what it released in a new `Vec` every time.
#[test]
fn manually_acknowledged_messages_allocate_nothing_once_warm() {
    let _one_at_a_time = COUNTING.lock().unwrap_or_else(|e| e.into_inner());
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let mut config = Config::new(version, MqttString::new("acks").unwrap());
            config.manual_acks = true;
            let mut pair = Pair::new(config);
            pair.connect();
            let _ = pair.events();
            let now = pair.now;
            let encoder = |packet: Packet| {
                let mut wire = BytesMut::new();
                packet.encode(version, &mut wire).unwrap();
                // Shared now, as a read buffer is: the first split of a buffer allocates.
                let _ = wire.split_to(0);
                wire
            };
            // Made before counting: the server's packets, one round each.
            let rounds: Vec<(BytesMut, BytesMut)> = (1..=400u16)
                .map(|n| {
                    let id = PacketId::new(n).unwrap();
                    let qos_pid = match qos {
                        QoS::ExactlyOnce => QosPid::ExactlyOnce(id),
                        _ => QosPid::AtLeastOnce(id),
                    };
                    let publish = Publish::new(TopicName::new("acks/t").unwrap(), "m", qos_pid);
                    let release = Packet::PubRel(PubResponse::new(id));
                    (encoder(Packet::Publish(publish)), encoder(release))
                })
                .collect();
            let mut out = BytesMut::with_capacity(4096);
            let mut round =
                |session: &mut mqtt_session::testing::TestSession,
                 (mut publish, mut release): (BytesMut, BytesMut)| {
                    session.handle_read(now, &mut publish);
                    let Some(Event::Message(Message {
                        ack_token: Some(token),
                        ..
                    })) = session.poll_event()
                    else {
                        panic!("{version} {qos:?}: a message to acknowledge");
                    };
                    session.ack(now, token).unwrap();
                    out.clear();
                    assert!(
                        session.poll_transmit(now, &mut out) > 0,
                        "the PUBACK or PUBREC"
                    );
                    if qos == QoS::ExactlyOnce {
                        session.handle_read(now, &mut release);
                        out.clear();
                        assert!(session.poll_transmit(now, &mut out) > 0, "the PUBCOMP");
                    }
                    assert!(session.poll_event().is_none());
                };
            let mut rounds = rounds.into_iter();
            for wire in rounds.by_ref().take(200) {
                round(&mut pair.session, wire);
            }
            let ((), allocations) = count_allocations_here(|| {
                for wire in rounds {
                    round(&mut pair.session, wire);
                }
            });
            assert_eq!(
                allocations, 0,
                "{version} {qos:?}: allocations in 200 messages"
            );
        }
    }
}
