//! Keep-alive: PINGREQ after a keep-alive of silence, pushed back by every packet written,
//! answered by PINGRESP, the connection declared dead without one, the server's keep-alive,
//! keep-alive off, and a long random run that is never silent for longer than the keep-alive.
#![allow(clippy::unwrap_used, clippy::panic)]

use core::num::NonZeroU16;
use core::time::Duration;
use mqtt_proto::*;
use mqtt_session::testing::{Pair, VirtualInstant};
use mqtt_session::{Config, DisconnectReason, Event, OutboundMessage, State, Timer};
use std::collections::VecDeque;

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn at(n: u64) -> VirtualInstant {
    VirtualInstant(secs(n))
}

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn topic(name: &'static str) -> TopicName {
    TopicName::new(name).unwrap()
}

fn config(version: ProtocolVersion) -> Config {
    Config::new(version, MqttString::new("keep-alive").unwrap())
}

/// A pair connected at time zero (CONNACK at 0 s), events drained.
fn connected(config: Config) -> Pair {
    let mut pair = Pair::new(config);
    assert!(pair.connect().is_empty());
    assert!(matches!(&pair.events()[..], [Event::Connected(_)]));
    pair
}

#[test]
fn pingreq_after_a_keep_alive_of_silence() {
    for version in VERSIONS {
        let mut config = config(version);
        config.response_timeout = Some(secs(10));
        let mut pair = connected(config);
        assert_eq!(
            pair.session.next_timeout(),
            Some((at(60), Timer::KeepAlive))
        );
        assert!(pair.advance(Duration::from_millis(59_999)).is_empty());

        // v5 [MQTT-3.1.2-20]; v3.1.1 [MQTT-3.1.2-23]: nothing else to send, so PINGREQ.
        assert_eq!(
            pair.advance_to_next_timeout(),
            Some((Timer::KeepAlive, vec![Packet::PingReq]))
        );
        assert_eq!(pair.now, at(60));
        assert!(pair.events().is_empty());
        assert_eq!(
            pair.session.next_timeout(),
            Some((at(70), Timer::PingResponse))
        );
    }
}

#[test]
fn every_packet_written_pushes_the_pingreq_later() {
    for version in VERSIONS {
        let mut pair = connected(config(version));

        pair.advance(secs(30));
        let (ticket, sent) = pair.command(|s, now| {
            s.publish(now, OutboundMessage::new(topic("t"), "x", QoS::AtMostOnce))
        });
        ticket.unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(
            pair.session.next_timeout(),
            Some((at(90), Timer::KeepAlive))
        );

        // An acknowledgement the client writes counts too.
        pair.advance(secs(20));
        let incoming = Publish::new(topic("t"), "y", QosPid::AtLeastOnce(pid(1)));
        assert_eq!(
            pair.send(incoming),
            vec![Packet::PubAck(PubResponse::new(pid(1)))]
        );
        assert_eq!(
            pair.session.next_timeout(),
            Some((at(110), Timer::KeepAlive))
        );

        // And a SUBSCRIBE.
        pair.advance(secs(20));
        let filter = SubscribeFilter::new(TopicFilter::new("a").unwrap(), QoS::AtMostOnce);
        let (result, sent) =
            pair.command(|s, now| s.subscribe(now, vec![filter], Default::default()));
        result.unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(
            pair.session.next_timeout(),
            Some((at(130), Timer::KeepAlive))
        );

        assert_eq!(
            pair.advance_to_next_timeout(),
            Some((Timer::KeepAlive, vec![Packet::PingReq]))
        );
        assert_eq!(pair.now, at(130));
    }
}

#[test]
fn packets_received_do_not_push_the_pingreq_later() {
    for version in VERSIONS {
        let mut pair = connected(config(version));
        pair.advance(secs(30));
        // The keep-alive is about what the client sends: a QoS 0 message in, nothing out.
        assert!(pair
            .send(Publish::new(topic("t"), "x", QosPid::AtMostOnce))
            .is_empty());
        assert_eq!(
            pair.advance_to_next_timeout(),
            Some((Timer::KeepAlive, vec![Packet::PingReq]))
        );
        assert_eq!(pair.now, at(60));
    }
}

#[test]
fn pingresp_clears_the_outstanding_ping() {
    for version in VERSIONS {
        let mut config = config(version);
        config.response_timeout = Some(secs(10));
        let mut pair = connected(config);
        assert_eq!(
            pair.advance_to_next_timeout(),
            Some((Timer::KeepAlive, vec![Packet::PingReq]))
        );
        pair.advance(secs(5));
        assert!(pair.send(Packet::PingResp).is_empty());
        assert!(pair.events().is_empty());
        // No PINGRESP deadline any more: the next wake-up is the next PINGREQ, a keep-alive after
        // the last one.
        assert_eq!(
            pair.session.next_timeout(),
            Some((at(120), Timer::KeepAlive))
        );
        assert_eq!(
            pair.advance_to_next_timeout(),
            Some((Timer::KeepAlive, vec![Packet::PingReq]))
        );
        assert!(pair.session.is_connected());
        assert!(pair.events().is_empty());
    }
}

#[test]
fn no_pingresp_within_the_response_timeout_ends_the_connection() {
    for version in VERSIONS {
        let mut config = config(version);
        config.response_timeout = Some(secs(10));
        let mut pair = connected(config);
        assert_eq!(
            pair.advance_to_next_timeout(),
            Some((Timer::KeepAlive, vec![Packet::PingReq]))
        );
        assert!(pair.advance(Duration::from_millis(9_999)).is_empty());
        assert!(pair.session.is_connected());

        assert_eq!(
            pair.advance_to_next_timeout(),
            Some((Timer::PingResponse, vec![]))
        );
        assert_eq!(pair.now, at(70));
        let events = pair.events();
        let [Event::Disconnected(DisconnectReason::KeepAliveTimeout), Event::ReconnectScheduled { delay, attempt: 1 }] =
            events[..]
        else {
            panic!("{events:?}");
        };
        assert_eq!(
            pair.session.next_timeout(),
            Some((VirtualInstant(pair.now.0 + delay), Timer::Reconnect))
        );
        assert_eq!(pair.session.state(), State::Idle);
        assert!(!pair.open);
    }
}

#[test]
fn with_the_default_response_timeout_the_ping_deadline_is_one_keep_alive() {
    for version in VERSIONS {
        let mut pair = connected(config(version));
        assert_eq!(
            pair.advance_to_next_timeout(),
            Some((Timer::KeepAlive, vec![Packet::PingReq]))
        );
        assert!(pair.advance(Duration::from_millis(59_999)).is_empty());
        assert!(pair.session.is_connected());
        // The session wakes up because the PINGREQ went unanswered: that is the reason it
        // gives (a second PINGREQ cannot be due while one is outstanding).
        assert_eq!(
            pair.advance_to_next_timeout(),
            Some((Timer::PingResponse, vec![])),
            "{version}"
        );
        assert_eq!(pair.now, at(120));
        let events = pair.events();
        assert!(
            matches!(
                events[..],
                [
                    Event::Disconnected(DisconnectReason::KeepAliveTimeout),
                    Event::ReconnectScheduled { attempt: 1, .. }
                ]
            ),
            "{events:?}"
        );
    }
}

#[test]
fn a_pingresp_slower_than_the_keep_alive_does_not_silence_the_client() {
    // A response timeout longer than the keep-alive (a slow link): the server answers every
    // PINGREQ 15 s later, within the 30 s allowed. The client must still never be silent for
    // longer than the 10 s keep-alive: v5 [MQTT-3.1.2-20], v3.1.1 [MQTT-3.1.2-23].
    for version in VERSIONS {
        let mut config = config(version);
        config.keep_alive = secs(10);
        config.response_timeout = Some(secs(30));
        let mut pair = connected(config);
        let mut written = vec![Duration::ZERO];
        let mut replies: VecDeque<Duration> = VecDeque::new();
        loop {
            let deadline = pair.session.next_timeout().map(|(t, _)| t.0);
            let reply = replies.front().copied();
            // Nothing to wait for at all also ends the run (the session would stay silent).
            let Some(t) = [deadline, reply].into_iter().flatten().min() else {
                break;
            };
            if t > secs(60) {
                break;
            }
            let sent = if deadline == Some(t) {
                pair.advance_to_next_timeout().unwrap().1
            } else {
                replies.pop_front();
                pair.advance(t - pair.now.0);
                pair.send(Packet::PingResp)
            };
            for packet in sent {
                assert_eq!(packet, Packet::PingReq);
                written.push(pair.now.0);
                replies.push_back(pair.now.0 + secs(15));
            }
        }
        assert!(
            pair.session.is_connected(),
            "{version}: {:?}",
            pair.events()
        );
        written.push(secs(60));
        for w in written.windows(2) {
            assert!(
                w[1] - w[0] <= secs(10),
                "{version}: silent from {:?} to {:?}; written at {written:?} (0 s: CONNECT; 60 s: end)",
                w[0],
                w[1]
            );
        }
    }
}

#[test]
fn v5_server_keep_alive_overrides_the_clients() {
    for (client, server) in [(60u64, 20u16), (0, 30), (5, 40)] {
        let mut config = config(ProtocolVersion::V5);
        config.keep_alive = secs(client);
        let mut pair = Pair::new(config);
        assert_eq!(pair.open().keep_alive, client as u16);
        let properties = ConnAckProperties {
            server_keep_alive: Some(server),
            ..ConnAckProperties::default()
        };
        pair.send(ConnAck {
            properties,
            ..ConnAck::default()
        });
        pair.events();
        // [MQTT-3.1.2-21], [MQTT-3.2.2-21]
        assert_eq!(pair.session.server_limits().keep_alive, secs(server.into()));
        assert_eq!(
            pair.advance_to_next_timeout(),
            Some((Timer::KeepAlive, vec![Packet::PingReq]))
        );
        assert_eq!(
            pair.now,
            at(server.into()),
            "client {client}, server {server}"
        );
        pair.send(Packet::PingResp);
        assert_eq!(
            pair.advance_to_next_timeout(),
            Some((Timer::KeepAlive, vec![Packet::PingReq]))
        );
        assert_eq!(pair.now, at(2 * u64::from(server)));
    }
}

#[test]
fn v5_server_keep_alive_zero_turns_keep_alive_off() {
    let mut pair = Pair::new(config(ProtocolVersion::V5));
    assert_eq!(pair.open().keep_alive, 60);
    let properties = ConnAckProperties {
        server_keep_alive: Some(0),
        ..ConnAckProperties::default()
    };
    pair.send(ConnAck {
        properties,
        ..ConnAck::default()
    });
    pair.events();
    assert_eq!(pair.session.server_limits().keep_alive, Duration::ZERO);
    assert_eq!(pair.session.next_timeout(), None);
    for _ in 0..10 {
        assert!(pair.advance(secs(3600)).is_empty());
    }
    assert!(pair.events().is_empty());
    assert!(pair.session.is_connected());
}

#[test]
fn keep_alive_zero_never_sends_pingreq() {
    for version in VERSIONS {
        let mut config = config(version);
        config.keep_alive = Duration::ZERO;
        let mut pair = Pair::new(config);
        assert_eq!(pair.open().keep_alive, 0);
        pair.send(ConnAck::default());
        pair.events();
        assert_eq!(pair.session.next_timeout(), None);
        assert_eq!(pair.advance_to_next_timeout(), None);
        // Traffic does not start a keep-alive either.
        let (ticket, sent) = pair.command(|s, now| {
            s.publish(now, OutboundMessage::new(topic("t"), "x", QoS::AtMostOnce))
        });
        ticket.unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(pair.session.next_timeout(), None);
        for _ in 0..24 {
            assert!(pair.advance(secs(3600)).is_empty());
        }
        assert_eq!(pair.events().len(), 1, "only the QoS 0 completion");
        assert!(pair.session.is_connected());
    }
}

/// xorshift64*: the test's own deterministic randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A duration in [0, max), in milliseconds.
    fn duration_below(&mut self, max: Duration) -> Duration {
        Duration::from_millis(self.below(max.as_millis() as u64))
    }
}

/// Answers, at once and as a well-behaved server, everything the client wrote (except PINGREQ,
/// whose PINGRESP the caller schedules); records the time of every packet the client wrote.
fn serve(
    pair: &mut Pair,
    packets: Vec<Packet>,
    log: &mut Vec<Duration>,
    pings: &mut Vec<Duration>,
) {
    let mut work = packets;
    while !work.is_empty() {
        let mut next = Vec::new();
        for packet in work {
            log.push(pair.now.0);
            let answer: Option<Packet> = match packet {
                Packet::PingReq => {
                    pings.push(pair.now.0);
                    None
                }
                Packet::Publish(p) => match p.qos_pid {
                    QosPid::AtMostOnce => None,
                    QosPid::AtLeastOnce(id) => Some(Packet::PubAck(PubResponse::new(id))),
                    QosPid::ExactlyOnce(id) => Some(Packet::PubRec(PubResponse::new(id))),
                },
                Packet::PubRel(r) => Some(Packet::PubComp(PubResponse::new(r.packet_id))),
                Packet::PubRec(r) => Some(Packet::PubRel(PubResponse::new(r.packet_id))),
                Packet::Subscribe(s) => Some(Packet::SubAck(SubAck {
                    packet_id: s.packet_id,
                    reason_codes: vec![ReasonCode::Success; s.filters.len()],
                    properties: AckProperties::default(),
                })),
                Packet::PubAck(_) | Packet::PubComp(_) => None,
                other => panic!("unexpected packet from the client: {other:?}"),
            };
            if let Some(answer) = answer {
                next.extend(pair.send(answer));
            }
        }
        work = next;
    }
}

/// Six simulated hours of random traffic both ways, with silences longer than the keep-alive
/// and PINGRESPs that take up to the response timeout: the gap between two packets the client
/// writes never exceeds the keep-alive (v5 [MQTT-3.1.2-20]; v3.1.1 [MQTT-3.1.2-23]), and the
/// connection never ends.
fn random_run(version: ProtocolVersion, keep_alive: u64, response_timeout: Option<u64>, seed: u64) {
    let keep_alive = secs(keep_alive);
    let response = response_timeout.map_or(keep_alive, secs);
    let mut config = config(version);
    config.keep_alive = keep_alive;
    config.response_timeout = response_timeout.map(secs);
    let mut pair = Pair::new(config);
    let mut rng = Rng(seed);
    let mut log = vec![Duration::ZERO]; // the CONNECT
    let mut pings = Vec::new();
    pair.open();
    let sent = pair.send(ConnAck::default());
    serve(&mut pair, sent, &mut log, &mut pings);

    let end = secs(6 * 3600);
    let mut next_action = pair.now.0 + rng.duration_below(keep_alive * 3);
    let mut pingresp_due: Option<Duration> = None;
    let mut server_id = 0u16;
    loop {
        let deadline = pair.session.next_timeout().map(|(t, _)| t.0);
        let candidates = [deadline, pingresp_due, Some(next_action)];
        let t = candidates.iter().flatten().copied().min().unwrap();
        if t > end {
            break;
        }
        if deadline == Some(t) {
            let (_, sent) = pair.advance_to_next_timeout().unwrap();
            pings.clear();
            serve(&mut pair, sent, &mut log, &mut pings);
        } else if pingresp_due == Some(t) {
            pair.advance(t - pair.now.0);
            pingresp_due = None;
            let sent = pair.send(Packet::PingResp);
            serve(&mut pair, sent, &mut log, &mut pings);
        } else {
            let sent = pair.advance(t - pair.now.0);
            serve(&mut pair, sent, &mut log, &mut pings);
            let qos = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce];
            let sent = match rng.below(10) {
                0..=2 => {
                    let q = qos[rng.below(3) as usize];
                    let (r, sent) = pair.command(|s, now| {
                        s.publish(now, OutboundMessage::new(topic("out"), "x", q))
                    });
                    r.unwrap();
                    sent
                }
                3 => {
                    let filter =
                        SubscribeFilter::new(TopicFilter::new("in").unwrap(), QoS::ExactlyOnce);
                    let (r, sent) =
                        pair.command(|s, now| s.subscribe(now, vec![filter], Default::default()));
                    r.unwrap();
                    sent
                }
                4..=6 => {
                    server_id = server_id % u16::MAX + 1;
                    let qos_pid = match rng.below(3) {
                        0 => QosPid::AtMostOnce,
                        1 => QosPid::AtLeastOnce(pid(server_id)),
                        _ => QosPid::ExactlyOnce(pid(server_id)),
                    };
                    pair.send(Publish::new(topic("in"), "y", qos_pid))
                }
                // Silence.
                _ => Vec::new(),
            };
            serve(&mut pair, sent, &mut log, &mut pings);
            next_action = pair.now.0 + rng.duration_below(keep_alive * 3);
        }
        if let Some(&ping) = pings.last() {
            if pingresp_due.is_none() {
                pingresp_due = Some(ping + rng.duration_below(response));
            }
            pings.clear();
        }
        for event in pair.events() {
            assert!(
                !matches!(event, Event::Disconnected(_)),
                "{version}, seed {seed}, at {:?}: {event:?}",
                pair.now
            );
        }
    }
    let mut max_gap = (Duration::ZERO, Duration::ZERO);
    for window in log.windows(2) {
        let gap = window[1] - window[0];
        if gap > max_gap.0 {
            max_gap = (gap, window[0]);
        }
    }
    assert!(
        max_gap.0 <= keep_alive,
        "{version}, keep-alive {keep_alive:?}, response timeout {response:?}, seed {seed}: \
         silent for {:?} from {:?} ({} packets written)",
        max_gap.0,
        max_gap.1,
        log.len()
    );
    assert!(log.len() > 500, "the run wrote too little: {}", log.len());
    assert!(pair.session.is_connected());
}

#[test]
fn never_silent_longer_than_the_keep_alive_default_response_timeout() {
    for version in VERSIONS {
        for seed in 1..=4 {
            random_run(version, 30, None, seed);
        }
    }
}

#[test]
fn never_silent_longer_than_the_keep_alive_short_response_timeout() {
    for version in VERSIONS {
        for seed in 1..=4 {
            random_run(version, 30, Some(10), seed);
        }
    }
}

#[test]
fn never_silent_longer_than_the_keep_alive_long_response_timeout() {
    for version in VERSIONS {
        for seed in 1..=4 {
            random_run(version, 10, Some(25), seed);
        }
    }
}

#[test]
fn v5_a_small_server_receive_maximum_does_not_delay_the_pingreq() {
    // Publishes held back by flow control are not "sent": the PINGREQ still goes on time
    // [MQTT-3.3.4-8] (non-PUBLISH packets are not held back by the Receive Maximum).
    let mut pair = Pair::new(config(ProtocolVersion::V5));
    pair.open();
    let properties = ConnAckProperties {
        receive_maximum: NonZeroU16::new(1),
        ..ConnAckProperties::default()
    };
    pair.send(ConnAck {
        properties,
        ..ConnAck::default()
    });
    pair.events();
    for _ in 0..3 {
        let (r, _) = pair.command(|s, now| {
            s.publish(now, OutboundMessage::new(topic("t"), "x", QoS::AtLeastOnce))
        });
        r.unwrap();
    }
    assert_eq!(pair.session.inflight(), 1);
    assert_eq!(pair.session.queued(), 2);
    assert_eq!(
        pair.advance_to_next_timeout(),
        Some((Timer::KeepAlive, vec![Packet::PingReq]))
    );
    assert_eq!(pair.now, at(60));
}
