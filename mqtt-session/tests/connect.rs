//! Connecting: the CONNECT the session writes from its configuration, the CONNACK deadline,
//! refused connections, the server's limits from CONNACK, and the protocol errors a server can
//! make before and in its CONNACK.
#![allow(clippy::unwrap_used, clippy::panic)]

use bytes::Bytes;
use core::num::{NonZeroU16, NonZeroU32};
use core::time::Duration;
use mqtt_proto::*;
use mqtt_session::testing::{Pair, VirtualInstant};
use mqtt_session::{
    Config, Connected, DisconnectReason, Error as SessionError, Event, OutboundMessage,
    ProtocolViolation, ReconnectStop, ServerLimits, State, Timer,
};

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];

fn s(text: &'static str) -> MqttString {
    MqttString::new(text).unwrap()
}

fn topic(name: &'static str) -> TopicName {
    TopicName::new(name).unwrap()
}

fn config(version: ProtocolVersion) -> Config {
    Config::new(version, s("client-1"))
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The limits a server that sent no CONNACK properties grants.
fn default_limits(version: ProtocolVersion) -> ServerLimits {
    ServerLimits {
        receive_maximum: u16::MAX,
        maximum_qos: QoS::ExactlyOnce,
        retain_available: true,
        maximum_packet_size: None,
        topic_alias_maximum: 0,
        wildcard_subscription_available: true,
        subscription_identifier_available: version == ProtocolVersion::V5,
        shared_subscription_available: true,
        keep_alive: secs(60),
        session_expiry_interval: None,
    }
}

/// Checks that `events` are exactly `Disconnected(reason)` followed by the first
/// `ReconnectScheduled`, whose delay is the reconnect deadline the session now waits for.
fn assert_disconnected_and_rescheduled(pair: &Pair, events: &[Event], reason: DisconnectReason) {
    let [Event::Disconnected(got), Event::ReconnectScheduled { delay, attempt }] = events else {
        panic!("expected Disconnected + ReconnectScheduled, got {events:?}");
    };
    assert_eq!(got, &reason);
    assert_eq!(*attempt, 1);
    // Full jitter below the first ceiling (Backoff::default().initial).
    assert!(*delay <= Duration::from_millis(500), "{delay:?}");
    assert_eq!(
        pair.session.next_timeout(),
        Some((VirtualInstant(pair.now.0 + *delay), Timer::Reconnect))
    );
    assert_eq!(pair.session.state(), State::Idle);
    assert!(!pair.open, "the transport is closed");
}

/// Checks that `events` are exactly `Disconnected(Refused(code))` followed by
/// `ReconnectStopped`: the session wants no connection until the application asks.
fn assert_refused_for_good(pair: &mut Pair, events: &[Event], code: ReasonCode) {
    assert_eq!(
        events,
        [
            Event::Disconnected(DisconnectReason::Refused(code, Default::default())),
            Event::ReconnectStopped(ReconnectStop::Refused(code)),
        ]
    );
    let Event::Disconnected(reason) = &events[0] else {
        unreachable!()
    };
    assert!(reason.is_permanent());
    assert_eq!(
        reason.to_string(),
        format!("the server refused the connection for good: {code}")
    );
    assert_eq!(pair.session.next_timeout(), None);
    assert_eq!(pair.session.state(), State::Idle);
    assert!(!pair.open, "the transport is closed");
    assert!(!pair.session.should_connect(pair.now));
    pair.advance(Duration::from_secs(24 * 3600));
    assert!(!pair.session.should_connect(pair.now));
    assert!(pair.events().is_empty());
}

/// A configuration with every field of CONNECT set.
fn full_config(version: ProtocolVersion) -> Config {
    let mut will_properties = WillProperties {
        will_delay_interval: Some(30),
        payload_format_indicator: Some(PayloadFormat::Utf8),
        message_expiry_interval: Some(600),
        content_type: Some(s("text/plain")),
        response_topic: Some(topic("clients/client-1/will-reply")),
        correlation_data: Some(Bytes::from_static(b"corr")),
        ..WillProperties::default()
    };
    will_properties
        .user_properties
        .push_pair("will", "yes")
        .unwrap();

    let mut config = config(version);
    config.clean_start = false;
    // Sent in whole seconds.
    config.keep_alive = Duration::from_millis(42_900);
    config.username = Some(s("user"));
    config.password = Some(Bytes::from_static(b"secret"));
    config.will = Some(Will {
        topic: topic("clients/client-1/status"),
        payload: Bytes::from_static(b"offline"),
        qos: QoS::AtLeastOnce,
        retain: true,
        properties: will_properties,
    });
    config.session_expiry_interval = 3600;
    config.receive_maximum = 20;
    config.maximum_packet_size = 65_536;
    config.topic_alias_maximum = 10;
    config.request_response_information = true;
    config.request_problem_information = Some(false);
    config.user_properties.push_pair("app", "demo").unwrap();
    // Names may repeat, order is kept [MQTT-3.1.3-10].
    config.user_properties.push_pair("app", "again").unwrap();
    config.authentication_method = Some(s("SCRAM-SHA-1"));
    config.authentication_data = Some(Bytes::from_static(b"client-first"));
    config
}

#[test]
fn connect_carries_every_config_field() {
    for version in VERSIONS {
        let config = full_config(version);
        let mut pair = Pair::new(config.clone());
        let connect = pair.open();

        let mut expected = Connect::new(version, s("client-1"));
        expected.clean_start = false;
        expected.keep_alive = 42;
        expected.username = Some(s("user"));
        expected.password = Some(Bytes::from_static(b"secret"));
        let mut will = config.will.clone().unwrap();
        match version {
            ProtocolVersion::V5 => {
                let p = &mut expected.properties;
                p.session_expiry_interval = Some(3600);
                p.receive_maximum = NonZeroU16::new(20);
                p.maximum_packet_size = NonZeroU32::new(65_536);
                p.topic_alias_maximum = Some(10);
                p.request_response_information = Some(true);
                p.request_problem_information = Some(false);
                p.user_properties.push_pair("app", "demo").unwrap();
                p.user_properties.push_pair("app", "again").unwrap();
                p.authentication_method = Some(s("SCRAM-SHA-1"));
                p.authentication_data = Some(Bytes::from_static(b"client-first"));
            }
            // v3.1.1 has no properties: every v5-only field is left out, the will's too.
            ProtocolVersion::V311 => will.properties = WillProperties::default(),
        }
        expected.will = Some(will);
        assert_eq!(connect, expected, "{version}");
        // [MQTT-3.1.0-1]: CONNECT is the first and, before CONNACK, the only packet.
        assert_eq!(pair.session.state(), State::Connecting);
        assert!(pair.events().is_empty());
    }
}

#[test]
fn connect_with_the_default_config() {
    for version in VERSIONS {
        let mut pair = Pair::new(config(version));
        let connect = pair.open();
        let mut expected = Connect::new(version, s("client-1"));
        expected.clean_start = true;
        expected.keep_alive = 60;
        if version == ProtocolVersion::V5 {
            // Receive Maximum 65,535 and Session Expiry 0 are the defaults and left out; the
            // 1 MiB Maximum Packet Size is not.
            expected.properties.maximum_packet_size = NonZeroU32::new(1024 * 1024);
            // Fixed-capacity tables announce their inbound capacity.
            expected.properties.receive_maximum = mqtt_session::testing::CONNECT_RECEIVE_MAXIMUM;
        }
        assert_eq!(connect, expected, "{version}");
    }
}

#[test]
fn a_keep_alive_beyond_65535_seconds_is_sent_as_65535() {
    for version in VERSIONS {
        let mut config = config(version);
        config.keep_alive = secs(100_000);
        let mut pair = Pair::new(config);
        assert_eq!(pair.open().keep_alive, u16::MAX, "{version}");
    }
}

// The CONNACK deadline is `Config::connack_timeout`, 10 s by default, whatever the keep-alive
// (60 s by default, up to hours) or the response timeout of PINGREQ.
#[test]
fn no_connack_before_the_deadline_ends_the_connection() {
    for version in VERSIONS {
        for keep_alive in [60, 3600] {
            let mut config = config(version);
            config.keep_alive = secs(keep_alive);
            let mut pair = Pair::new(config);
            pair.open();
            assert_eq!(
                pair.session.next_timeout(),
                Some((VirtualInstant(secs(10)), Timer::ConnAck))
            );
            assert!(pair.advance(Duration::from_millis(9_999)).is_empty());
            assert!(pair.events().is_empty());
            assert_eq!(pair.session.state(), State::Connecting);

            assert_eq!(
                pair.advance_to_next_timeout(),
                Some((Timer::ConnAck, vec![]))
            );
            assert_eq!(pair.now, VirtualInstant(secs(10)));
            let events = pair.events();
            assert_disconnected_and_rescheduled(&pair, &events, DisconnectReason::ConnAckTimeout);
            assert_eq!(
                DisconnectReason::ConnAckTimeout.to_string(),
                "no CONNACK within the connack timeout"
            );
        }
    }
}

#[test]
fn the_connack_deadline_is_the_connack_timeout_not_the_response_timeout() {
    for version in VERSIONS {
        let mut config = config(version);
        config.response_timeout = Some(secs(5));
        config.connack_timeout = secs(3);
        let mut pair = Pair::new(config);
        pair.open();
        assert_eq!(
            pair.advance_to_next_timeout(),
            Some((Timer::ConnAck, vec![]))
        );
        assert_eq!(pair.now, VirtualInstant(secs(3)));
        let events = pair.events();
        assert_disconnected_and_rescheduled(&pair, &events, DisconnectReason::ConnAckTimeout);
    }
}

#[test]
fn a_connack_in_time_stops_the_deadline() {
    for version in VERSIONS {
        let mut config = config(version);
        config.keep_alive = Duration::ZERO;
        config.response_timeout = Some(secs(5));
        let mut pair = Pair::new(config);
        pair.open();
        pair.advance(secs(4));
        assert!(pair.send(ConnAck::default()).is_empty());
        assert!(matches!(&pair.events()[..], [Event::Connected(_)]));
        // Keep-alive is off: nothing is left to wait for.
        assert_eq!(pair.session.next_timeout(), None);
        assert!(pair.advance(secs(3600)).is_empty());
        assert!(pair.events().is_empty());
        assert!(pair.session.is_connected());
    }
}

#[test]
fn v311_refused_connack_return_codes() {
    // v3.1.1 section 3.2.2.3: return codes 1 to 5, reported as the matching v5 reason codes.
    let codes = [
        (1u8, ReasonCode::UnsupportedProtocolVersion),
        (2, ReasonCode::ClientIdentifierNotValid),
        (3, ReasonCode::ServerUnavailable),
        (4, ReasonCode::BadUserNameOrPassword),
        (5, ReasonCode::NotAuthorized),
    ];
    for (code, reason) in codes {
        let mut pair = Pair::new(config(ProtocolVersion::V311));
        pair.open();
        // Nothing is written in answer: the server closes the connection [MQTT-3.2.2-5].
        assert!(pair.send_bytes(&[0x20, 0x02, 0x00, code]).is_empty());
        let events = pair.events();
        if code == 3 {
            // Server unavailable: it may come back, so the session tries again.
            assert_disconnected_and_rescheduled(
                &pair,
                &events,
                DisconnectReason::Refused(reason, Default::default()),
            );
            assert!(!DisconnectReason::Refused(reason, Default::default()).is_permanent());
        } else {
            // Retrying the same CONNECT cannot change these: no reconnect loop.
            assert_refused_for_good(&mut pair, &events, reason);
        }
    }
}

// A refusal that retrying cannot change (v5 0x84, 0x85, 0x86, 0x87, 0x8A, 0x8C) is reported
// as such and not retried; one that may pass (0x88, 0x89, 0x97, 0x9F) is retried with backoff.
#[test]
fn v5_refused_connack() {
    for (code, reason, permanent) in [
        (0x84u8, ReasonCode::UnsupportedProtocolVersion, true),
        (0x85, ReasonCode::ClientIdentifierNotValid, true),
        (0x86, ReasonCode::BadUserNameOrPassword, true),
        (0x87, ReasonCode::NotAuthorized, true),
        (0x8A, ReasonCode::Banned, true),
        (0x8C, ReasonCode::BadAuthenticationMethod, true),
        (0x88, ReasonCode::ServerUnavailable, false),
        (0x89, ReasonCode::ServerBusy, false),
        (0x97, ReasonCode::QuotaExceeded, false),
        (0x9F, ReasonCode::ConnectionRateExceeded, false),
    ] {
        let mut pair = Pair::new(config(ProtocolVersion::V5));
        pair.open();
        // [MQTT-4.13.2-1]: after a CONNACK of 0x80 or more the connection is closed; the
        // client sends nothing, in particular no DISCONNECT.
        assert!(pair.send_bytes(&[0x20, 0x03, 0x00, code, 0x00]).is_empty());
        let events = pair.events();
        if permanent {
            assert_refused_for_good(&mut pair, &events, reason);
        } else {
            assert_disconnected_and_rescheduled(
                &pair,
                &events,
                DisconnectReason::Refused(reason, Default::default()),
            );
            assert_eq!(
                DisconnectReason::Refused(reason, Default::default()).to_string(),
                format!("the server refused the connection: {reason}")
            );
        }
    }
}

// A CONNACK that redirects (v5 0x9C Use another server, 0x9D Server moved; section 4.11)
// carries its Server Reference and Reason String in the refusal, for the client layer to follow
// and the application to see; a redirect may pass, so it is retried.
#[test]
fn a_redirecting_connack_carries_its_server_reference() {
    for reason in [ReasonCode::UseAnotherServer, ReasonCode::ServerMoved] {
        let mut pair = Pair::new(config(ProtocolVersion::V5));
        pair.open();
        let properties = ConnAckProperties {
            server_reference: Some(s("other.example:1884")),
            reason_string: Some(s("maintenance")),
            ..ConnAckProperties::default()
        };
        pair.send(ConnAck {
            reason_code: reason,
            properties: properties.clone(),
            ..ConnAck::default()
        });
        let events = pair.events();
        let refused = DisconnectReason::Refused(reason, Box::new(properties));
        assert_disconnected_and_rescheduled(&pair, &events, refused.clone());
        assert_eq!(refused.server_reference(), Some(&s("other.example:1884")));
        assert_eq!(
            refused.to_string(),
            format!("the server refused the connection: {reason} (maintenance)")
        );
    }
    // Another refusal's properties name no server, even with a Server Reference.
    let other = DisconnectReason::Refused(
        ReasonCode::ServerBusy,
        Box::new(ConnAckProperties {
            server_reference: Some(s("other.example")),
            ..ConnAckProperties::default()
        }),
    );
    assert_eq!(other.server_reference(), None);
}

// After a refusal for good, the application decides: `Session::reconnect` allows the next
// attempt (refused again, it stops again, without a tighter loop than the backoff); with
// `Backoff::retry_refused` the session retries by itself, with backoff.
#[test]
fn a_refusal_for_good_is_retried_only_when_asked() {
    for version in VERSIONS {
        let refuse = |pair: &mut Pair| {
            pair.open();
            pair.send(ConnAck {
                reason_code: ReasonCode::NotAuthorized,
                ..ConnAck::default()
            });
            pair.events()
        };
        let mut pair = Pair::new(config(version));
        let events = refuse(&mut pair);
        assert_refused_for_good(&mut pair, &events, ReasonCode::NotAuthorized);
        pair.command(|s, now| s.reconnect(now));
        assert!(pair.session.should_connect(pair.now));
        let events = refuse(&mut pair);
        assert_refused_for_good(&mut pair, &events, ReasonCode::NotAuthorized);
        pair.command(|s, now| s.reconnect(now));
        pair.open();
        pair.send(ConnAck::default());
        assert!(matches!(&pair.events()[..], [Event::Connected(_)]));

        let mut config = config(version);
        config.backoff.retry_refused = true;
        let mut pair = Pair::new(config);
        for attempt in 1..=3 {
            let events = refuse(&mut pair);
            let [Event::Disconnected(DisconnectReason::Refused(ReasonCode::NotAuthorized, _)), Event::ReconnectScheduled { attempt: a, .. }] =
                &events[..]
            else {
                panic!("{events:?}");
            };
            assert_eq!(*a, attempt);
            pair.advance_to_next_timeout();
            assert!(pair.session.should_connect(pair.now));
        }
    }
}

#[test]
fn v5_server_limits_from_connack() {
    let mut config = config(ProtocolVersion::V5);
    // An empty Client Identifier asks the server to assign one.
    config.client_id = s("");
    let mut pair = Pair::new(config);
    let connect = pair.open();
    assert_eq!(connect.client_id, s(""));

    let mut properties = ConnAckProperties {
        receive_maximum: NonZeroU16::new(10),
        maximum_qos: Some(QoS::AtLeastOnce),
        retain_available: Some(false),
        maximum_packet_size: NonZeroU32::new(2048),
        topic_alias_maximum: Some(5),
        wildcard_subscription_available: Some(false),
        subscription_identifier_available: Some(false),
        shared_subscription_available: Some(false),
        server_keep_alive: Some(15),
        session_expiry_interval: Some(120),
        // [MQTT-3.2.2-16]
        assigned_client_identifier: Some(s("auto-7")),
        response_information: Some(s("responses/auto-7")),
        reason_string: Some(s("welcome")),
        ..ConnAckProperties::default()
    };
    properties
        .user_properties
        .push_pair("region", "eu")
        .unwrap();
    let connack = ConnAck {
        session_present: false,
        reason_code: ReasonCode::Success,
        properties: properties.clone(),
    };
    assert!(pair.send(connack).is_empty());

    let limits = ServerLimits {
        receive_maximum: 10,
        maximum_qos: QoS::AtLeastOnce,
        retain_available: false,
        maximum_packet_size: Some(2048),
        topic_alias_maximum: 5,
        wildcard_subscription_available: false,
        subscription_identifier_available: false,
        shared_subscription_available: false,
        // [MQTT-3.1.2-21], [MQTT-3.2.2-21]: the server's keep-alive is the one in force.
        keep_alive: secs(15),
        session_expiry_interval: Some(120),
    };
    assert_eq!(
        pair.events(),
        vec![Event::Connected(Box::new(Connected {
            session_present: false,
            limits: limits.clone(),
            client_id: s("auto-7"),
            properties,
        }))]
    );
    assert_eq!(pair.session.server_limits(), &limits);
    assert_eq!(pair.session.client_id(), &s("auto-7"));

    // The assigned identifier is the one the next connection uses; the server's Session Expiry
    // (120 s) made the session resumable, so the next CONNECT asks to resume it.
    pair.drop_connection();
    pair.events();
    let connect = pair.open();
    let mut expected = Connect::new(ProtocolVersion::V5, s("auto-7"));
    expected.clean_start = false;
    expected.keep_alive = 60;
    expected.properties.maximum_packet_size = NonZeroU32::new(1024 * 1024);
    expected.properties.receive_maximum = mqtt_session::testing::CONNECT_RECEIVE_MAXIMUM;
    assert_eq!(connect, expected);
}

#[test]
fn v5_server_limits_are_enforced() {
    let mut pair = Pair::new(config(ProtocolVersion::V5));
    pair.open();
    let properties = ConnAckProperties {
        receive_maximum: NonZeroU16::new(2),
        maximum_qos: Some(QoS::AtLeastOnce),
        retain_available: Some(false),
        maximum_packet_size: NonZeroU32::new(64),
        wildcard_subscription_available: Some(false),
        shared_subscription_available: Some(false),
        server_keep_alive: Some(15),
        ..ConnAckProperties::default()
    };
    pair.send(ConnAck {
        properties,
        ..ConnAck::default()
    });
    pair.events();

    let message = |qos| OutboundMessage::new(topic("t"), "x", qos);
    let (result, sent) = pair.command(|s, now| s.publish(now, message(QoS::ExactlyOnce)));
    assert_eq!(result, Err(SessionError::QoSNotSupported(QoS::ExactlyOnce)));
    assert!(sent.is_empty());
    let mut retained = message(QoS::AtMostOnce);
    retained.retain = true;
    let (result, _) = pair.command(|s, now| s.publish(now, retained));
    assert_eq!(result, Err(SessionError::RetainNotSupported));
    let big = OutboundMessage::new(topic("t"), vec![0u8; 100], QoS::AtMostOnce);
    // 2 (fixed header) + 3 (topic) + 1 (properties) + 100.
    let (result, _) = pair.command(|s, now| s.publish(now, big));
    assert_eq!(
        result,
        Err(SessionError::PacketTooLarge { size: 106, max: 64 })
    );
    let wildcard = SubscribeFilter::new(TopicFilter::new("a/+").unwrap(), QoS::AtMostOnce);
    let (result, _) = pair.command(|s, now| s.subscribe(now, vec![wildcard], Default::default()));
    assert_eq!(
        result,
        Err(SessionError::SubscriptionNotSupported(
            "wildcard subscriptions"
        ))
    );
    let shared = SubscribeFilter::new(TopicFilter::new("$share/g/a").unwrap(), QoS::AtMostOnce);
    let (result, _) = pair.command(|s, now| s.subscribe(now, vec![shared], Default::default()));
    assert_eq!(
        result,
        Err(SessionError::SubscriptionNotSupported(
            "shared subscriptions"
        ))
    );
    assert!(pair.events().is_empty());

    // Receive Maximum 2 [MQTT-3.3.4-7]: the third QoS 1 publish waits for a PUBACK.
    let mut written = Vec::new();
    for _ in 0..3 {
        let (ticket, sent) = pair.command(|s, now| s.publish(now, message(QoS::AtLeastOnce)));
        ticket.unwrap();
        written.extend(sent);
    }
    let publish = |id: u16| {
        Packet::Publish(Publish::new(
            topic("t"),
            "x",
            QosPid::AtLeastOnce(PacketId::new(id).unwrap()),
        ))
    };
    assert_eq!(written, vec![publish(1), publish(2)]);
    assert_eq!(
        pair.send(Packet::PubAck(PubResponse::new(PacketId::new(1).unwrap()))),
        vec![publish(3)]
    );

    // Server Keep Alive 15 s: the next PINGREQ is 15 s after the last packet written.
    assert_eq!(
        pair.advance_to_next_timeout(),
        Some((Timer::KeepAlive, vec![Packet::PingReq]))
    );
    assert_eq!(pair.now, VirtualInstant(secs(15)));
}

#[test]
fn v311_connected_reports_the_default_limits() {
    let mut pair = Pair::new(config(ProtocolVersion::V311));
    pair.open();
    assert!(pair.send(ConnAck::default()).is_empty());
    let limits = default_limits(ProtocolVersion::V311);
    assert_eq!(
        pair.events(),
        vec![Event::Connected(Box::new(Connected {
            session_present: false,
            limits: limits.clone(),
            client_id: s("client-1"),
            properties: ConnAckProperties::default(),
        }))]
    );
    assert_eq!(pair.session.server_limits(), &limits);
}

#[test]
fn v5_connected_without_properties_reports_the_defaults() {
    let mut pair = Pair::new(config(ProtocolVersion::V5));
    pair.open();
    assert!(pair.send(ConnAck::default()).is_empty());
    let limits = default_limits(ProtocolVersion::V5);
    assert_eq!(
        pair.events(),
        vec![Event::Connected(Box::new(Connected {
            session_present: false,
            limits: limits.clone(),
            client_id: s("client-1"),
            properties: ConnAckProperties::default(),
        }))]
    );
    assert_eq!(pair.session.server_limits(), &limits);
}

#[test]
fn session_present_after_clean_start_is_a_protocol_error() {
    for version in VERSIONS {
        let mut pair = Pair::new(config(version));
        assert!(pair.open().clean_start);
        // v5 [MQTT-3.2.2-2], [MQTT-3.2.2-4]; v3.1.1 [MQTT-3.2.2-1]: a clean start is never
        // answered with Session Present 1.
        let sent = pair.send(ConnAck {
            session_present: true,
            ..ConnAck::default()
        });
        match version {
            ProtocolVersion::V5 => assert_eq!(
                sent,
                vec![Packet::Disconnect(Disconnect::new(
                    ReasonCode::ProtocolError
                ))]
            ),
            ProtocolVersion::V311 => assert_eq!(sent, vec![]),
        }
        let events = pair.events();
        let reason = DisconnectReason::ProtocolError(
            ReasonCode::ProtocolError,
            ProtocolViolation::SessionPresentAfterCleanStart,
        );
        // The report names the rule broken, not a packet a server never sends.
        assert_eq!(
            reason.to_string(),
            "protocol error by the server (Protocol Error (0x82)): CONNACK with Session \
             Present 1 answered a CONNECT with Clean Start 1"
        );
        assert_disconnected_and_rescheduled(&pair, &events, reason);
        assert!(!events.iter().any(|e| matches!(e, Event::Connected(_))));
    }
}

#[test]
fn session_present_after_clean_start_0_is_accepted() {
    for version in VERSIONS {
        let mut config = config(version);
        config.clean_start = false;
        config.session_expiry_interval = 3600;
        let mut pair = Pair::new(config);
        assert!(!pair.open().clean_start);
        assert!(pair
            .send(ConnAck {
                session_present: true,
                ..ConnAck::default()
            })
            .is_empty());
        assert_eq!(
            pair.events(),
            vec![Event::Connected(Box::new(Connected {
                session_present: true,
                limits: default_limits(version),
                client_id: s("client-1"),
                properties: ConnAckProperties::default(),
            }))]
        );
        assert!(pair.session.is_connected());
    }
}

#[test]
fn a_packet_other_than_connack_before_connack_is_a_protocol_error() {
    let id = PacketId::new(1).unwrap();
    let packets = [
        Packet::Publish(Publish::new(topic("t"), "x", QosPid::AtMostOnce)),
        Packet::Publish(Publish::new(topic("t"), "x", QosPid::AtLeastOnce(id))),
        Packet::PubAck(PubResponse::new(id)),
        Packet::PubRel(PubResponse::new(id)),
        Packet::SubAck(SubAck {
            packet_id: id,
            reason_codes: vec![ReasonCode::Success],
            properties: AckProperties::default(),
        }),
        Packet::PingResp,
    ];
    for version in VERSIONS {
        for packet in &packets {
            let mut pair = Pair::new(config(version));
            pair.open();
            // v5 [MQTT-3.2.0-1]; v3.1.1 [MQTT-3.2.0-1]: the server's first packet is CONNACK
            // (or AUTH in v5).
            let sent = pair.send(packet.clone());
            match version {
                ProtocolVersion::V5 => assert_eq!(
                    sent,
                    vec![Packet::Disconnect(Disconnect::new(
                        ReasonCode::ProtocolError
                    ))],
                    "{packet:?}"
                ),
                ProtocolVersion::V311 => assert_eq!(sent, vec![], "{packet:?}"),
            }
            let events = pair.events();
            assert_disconnected_and_rescheduled(
                &pair,
                &events,
                DisconnectReason::ProtocolError(
                    ReasonCode::ProtocolError,
                    ProtocolViolation::BeforeConnAck(packet.packet_type()),
                ),
            );
            // Nothing of that connection is read any more, not even a CONNACK.
            assert!(pair.send(ConnAck::default()).is_empty());
            assert!(pair.events().is_empty());
            assert!(!pair.session.is_connected());
        }
    }
}

#[test]
fn v5_auth_before_connack_is_allowed_with_an_authentication_method() {
    let mut config = config(ProtocolVersion::V5);
    config.authentication_method = Some(s("SCRAM-SHA-1"));
    let mut pair = Pair::new(config);
    pair.open();
    let properties = AuthProperties {
        authentication_method: Some(s("SCRAM-SHA-1")),
        authentication_data: Some(Bytes::from_static(b"server-first")),
        ..AuthProperties::default()
    };
    let auth = Auth {
        reason_code: ReasonCode::ContinueAuthentication,
        properties: properties.clone(),
    };
    assert!(pair.send(auth).is_empty());
    assert_eq!(
        pair.events(),
        vec![Event::AuthChallenge {
            reason_code: ReasonCode::ContinueAuthentication,
            properties,
        }]
    );
    assert_eq!(pair.session.state(), State::Connecting);
}

#[test]
fn v5_auth_without_an_authentication_method_is_a_protocol_error() {
    let mut pair = Pair::new(config(ProtocolVersion::V5));
    pair.open();
    // [MQTT-4.12.0-6]: no Authentication Method in CONNECT, no AUTH from the server. (The AUTH
    // carries a method: one without is refused by the decoder already, v5 3.15.2.2.2.)
    let sent = pair.send(Auth {
        reason_code: ReasonCode::ContinueAuthentication,
        properties: AuthProperties {
            authentication_method: Some(s("SCRAM-SHA-1")),
            ..AuthProperties::default()
        },
    });
    assert_eq!(
        sent,
        vec![Packet::Disconnect(Disconnect::new(
            ReasonCode::ProtocolError
        ))]
    );
    let events = pair.events();
    assert_disconnected_and_rescheduled(
        &pair,
        &events,
        DisconnectReason::ProtocolError(
            ReasonCode::ProtocolError,
            ProtocolViolation::UnrequestedAuth,
        ),
    );
}

#[test]
fn without_keep_alive_the_connack_deadline_is_the_connack_timeout() {
    for version in VERSIONS {
        let mut config = config(version);
        config.keep_alive = Duration::ZERO;
        let mut pair = Pair::new(config);
        pair.open();
        assert_eq!(
            pair.session.next_timeout(),
            Some((VirtualInstant(secs(10)), Timer::ConnAck))
        );
        assert_eq!(
            pair.advance_to_next_timeout(),
            Some((Timer::ConnAck, vec![]))
        );
        let events = pair.events();
        assert_disconnected_and_rescheduled(&pair, &events, DisconnectReason::ConnAckTimeout);
    }
}

#[test]
fn a_second_connack_is_a_protocol_error() {
    for version in VERSIONS {
        let mut pair = Pair::new(config(version));
        pair.open();
        pair.send(ConnAck::default());
        assert!(matches!(&pair.events()[..], [Event::Connected(_)]));
        // v5 [MQTT-3.2.0-2]: one CONNACK per connection.
        let sent = pair.send(ConnAck::default());
        match version {
            ProtocolVersion::V5 => assert_eq!(
                sent,
                vec![Packet::Disconnect(Disconnect::new(
                    ReasonCode::ProtocolError
                ))]
            ),
            ProtocolVersion::V311 => assert_eq!(sent, vec![]),
        }
        let events = pair.events();
        assert_disconnected_and_rescheduled(
            &pair,
            &events,
            DisconnectReason::ProtocolError(
                ReasonCode::ProtocolError,
                ProtocolViolation::SecondConnAck,
            ),
        );
    }
}

#[test]
fn v5_server_session_expiry_zero_makes_the_next_connect_a_clean_start() {
    let mut config = config(ProtocolVersion::V5);
    config.clean_start = false;
    config.session_expiry_interval = 3600;
    let mut pair = Pair::new(config);
    let connect = pair.open();
    assert!(!connect.clean_start);
    assert_eq!(connect.properties.session_expiry_interval, Some(3600));
    // The server overrides the Session Expiry Interval with 0: the session ends with the
    // connection, there is nothing to resume.
    let properties = ConnAckProperties {
        session_expiry_interval: Some(0),
        ..ConnAckProperties::default()
    };
    pair.send(ConnAck {
        properties,
        ..ConnAck::default()
    });
    assert_eq!(
        pair.session.server_limits().session_expiry_interval,
        Some(0)
    );
    pair.drop_connection();
    pair.events();
    assert!(pair.open().clean_start);
}

#[test]
fn v311_auth_before_connack_is_malformed() {
    let mut pair = Pair::new(config(ProtocolVersion::V311));
    pair.open();
    // Packet type 15 is reserved in v3.1.1 (section 2.2.1): the connection ends, nothing is
    // written (v3.1.1 has no DISCONNECT from a client to report it).
    assert!(pair.send_bytes(&[0xF0, 0x00]).is_empty());
    let events = pair.events();
    let error = Error::ReservedPacketType(15);
    assert_disconnected_and_rescheduled(
        &pair,
        &events,
        DisconnectReason::ProtocolError(error.reason_code(), error.into()),
    );
}

#[test]
fn v5_a_reconnect_starts_with_the_configured_keep_alive_and_connack_timeout() {
    // The previous server's keep-alive (5 s) belonged to that connection: the new CONNECT
    // offers 60 s again, the CONNACK deadline is the connack timeout (10 s), and a CONNACK
    // without Server Keep Alive leaves the 60 s in force.
    let mut pair = Pair::new(config(ProtocolVersion::V5));
    pair.open();
    let properties = ConnAckProperties {
        server_keep_alive: Some(5),
        ..ConnAckProperties::default()
    };
    pair.send(ConnAck {
        properties,
        ..ConnAck::default()
    });
    pair.drop_connection();
    pair.events();
    let start = pair.now;
    assert_eq!(pair.open().keep_alive, 60);
    assert_eq!(
        pair.session.next_timeout(),
        Some((VirtualInstant(start.0 + secs(10)), Timer::ConnAck))
    );
    pair.send(ConnAck::default());
    assert_eq!(
        pair.session.next_timeout(),
        Some((VirtualInstant(start.0 + secs(60)), Timer::KeepAlive))
    );
}
