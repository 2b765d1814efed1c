//! The memory of the session's queues: a burst grows the event queue once and later bursts
//! reuse it without allocating; once the connection has been quiet for a keep-alive period the
//! memory is given back.
#![allow(clippy::unwrap_used, clippy::panic)]

use bytes::BytesMut;
use mqtt_proto::*;
use mqtt_session::testing::Pair;
use mqtt_session::{Config, Event, Timer};
use mqtt_test_support::gated_alloc::{count_allocations, net_bytes, Gated};

#[global_allocator]
static GLOBAL: Gated = Gated;

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
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let mut pair = Pair::new(Config::new(version, MqttString::new("memory").unwrap()));
        pair.connect();
        assert!(matches!(&pair.events()[..], [Event::Connected(_)]));
        let now = pair.now;
        let read_and_drain = |session: &mut mqtt_session::Session<_>, mut wire: BytesMut| {
            count_allocations(|| {
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
        let ((), net) = net_bytes(|| pair.session.handle_timeout(at));
        let queue = (BURST * core::mem::size_of::<Event>()) as isize;
        assert!(
            net <= -queue / 2,
            "{version}: {net} bytes after the keep-alive, the queue held at least {queue}"
        );
    }
}
