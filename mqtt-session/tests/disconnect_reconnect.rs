//! Ending connections: the application's DISCONNECT, the server's, and the reconnect policy
//! (exponential backoff with full jitter from a seeded generator) that follows a lost one.
#![allow(clippy::unwrap_used, clippy::panic)]

use core::time::Duration;
use mqtt_proto::*;
use mqtt_session::testing::Pair;
use mqtt_session::{
    Backoff, Config, DisconnectReason, Error as SessionError, Event, OutboundMessage,
    ReconnectStop, State, Timer,
};

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];
const V5: ProtocolVersion = ProtocolVersion::V5;

fn config(version: ProtocolVersion) -> Config {
    Config::new(version, MqttString::try_from("dr").unwrap())
}

fn connected_pair(config: Config) -> Pair {
    let mut pair = Pair::new(config);
    pair.open();
    assert_eq!(pair.send(ConnAck::default()), vec![]);
    assert!(matches!(&pair.events()[..], [Event::Connected(_)]));
    pair
}

fn msg() -> OutboundMessage {
    OutboundMessage::new(TopicName::new("t").unwrap(), "x", QoS::AtLeastOnce)
}

// The application's DISCONNECT carries its reason code and (v5) properties such as the
// Session Expiry Interval; it is the last packet on the connection and the transport is
// closed after it (v5 [MQTT-3.14.4-1], [MQTT-3.14.4-2]; v3.1.1 [MQTT-3.14.4-1],
// [MQTT-3.14.4-2]). The session then takes no new work and does not reconnect by itself; a
// later connection starts again, resuming the session if the DISCONNECT kept it (v5
// 3.14.2.2.2).
#[test]
fn disconnect_writes_disconnect_and_stops_reconnecting() {
    for version in VERSIONS {
        let mut c = config(version);
        c.session_expiry_interval = 600;
        let mut pair = connected_pair(c);
        let properties = match version {
            ProtocolVersion::V5 => DisconnectProperties {
                session_expiry_interval: Some(0),
                reason_string: Some(MqttString::try_from("bye").unwrap()),
                ..DisconnectProperties::default()
            },
            ProtocolVersion::V311 => DisconnectProperties::default(),
        };
        let reason = match version {
            ProtocolVersion::V5 => ReasonCode::DisconnectWithWillMessage,
            ProtocolVersion::V311 => ReasonCode::Success,
        };
        let (r, sent) = pair.command(|s, now| s.disconnect(now, reason, properties.clone()));
        r.unwrap();
        assert_eq!(
            sent,
            vec![Packet::Disconnect(Disconnect {
                reason_code: reason,
                properties,
            })]
        );
        assert_eq!(
            pair.events(),
            vec![Event::Disconnected(DisconnectReason::Local)]
        );
        assert_eq!(pair.session.state(), State::Idle);
        assert!(!pair.open, "the transport is closed after DISCONNECT");
        assert!(!pair.session.should_connect(pair.now));
        assert_eq!(pair.session.next_timeout(), None);
        assert_eq!(pair.advance(Duration::from_secs(3600)), vec![]);
        assert_eq!(pair.events(), vec![]);
        assert!(!pair.session.should_connect(pair.now));
        assert_eq!(
            pair.command(|s, now| s.publish(now, msg())).0,
            Err(SessionError::Closing)
        );
        let filters = vec![SubscribeFilter::new(
            TopicFilter::new("t").unwrap(),
            QoS::AtMostOnce,
        )];
        assert_eq!(
            pair.command(|s, now| s.subscribe(now, filters, Default::default()))
                .0,
            Err(SessionError::Closing)
        );
        assert_eq!(
            pair.command(|s, now| s.unsubscribe(
                now,
                vec![TopicFilter::new("t").unwrap()],
                Default::default()
            ))
            .0,
            Err(SessionError::Closing)
        );

        // A later connection starts again. v5: the DISCONNECT ended the session (expiry 0), so
        // it starts clean; v3.1.1: Clean Session from the configuration (1).
        let connect = pair.open();
        assert!(connect.clean_start, "{version}");
        pair.send(ConnAck::default());
        pair.events();
        assert!(pair.session.is_connected());
        assert!(pair.command(|s, now| s.publish(now, msg())).0.is_ok());
    }

    // v5: a DISCONNECT that keeps the session (expiry > 0) makes the next CONNECT resume it.
    let mut c = config(V5);
    c.session_expiry_interval = 600;
    let mut pair = connected_pair(c);
    let keep = DisconnectProperties {
        session_expiry_interval: Some(300),
        ..DisconnectProperties::default()
    };
    let (r, sent) = pair.command(|s, now| s.disconnect(now, ReasonCode::Success, keep.clone()));
    r.unwrap();
    assert_eq!(
        sent,
        vec![Packet::Disconnect(Disconnect {
            reason_code: ReasonCode::Success,
            properties: keep,
        })]
    );
    assert!(!pair.open().clean_start);
}

// v5 3.14.2.2.2: "If the Session Expiry Interval in the CONNECT packet was zero, then it is a
// Protocol Error to set a non-zero Session Expiry Interval in the DISCONNECT packet sent by
// the Client." The session refuses such a disconnect instead of sending it.
#[test]
fn a_disconnect_cannot_set_a_session_expiry_when_connect_had_none() {
    let mut pair = connected_pair(config(V5));
    let properties = DisconnectProperties {
        session_expiry_interval: Some(60),
        ..DisconnectProperties::default()
    };
    let (r, sent) = pair.command(|s, now| s.disconnect(now, ReasonCode::Success, properties));
    assert!(r.is_err(), "{r:?}");
    assert_eq!(sent, vec![]);
    assert_eq!(pair.events(), vec![]);
    assert!(pair.session.is_connected());
}

// v5 3.14: the server's DISCONNECT is reported with its reason code, Reason String and Server
// Reference (section 4.11, redirection); the client sends nothing back and schedules a
// reconnect. v3.1.1 servers never send DISCONNECT: one is a protocol error (closed, nothing
// sent). [MQTT-3.14.2-2]: a v5 server's DISCONNECT must not carry a Session Expiry Interval;
// one that does is answered with DISCONNECT 0x82.
#[test]
fn a_server_disconnect_is_reported_with_reason_string_and_server_reference() {
    let zero_backoff = |version| {
        let mut c = config(version);
        c.backoff.initial = Duration::ZERO;
        c
    };
    let scheduled = Event::ReconnectScheduled {
        delay: Duration::ZERO,
        attempt: 1,
    };

    let mut pair = connected_pair(zero_backoff(V5));
    let properties = DisconnectProperties {
        reason_string: Some(MqttString::try_from("maintenance").unwrap()),
        server_reference: Some(MqttString::try_from("other.example:1883").unwrap()),
        ..DisconnectProperties::default()
    };
    let disconnect = Disconnect {
        reason_code: ReasonCode::ServerMoved,
        properties: properties.clone(),
    };
    assert_eq!(pair.send(disconnect), vec![]);
    assert_eq!(
        pair.events(),
        vec![
            Event::Disconnected(DisconnectReason::Server(
                ReasonCode::ServerMoved,
                Box::new(properties)
            )),
            scheduled.clone(),
        ]
    );
    assert!(!pair.open);
    assert_eq!(pair.session.state(), State::Idle);
    assert!(pair.session.should_connect(pair.now));

    let mut pair = connected_pair(zero_backoff(ProtocolVersion::V311));
    assert_eq!(pair.send(Disconnect::default()), vec![]);
    assert_eq!(
        pair.events(),
        vec![
            Event::Disconnected(DisconnectReason::ProtocolError(
                ReasonCode::ProtocolError,
                mqtt_proto::Error::UnexpectedPacket {
                    packet: PacketType::Disconnect,
                    from: Role::Server,
                }
                .into(),
            )),
            scheduled.clone(),
        ]
    );
    assert!(!pair.open);

    let mut pair = connected_pair(zero_backoff(V5));
    let with_expiry = Disconnect {
        reason_code: ReasonCode::ServerShuttingDown,
        properties: DisconnectProperties {
            session_expiry_interval: Some(10),
            ..DisconnectProperties::default()
        },
    };
    assert_eq!(
        pair.send(with_expiry),
        vec![Packet::Disconnect(Disconnect::new(
            ReasonCode::ProtocolError
        ))]
    );
    assert_eq!(
        pair.events(),
        vec![
            Event::Disconnected(DisconnectReason::ProtocolError(
                ReasonCode::ProtocolError,
                mqtt_proto::Error::PropertyNotAllowedFrom {
                    packet: mqtt_proto::PacketType::Disconnect,
                    from: mqtt_proto::Role::Server,
                    property: PropertyId::SessionExpiryInterval,
                }
                .into(),
            )),
            scheduled,
        ]
    );
}

const CEILINGS_MS: [u64; 7] = [1000, 2000, 4000, 8000, 8000, 8000, 8000];

fn backoff_config(version: ProtocolVersion, seed: u64) -> Config {
    let mut c = config(version);
    c.backoff = Backoff {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(8),
        multiplier_tenths: 20,
        flap_max: Duration::from_secs(3),
        stable_after: Duration::from_secs(30),
        enabled: true,
        retry_refused: false,
    };
    c.random_seed = seed;
    c
}

/// The one ReconnectScheduled event at the end of `events`, checked against its attempt's
/// ceiling.
fn scheduled(events: &[Event], attempt: u32) -> Duration {
    match events.last() {
        Some(&Event::ReconnectScheduled { delay, attempt: a }) if a == attempt => {
            let ceiling = Duration::from_millis(CEILINGS_MS[attempt as usize - 1]);
            assert!(
                delay <= ceiling,
                "attempt {attempt}: {delay:?} > {ceiling:?}"
            );
            delay
        }
        other => panic!("expected ReconnectScheduled {{ attempt: {attempt} }}, got {other:?}"),
    }
}

/// Waits out the scheduled delay: the Reconnect timer fires, and only then does the session
/// want a connection.
fn wait_out(pair: &mut Pair, delay: Duration) {
    let start = pair.now;
    assert_eq!(pair.session.should_connect(pair.now), delay.is_zero());
    assert_eq!(
        pair.advance_to_next_timeout(),
        Some((Timer::Reconnect, vec![]))
    );
    assert_eq!(pair.now.0, start.0 + delay);
    assert!(pair.session.should_connect(pair.now));
    assert_eq!(pair.events(), vec![]);
}

/// A connection lost, then six attempts that fail before the transport comes up. Returns the
/// delays.
fn failing_attempts(version: ProtocolVersion, seed: u64) -> (Vec<Duration>, Vec<Event>) {
    let mut pair = connected_pair(backoff_config(version, seed));
    let mut all = Vec::new();
    pair.drop_connection();
    let events = pair.events();
    assert_eq!(
        events[0],
        Event::Disconnected(DisconnectReason::TransportClosed)
    );
    assert_eq!(events.len(), 2);
    let mut delays = vec![scheduled(&events, 1)];
    all.extend(events);
    // Reporting the failure again before the delay is over changes nothing.
    pair.command(|s, now| s.handle_closed(now));
    assert_eq!(pair.events(), vec![]);
    for attempt in 2..=7 {
        wait_out(&mut pair, *delays.last().unwrap());
        // The attempt fails before the transport comes up.
        pair.command(|s, now| s.handle_closed(now));
        let events = pair.events();
        assert_eq!(events.len(), 1);
        delays.push(scheduled(&events, attempt));
        all.extend(events);
    }
    (delays, all)
}

// Reconnect backoff: the first delay is at most `initial`, each failed attempt doubles the
// ceiling up to `max`, and each delay is drawn from zero to its ceiling (full jitter).
#[test]
fn reconnect_delays_stay_within_ceilings_that_grow_to_the_maximum() {
    for version in VERSIONS {
        let runs: Vec<Vec<Duration>> = (1..=40)
            .map(|seed| failing_attempts(version, seed).0)
            .collect();
        // The ceilings really grow: over many seeds the largest delay of each attempt is above
        // the previous attempt's ceiling, up to the cap.
        for attempt in 1..4 {
            let largest = runs.iter().map(|d| d[attempt]).max().unwrap();
            assert!(
                largest > Duration::from_millis(CEILINGS_MS[attempt - 1]),
                "attempt {}: largest delay {largest:?}",
                attempt + 1
            );
        }
        // Jitter: the delays of one attempt are spread.
        let mut firsts: Vec<Duration> = runs.iter().map(|d| d[0]).collect();
        firsts.dedup();
        assert!(firsts.len() > 30);
    }
}

// The jitter comes from `Config::random_seed` alone: the same seed gives the same delays,
// another seed others.
#[test]
fn reconnect_delays_are_deterministic_for_a_seed() {
    for version in VERSIONS {
        let (a, events_a) = failing_attempts(version, 7);
        let (b, events_b) = failing_attempts(version, 7);
        assert_eq!(a, b);
        assert_eq!(events_a, events_b);
        let (c, _) = failing_attempts(version, 8);
        assert_ne!(a, c);
    }
}

/// The delay of the one ReconnectScheduled event at the end of `events`, checking its attempt.
fn delay_of(events: &[Event], attempt: u32) -> Duration {
    match events.last() {
        Some(&Event::ReconnectScheduled { delay, attempt: a }) if a == attempt => delay,
        other => panic!("expected ReconnectScheduled {{ attempt: {attempt} }}, got {other:?}"),
    }
}

/// Accepts a connection, keeps it up for `up`, then loses it; returns the delay scheduled.
fn accepted_then_lost(pair: &mut Pair, up: Duration, attempt: u32) -> Duration {
    pair.open();
    pair.send(ConnAck::default());
    assert!(matches!(&pair.events()[..], [Event::Connected(_)]));
    pair.advance(up);
    pair.drop_connection();
    let events = pair.events();
    assert_eq!(
        events[0],
        Event::Disconnected(DisconnectReason::TransportClosed)
    );
    assert_eq!(events.len(), 2);
    delay_of(&events, attempt)
}

/// One run of the backoff policy: failed attempts, a transient refusal, accepted connections
/// that drop soon (flapping), one that stays up. Returns each step's delay.
fn policy_run(version: ProtocolVersion, seed: u64) -> Vec<Duration> {
    let mut pair = connected_pair(backoff_config(version, seed));
    let mut delays = Vec::new();
    let quick = Duration::from_secs(1);
    pair.drop_connection();
    delays.push(delay_of(&pair.events(), 1));
    wait_out(&mut pair, delays[0]);
    // Failed before the transport came up.
    pair.command(|s, now| s.handle_closed(now));
    delays.push(delay_of(&pair.events(), 2));
    wait_out(&mut pair, delays[1]);
    // Refused for now (Server unavailable): one more failed attempt.
    pair.open();
    pair.send(ConnAck {
        reason_code: ReasonCode::ServerUnavailable,
        ..ConnAck::default()
    });
    let events = pair.events();
    assert_eq!(
        events[0],
        Event::Disconnected(DisconnectReason::Refused(
            ReasonCode::ServerUnavailable,
            Default::default()
        ))
    );
    delays.push(delay_of(&events, 3));
    wait_out(&mut pair, delays[2]);
    // Accepted, up 29 s (not stable): the failures start over from the first step, raised by
    // one flap.
    delays.push(accepted_then_lost(&mut pair, Duration::from_secs(29), 4));
    wait_out(&mut pair, delays[3]);
    // Two more accepted connections that drop at once: the first step grows to flap_max.
    for attempt in 5..=6 {
        delays.push(accepted_then_lost(&mut pair, quick, attempt));
        let last = *delays.last().unwrap();
        wait_out(&mut pair, last);
    }
    // A failed attempt after flapping grows from that step.
    pair.command(|s, now| s.handle_closed(now));
    delays.push(delay_of(&pair.events(), 7));
    let last = *delays.last().unwrap();
    wait_out(&mut pair, last);
    // Up for 30 s: stable, back to the first ceiling.
    delays.push(accepted_then_lost(&mut pair, Duration::from_secs(30), 1));
    delays
}

// The backoff policy (`Backoff` docs): attempts the server never accepted grow the ceiling
// (1, 2, 4 s); a connection the server accepted starts over from the first step, which each
// accepted connection in a row that dropped before `stable_after` raises by `initial` up to
// `flap_max` (2, then 3, 3 s, not the 8 s ceiling the failures had reached); a failed
// attempt after that grows from there (6 s); a stable connection clears it all (1 s).
#[test]
fn accepted_connections_start_the_backoff_over_and_flapping_raises_it_slowly() {
    const CEILINGS_MS: [u64; 8] = [1000, 2000, 4000, 2000, 3000, 3000, 6000, 1000];
    for version in VERSIONS {
        let runs: Vec<Vec<Duration>> = (1..=40).map(|seed| policy_run(version, seed)).collect();
        for (step, &ceiling) in CEILINGS_MS.iter().enumerate() {
            let ceiling = Duration::from_millis(ceiling);
            let largest = runs.iter().map(|d| d[step]).max().unwrap();
            assert!(largest <= ceiling, "step {step}: {largest:?} > {ceiling:?}");
            // Full jitter up to that ceiling: over 40 seeds some delay comes close to it.
            assert!(
                largest > ceiling * 3 / 4,
                "step {step}: largest delay {largest:?} of ceiling {ceiling:?}"
            );
        }
    }
}

// `Backoff::enabled` false means off: after a lost connection the session reports that it
// stopped reconnecting and wants no connection, however long it waits, until the
// application calls `Session::reconnect`. A first attempt that fails before the transport
// comes up does not loop either. Run at simulated speed: a driver that connects whenever
// `should_connect` says so makes exactly the attempts the application asked for.
#[test]
fn with_reconnecting_off_the_session_waits_for_the_application() {
    for version in VERSIONS {
        let mut c = config(version);
        c.backoff.enabled = false;
        let mut pair = connected_pair(c.clone());
        pair.drop_connection();
        assert_eq!(
            pair.events(),
            vec![
                Event::Disconnected(DisconnectReason::TransportClosed),
                Event::ReconnectStopped(ReconnectStop::Disabled),
            ]
        );
        assert_eq!(pair.session.next_timeout(), None);
        assert_eq!(ReconnectStop::Disabled.to_string(), "reconnecting is off");
        // The transport's close reported again changes nothing.
        pair.command(|s, now| s.handle_closed(now));
        assert_eq!(pair.events(), vec![]);
        assert!(!pair.session.should_connect(pair.now));
        assert_eq!(pair.advance(Duration::from_secs(3600)), vec![]);
        assert!(!pair.session.should_connect(pair.now));
        // The application asks: one connection, accepted.
        pair.command(|s, now| s.reconnect(now));
        assert!(pair.session.should_connect(pair.now));
        pair.open();
        pair.send(ConnAck::default());
        assert!(matches!(&pair.events()[..], [Event::Connected(_)]));
        // A server DISCONNECT (v5) or a lost transport: stopped again.
        pair.drop_connection();
        assert_eq!(
            pair.events()[1..],
            [Event::ReconnectStopped(ReconnectStop::Disabled)]
        );
        assert!(!pair.session.should_connect(pair.now));

        // A driver loop, with every attempt failing before the transport comes up.
        let mut pair = Pair::new(c);
        let mut attempts = 0;
        for _ in 0..1000 {
            if pair.session.should_connect(pair.now) {
                attempts += 1;
                pair.command(|s, now| s.handle_closed(now));
            } else if pair.advance_to_next_timeout().is_none() {
                pair.advance(Duration::from_secs(60));
            }
        }
        assert_eq!(attempts, 1);
        assert_eq!(
            pair.events(),
            vec![Event::ReconnectStopped(ReconnectStop::Disabled)]
        );
        pair.command(|s, now| s.reconnect(now));
        assert!(pair.session.should_connect(pair.now));
        pair.command(|s, now| s.handle_closed(now));
        assert!(!pair.session.should_connect(pair.now));
    }
}

// `Session::reconnect` also lets the session take work and connect again after the
// application's own `disconnect`, and cuts a backoff delay short.
#[test]
fn reconnect_undoes_disconnect_and_cuts_a_delay_short() {
    for version in VERSIONS {
        let mut pair = connected_pair(backoff_config(version, 1));
        let (r, _) = pair.command(|s, now| {
            s.disconnect(now, ReasonCode::Success, DisconnectProperties::default())
        });
        r.unwrap();
        pair.events();
        assert!(!pair.session.should_connect(pair.now));
        pair.command(|s, now| s.reconnect(now));
        assert!(pair.session.should_connect(pair.now));
        assert!(pair.command(|s, now| s.publish(now, msg())).0.is_ok());
        // Waiting out a failure's delay is not needed once the application asks.
        pair.command(|s, now| s.handle_closed(now));
        let delay = delay_of(&pair.events(), 1);
        assert!(!delay.is_zero());
        assert!(!pair.session.should_connect(pair.now));
        pair.command(|s, now| s.reconnect(now));
        assert!(pair.session.should_connect(pair.now));
        assert_eq!(pair.session.next_timeout(), None);
    }
}

// v5 [MQTT-3.14.2-3], [MQTT-3.14.2-4]: the application's DISCONNECT leaves out its Reason
// String, and then its User Properties, when they would make it larger than the server's
// Maximum Packet Size; the rest of the packet goes as asked.
#[test]
fn disconnect_leaves_out_reason_string_then_user_properties_beyond_the_server_maximum() {
    let mut users = UserProperties::default();
    users.push_pair("trace", "0123456789abcdef").unwrap();
    let full = DisconnectProperties {
        session_expiry_interval: Some(0),
        reason_string: Some(MqttString::try_from("r".repeat(40)).unwrap()),
        user_properties: users,
        ..DisconnectProperties::default()
    };
    let without_reason = DisconnectProperties {
        reason_string: None,
        ..full.clone()
    };
    let bare = DisconnectProperties {
        user_properties: UserProperties::default(),
        ..without_reason.clone()
    };
    let reason = ReasonCode::DisconnectWithWillMessage;
    let len = |p: &DisconnectProperties| {
        Disconnect {
            reason_code: reason,
            properties: p.clone(),
        }
        .encoded_len(V5)
        .unwrap() as u32
    };
    assert!(len(&bare) < len(&without_reason) && len(&without_reason) < len(&full));
    for (max, expected) in [
        (len(&full), &full),
        (len(&full) - 1, &without_reason),
        (len(&without_reason), &without_reason),
        (len(&without_reason) - 1, &bare),
    ] {
        let mut pair = Pair::new(config(V5));
        pair.open();
        let mut connack = ConnAck::default();
        connack.properties.maximum_packet_size = core::num::NonZeroU32::new(max);
        assert_eq!(pair.send(connack), vec![]);
        assert!(matches!(&pair.events()[..], [Event::Connected(_)]));
        let (r, sent) = pair.command(|s, now| s.disconnect(now, reason, full.clone()));
        r.unwrap();
        assert_eq!(
            sent,
            vec![Packet::Disconnect(Disconnect {
                reason_code: reason,
                properties: expected.clone(),
            })],
            "maximum packet size {max}"
        );
    }
}
