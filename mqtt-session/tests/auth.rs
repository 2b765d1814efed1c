//! v5 enhanced authentication (section 4.12): the exchange before CONNACK, re-authentication
//! while connected, and an AUTH the client never asked for.
#![allow(clippy::unwrap_used, clippy::panic)]

use bytes::Bytes;
use core::time::Duration;
use mqtt_proto::*;
use mqtt_session::testing::Pair;
use mqtt_session::{
    Config, Connected, DisconnectReason, Error as SessionError, Event, ProtocolViolation,
    ServerLimits, State,
};

const V5: ProtocolVersion = ProtocolVersion::V5;
const CLIENT_ID: &str = "auth";
const METHOD: &str = "SCRAM-SHA-256";

fn config(method: bool) -> Config {
    let mut c = Config::new(V5, MqttString::try_from(CLIENT_ID).unwrap());
    c.backoff.initial = Duration::ZERO;
    if method {
        c.authentication_method = Some(MqttString::try_from(METHOD).unwrap());
        c.authentication_data = Some(Bytes::from_static(b"client-first"));
    }
    c
}

fn auth_properties(data: &'static [u8]) -> AuthProperties {
    AuthProperties {
        authentication_method: Some(MqttString::try_from(METHOD).unwrap()),
        authentication_data: Some(Bytes::from_static(data)),
        ..AuthProperties::default()
    }
}

fn auth(reason_code: ReasonCode, data: &'static [u8]) -> Auth {
    Auth {
        reason_code,
        properties: auth_properties(data),
    }
}

fn challenge(reason_code: ReasonCode, data: &'static [u8]) -> Event {
    Event::AuthChallenge {
        reason_code,
        properties: auth_properties(data),
    }
}

fn limits() -> ServerLimits {
    ServerLimits {
        receive_maximum: u16::MAX,
        maximum_qos: QoS::ExactlyOnce,
        retain_available: true,
        maximum_packet_size: None,
        topic_alias_maximum: 0,
        wildcard_subscription_available: true,
        subscription_identifier_available: true,
        shared_subscription_available: true,
        keep_alive: Duration::from_secs(60),
        session_expiry_interval: None,
    }
}

fn protocol_error(violation: ProtocolViolation) -> Vec<Event> {
    vec![
        Event::Disconnected(DisconnectReason::ProtocolError(
            ReasonCode::ProtocolError,
            violation,
        )),
        Event::ReconnectScheduled {
            delay: Duration::ZERO,
            attempt: 1,
        },
    ]
}

/// Runs the exchange: CONNECT with method and data, a server challenge, the client's answer,
/// CONNACK.
fn authenticated_pair() -> Pair {
    let mut pair = Pair::new(config(true));
    let connect = pair.open();
    // 3.1.2.11.9 / 3.1.2.11.10: the method and the initial data are in CONNECT.
    let expected = ConnectProperties {
        // The default Maximum Packet Size (1 MiB) is announced too.
        maximum_packet_size: core::num::NonZeroU32::new(1024 * 1024),
        receive_maximum: mqtt_session::testing::CONNECT_RECEIVE_MAXIMUM,
        authentication_method: Some(MqttString::try_from(METHOD).unwrap()),
        authentication_data: Some(Bytes::from_static(b"client-first")),
        ..ConnectProperties::default()
    };
    assert_eq!(connect.properties, expected);

    // [MQTT-4.12.0-2]: the server's AUTH during authentication is 0x18 Continue.
    assert_eq!(
        pair.send(auth(ReasonCode::ContinueAuthentication, b"server-first")),
        vec![]
    );
    assert_eq!(
        pair.events(),
        vec![challenge(
            ReasonCode::ContinueAuthentication,
            b"server-first"
        )]
    );
    assert_eq!(pair.session.state(), State::Connecting);

    // [MQTT-4.12.0-3]: the client's answer is AUTH 0x18 Continue, [MQTT-4.12.0-5] with the
    // same method.
    let (r, sent) = pair.command(|s, now| {
        s.auth(
            now,
            ReasonCode::ContinueAuthentication,
            auth_properties(b"client-final"),
        )
    });
    r.unwrap();
    assert_eq!(
        sent,
        vec![Packet::Auth(auth(
            ReasonCode::ContinueAuthentication,
            b"client-final"
        ))]
    );
    assert_eq!(pair.session.state(), State::Connecting);

    // The CONNACK completes it, repeating the method ([MQTT-4.12.0-5]).
    let properties = ConnAckProperties {
        authentication_method: Some(MqttString::try_from(METHOD).unwrap()),
        authentication_data: Some(Bytes::from_static(b"server-final")),
        ..ConnAckProperties::default()
    };
    assert_eq!(
        pair.send(ConnAck {
            properties: properties.clone(),
            ..ConnAck::default()
        }),
        vec![]
    );
    assert_eq!(
        pair.events(),
        vec![Event::Connected(Box::new(Connected {
            session_present: false,
            limits: limits(),
            client_id: MqttString::try_from(CLIENT_ID).unwrap(),
            properties,
        }))]
    );
    assert!(pair.session.is_connected());
    pair
}

/// Starts a re-authentication (AUTH 0x19 with data "re-first"); returns what was sent.
fn re_authenticate(pair: &mut Pair) -> Vec<Packet> {
    let (r, sent) = pair.command(|s, now| {
        s.auth(
            now,
            ReasonCode::ReAuthenticate,
            auth_properties(b"re-first"),
        )
    });
    r.unwrap();
    sent
}

// Section 4.12: enhanced authentication before CONNACK.
#[test]
fn enhanced_authentication_runs_before_connack() {
    authenticated_pair();
}

// Section 4.12.1: re-authentication while connected starts with the client's AUTH 0x19
// Re-authenticate ([MQTT-4.12.1-1]: the same method); the server answers with AUTH 0x18 or,
// when done, AUTH 0x00 Success. The connection stays up throughout.
#[test]
fn re_authentication_while_connected() {
    let mut pair = authenticated_pair();
    assert_eq!(
        re_authenticate(&mut pair),
        vec![Packet::Auth(auth(ReasonCode::ReAuthenticate, b"re-first"))]
    );
    assert_eq!(
        pair.send(auth(ReasonCode::ContinueAuthentication, b"re-challenge")),
        vec![]
    );
    assert_eq!(
        pair.events(),
        vec![challenge(
            ReasonCode::ContinueAuthentication,
            b"re-challenge"
        )]
    );
    let (r, sent) = pair.command(|s, now| {
        s.auth(
            now,
            ReasonCode::ContinueAuthentication,
            auth_properties(b"re-final"),
        )
    });
    r.unwrap();
    assert_eq!(
        sent,
        vec![Packet::Auth(auth(
            ReasonCode::ContinueAuthentication,
            b"re-final"
        ))]
    );
    assert_eq!(pair.send(auth(ReasonCode::Success, b"re-done")), vec![]);
    assert_eq!(
        pair.events(),
        vec![challenge(ReasonCode::Success, b"re-done")]
    );
    assert!(pair.session.is_connected());
    // Other traffic goes on as usual.
    let (r, sent) = pair.command(|s, now| {
        s.publish(
            now,
            mqtt_session::OutboundMessage::new(TopicName::new("a").unwrap(), "x", QoS::AtMostOnce),
        )
    });
    r.unwrap();
    assert_eq!(
        sent,
        vec![Packet::Publish(Publish::new(
            TopicName::new("a").unwrap(),
            "x",
            QosPid::AtMostOnce
        ))]
    );
}

// [MQTT-4.12.0-6]: without an Authentication Method in CONNECT the server sends no AUTH. One
// that does breaks the protocol: DISCONNECT 0x82 (section 4.13), before or after CONNACK.
#[test]
fn auth_from_the_server_without_a_method_is_a_protocol_error() {
    // Before CONNACK.
    let mut pair = Pair::new(config(false));
    let connect = pair.open();
    assert_eq!(connect.properties.authentication_method, None);
    assert_eq!(
        pair.send(auth(ReasonCode::ContinueAuthentication, b"?")),
        vec![Packet::Disconnect(Disconnect::new(
            ReasonCode::ProtocolError
        ))]
    );
    let events = pair.events();
    assert_eq!(events, protocol_error(ProtocolViolation::UnrequestedAuth));
    // The report names the rule broken, not a packet a server never sends.
    let Event::Disconnected(reason) = &events[0] else {
        unreachable!()
    };
    assert_eq!(
        reason.to_string(),
        "protocol error by the server (Protocol Error (0x82)): AUTH from the server, but \
         CONNECT asked for no enhanced authentication"
    );
    assert!(!pair.open);

    // After CONNACK.
    let mut pair = Pair::new(config(false));
    pair.open();
    pair.send(ConnAck::default());
    pair.events();
    assert_eq!(
        pair.send(auth(ReasonCode::ContinueAuthentication, b"?")),
        vec![Packet::Disconnect(Disconnect::new(
            ReasonCode::ProtocolError
        ))]
    );
    assert_eq!(
        pair.events(),
        protocol_error(ProtocolViolation::UnrequestedAuth)
    );
    assert!(!pair.open);
}

// `Session::auth` needs MQTT v5 and a connection.
#[test]
fn auth_needs_v5_and_a_connection() {
    let mut pair = Pair::new(config(true));
    let (r, sent) =
        pair.command(|s, now| s.auth(now, ReasonCode::ReAuthenticate, auth_properties(b"x")));
    assert!(matches!(r, Err(SessionError::NotAvailable(_))), "{r:?}");
    assert_eq!(sent, vec![]);

    let mut c = Config::new(
        ProtocolVersion::V311,
        MqttString::try_from(CLIENT_ID).unwrap(),
    );
    c.authentication_method = Some(MqttString::try_from(METHOD).unwrap());
    let mut pair = Pair::new(c);
    pair.open();
    pair.send(ConnAck::default());
    pair.events();
    let (r, sent) =
        pair.command(|s, now| s.auth(now, ReasonCode::ReAuthenticate, auth_properties(b"x")));
    assert!(matches!(r, Err(SessionError::NotAvailable(_))), "{r:?}");
    assert_eq!(sent, vec![]);
}

// [MQTT-4.12.0-7]: "If the Client does not include an Authentication Method in the CONNECT,
// the Client MUST NOT send an AUTH packet to the Server." The session refuses the command.
#[test]
fn no_auth_is_sent_without_an_authentication_method_in_connect() {
    let mut pair = Pair::new(config(false));
    pair.open();
    pair.send(ConnAck::default());
    pair.events();
    let (r, sent) =
        pair.command(|s, now| s.auth(now, ReasonCode::ReAuthenticate, auth_properties(b"x")));
    assert!(matches!(r, Err(SessionError::NotAvailable(_))), "{r:?}");
    assert_eq!(sent, vec![]);
    assert!(pair.session.is_connected());
}

// [MQTT-4.12.0-5]: every AUTH of the exchange carries the method of the CONNECT;
// [MQTT-4.12.1-1]: re-authentication uses the same method. The session fills in the configured
// method, refuses another one, and treats a server AUTH with another method as a protocol
// error (DISCONNECT 0x82).
#[test]
fn every_auth_carries_the_configured_method() {
    let mut pair = authenticated_pair();
    let (r, sent) = pair.command(|s, now| {
        s.auth(
            now,
            ReasonCode::ReAuthenticate,
            AuthProperties {
                authentication_data: Some(Bytes::from_static(b"re-first")),
                ..AuthProperties::default()
            },
        )
    });
    r.unwrap();
    assert_eq!(
        sent,
        vec![Packet::Auth(auth(ReasonCode::ReAuthenticate, b"re-first"))]
    );
    let other = AuthProperties {
        authentication_method: Some(MqttString::try_from("PLAIN").unwrap()),
        ..AuthProperties::default()
    };
    let (r, sent) = pair.command(|s, now| s.auth(now, ReasonCode::ReAuthenticate, other.clone()));
    assert!(matches!(r, Err(SessionError::NotAvailable(_))), "{r:?}");
    assert_eq!(sent, vec![]);

    assert_eq!(
        pair.send(Auth {
            reason_code: ReasonCode::ContinueAuthentication,
            properties: other,
        }),
        vec![Packet::Disconnect(Disconnect::new(
            ReasonCode::ProtocolError
        ))]
    );
    assert_eq!(
        pair.events(),
        protocol_error(ProtocolViolation::AuthenticationMethod {
            packet: PacketType::Auth,
            got: Some(MqttString::try_from("PLAIN").unwrap()),
            sent: MqttString::try_from(METHOD).unwrap(),
        })
    );
}

// [MQTT-4.12.0-2]: an AUTH the server sends during authentication carries 0x18 Continue
// authentication; 0x19 Re-authenticate is sent by a client only (3.15.2.1), and before the
// CONNACK the exchange ends with CONNACK, not AUTH 0x00. Either is a protocol error:
// DISCONNECT 0x82 (section 4.13).
#[test]
fn a_server_auth_with_a_reason_code_it_may_not_send_is_a_protocol_error() {
    let cases = [
        (false, ReasonCode::ReAuthenticate),
        (false, ReasonCode::Success),
        (true, ReasonCode::ReAuthenticate),
    ];
    for (connected, code) in cases {
        let mut pair = if connected {
            authenticated_pair()
        } else {
            let mut pair = Pair::new(config(true));
            pair.open();
            pair
        };
        assert_eq!(
            pair.send(auth(code, b"?")),
            vec![Packet::Disconnect(Disconnect::new(
                ReasonCode::ProtocolError
            ))],
            "{code:?} (connected: {connected})"
        );
        let events = pair.events();
        assert!(
            matches!(
                &events[..],
                [
                    Event::Disconnected(DisconnectReason::ProtocolError(
                        ReasonCode::ProtocolError,
                        ProtocolViolation::AuthReason(c)
                    )),
                    Event::ReconnectScheduled { .. },
                ] if *c == code
            ),
            "{events:?}"
        );
        assert!(!pair.open);
    }
}

// v5 [MQTT-3.15.2-2], [MQTT-3.15.2-3]: a re-authentication's AUTH leaves out its Reason
// String, and then its User Properties, when they would make it larger than the server's
// Maximum Packet Size (from CONNACK); the method and data always go.
#[test]
fn auth_leaves_out_reason_string_then_user_properties_beyond_the_server_maximum() {
    let mut full = auth_properties(b"re-first");
    full.reason_string = Some(MqttString::try_from("why ".repeat(10)).unwrap());
    full.user_properties
        .push_pair("k", "a-longer-value")
        .unwrap();
    let without_reason = AuthProperties {
        reason_string: None,
        ..full.clone()
    };
    let bare = AuthProperties {
        user_properties: UserProperties::default(),
        ..without_reason.clone()
    };
    let len = |p: &AuthProperties| {
        Auth {
            reason_code: ReasonCode::ReAuthenticate,
            properties: p.clone(),
        }
        .encoded_len(V5)
        .unwrap() as u32
    };
    for (max, expected) in [
        (len(&full), &full),
        (len(&full) - 1, &without_reason),
        (len(&without_reason) - 1, &bare),
    ] {
        let mut pair = Pair::new(config(true));
        pair.open();
        let mut connack = ConnAck::default();
        connack.properties.maximum_packet_size = core::num::NonZeroU32::new(max);
        connack.properties.authentication_method = Some(MqttString::try_from(METHOD).unwrap());
        pair.send(connack);
        assert!(pair.session.is_connected(), "maximum packet size {max}");
        pair.events();
        let (r, sent) =
            pair.command(|s, now| s.auth(now, ReasonCode::ReAuthenticate, full.clone()));
        r.unwrap();
        assert_eq!(
            sent,
            vec![Packet::Auth(Auth {
                reason_code: ReasonCode::ReAuthenticate,
                properties: expected.clone(),
            })],
            "maximum packet size {max}"
        );
    }
}

/// Starts a re-authentication with a QoS 1 publish in flight; returns the pair.
fn re_authenticating_with_a_publish_in_flight() -> Pair {
    let mut pair = authenticated_pair();
    let (r, sent) = pair.command(|s, now| {
        s.publish(
            now,
            mqtt_session::OutboundMessage::new(TopicName::new("a").unwrap(), "x", QoS::AtLeastOnce),
        )
    });
    r.unwrap();
    assert!(matches!(&sent[..], [Packet::Publish(_)]));
    re_authenticate(&mut pair);
    assert_eq!(
        pair.send(auth(ReasonCode::ContinueAuthentication, b"re-challenge")),
        vec![]
    );
    pair.events();
    pair
}

// [MQTT-4.12.1-2]: a re-authentication that fails ends the connection, whichever side finds
// it failed; the session's state outlives the connection ([MQTT-4.1.0-1]).
#[test]
fn a_failed_re_authentication_ends_the_connection() {
    // The server refuses: its DISCONNECT (0x87 Not authorized) closes the connection.
    let mut pair = re_authenticating_with_a_publish_in_flight();
    let refusal = Disconnect::new(ReasonCode::NotAuthorized);
    assert_eq!(pair.send(refusal.clone()), vec![]);
    let events = pair.events();
    assert_eq!(
        events.first(),
        Some(&Event::Disconnected(DisconnectReason::Server(
            ReasonCode::NotAuthorized,
            Box::new(refusal.properties)
        )))
    );
    assert_eq!(pair.session.state(), State::Idle);
    assert!(!pair.session.is_connected());
    assert_eq!(
        pair.session.inflight(),
        1,
        "the publish stays in the session"
    );

    // The client refuses the server's challenge: DISCONNECT with its reason, then the
    // connection closes.
    let mut pair = re_authenticating_with_a_publish_in_flight();
    let (r, sent) = pair.command(|s, now| {
        s.disconnect(
            now,
            ReasonCode::NotAuthorized,
            DisconnectProperties::default(),
        )
    });
    r.unwrap();
    assert_eq!(
        sent,
        vec![Packet::Disconnect(Disconnect::new(
            ReasonCode::NotAuthorized
        ))]
    );
    assert_eq!(pair.session.state(), State::Idle);
    assert_eq!(
        pair.session.inflight(),
        1,
        "the publish stays in the session"
    );
}

// Section 4.12.1: once connected, the server's AUTH only answers the client's Re-authenticate;
// 0x18 or 0x00 without one is a protocol error (DISCONNECT 0x82), and so is a second 0x00.
#[test]
fn a_server_auth_after_connack_without_a_re_authentication_is_a_protocol_error() {
    for code in [ReasonCode::ContinueAuthentication, ReasonCode::Success] {
        let mut pair = authenticated_pair();
        assert_eq!(
            pair.send(auth(code, b"?")),
            vec![Packet::Disconnect(Disconnect::new(
                ReasonCode::ProtocolError
            ))],
            "{code:?}"
        );
        assert_eq!(
            pair.events(),
            protocol_error(ProtocolViolation::AuthReason(code))
        );
    }
    let mut pair = authenticated_pair();
    re_authenticate(&mut pair);
    assert_eq!(pair.send(auth(ReasonCode::Success, b"done")), vec![]);
    assert_eq!(pair.events(), vec![challenge(ReasonCode::Success, b"done")]);
    assert_eq!(
        pair.send(auth(ReasonCode::Success, b"again")),
        vec![Packet::Disconnect(Disconnect::new(
            ReasonCode::ProtocolError
        ))]
    );
}

// [MQTT-4.12.1-2] and section 4.12: the client that finds the server's side of the exchange
// wanting sends DISCONNECT with its reason and closes, before CONNACK (taken as a refusal
// with that code: 0x87 stops reconnecting) and during a re-authentication (reconnects).
#[test]
fn the_client_ends_a_failed_authentication_with_its_reason() {
    let mut pair = Pair::new(config(true));
    pair.open();
    pair.send(auth(ReasonCode::ContinueAuthentication, b"server-first"));
    pair.events();
    let (r, sent) = pair.command(|s, now| s.fail_authentication(now, ReasonCode::NotAuthorized));
    r.unwrap();
    let not_authorized = vec![Packet::Disconnect(Disconnect::new(
        ReasonCode::NotAuthorized,
    ))];
    assert_eq!(sent, not_authorized);
    assert_eq!(
        pair.events(),
        vec![
            Event::Disconnected(DisconnectReason::AuthenticationFailed(
                ReasonCode::NotAuthorized
            )),
            Event::ReconnectStopped(mqtt_session::ReconnectStop::Refused(
                ReasonCode::NotAuthorized
            )),
        ]
    );
    assert!(!pair.open);

    // The CONNACK's final data fails the check: the same.
    let mut pair = authenticated_pair();
    let (r, sent) = pair.command(|s, now| s.fail_authentication(now, ReasonCode::NotAuthorized));
    r.unwrap();
    assert_eq!(sent, not_authorized);
    assert_eq!(
        pair.events()[1],
        Event::ReconnectStopped(mqtt_session::ReconnectStop::Refused(
            ReasonCode::NotAuthorized
        ))
    );

    let mut pair = re_authenticating_with_a_publish_in_flight();
    let (r, sent) = pair.command(|s, now| s.fail_authentication(now, ReasonCode::NotAuthorized));
    r.unwrap();
    assert_eq!(sent, not_authorized);
    let events = pair.events();
    assert!(
        matches!(
            &events[..],
            [
                Event::Disconnected(DisconnectReason::AuthenticationFailed(
                    ReasonCode::NotAuthorized
                )),
                Event::ReconnectScheduled { .. },
            ]
        ),
        "{events:?}"
    );
    assert_eq!(pair.session.inflight(), 1, "the publish stays");
    let (r, _) = pair.command(|s, now| s.fail_authentication(now, ReasonCode::NotAuthorized));
    assert!(matches!(r, Err(SessionError::NotAvailable(_))), "{r:?}");
}

// 3.1.2.11.10: each connection's CONNECT carries the Authentication Data set for it.
#[test]
fn each_connect_carries_the_authentication_data_set_for_it() {
    let mut pair = Pair::new(config(true));
    pair.session
        .set_authentication_data(Some(Bytes::from_static(b"first nonce")))
        .unwrap();
    let connect = pair.open();
    assert_eq!(
        connect.properties.authentication_data.as_deref(),
        Some(&b"first nonce"[..])
    );
    pair.drop_connection();
    pair.session
        .set_authentication_data(Some(Bytes::from_static(b"second nonce")))
        .unwrap();
    let connect = pair.open();
    assert_eq!(
        connect.properties.authentication_data.as_deref(),
        Some(&b"second nonce"[..])
    );
    let too_long = Bytes::from(vec![0u8; 70_000]);
    assert!(pair
        .session
        .set_authentication_data(Some(too_long))
        .is_err());
    assert_eq!(
        pair.session.config().authentication_data.as_deref(),
        Some(&b"second nonce"[..]),
        "unchanged"
    );
}

// 3.1.3.5, 3.1.3.6: each connection's CONNECT carries the User Name and Password set for it
// (a token refreshed before each connect); a v3.1.1 password without a user name is refused
// and changes nothing [MQTT-3.1.2-22].
#[test]
fn each_connect_carries_the_credentials_set_for_it() {
    let mut pair = Pair::new(config(false));
    pair.session
        .set_credentials(
            Some(MqttString::new("alice".to_string()).unwrap()),
            Some(Bytes::from_static(b"token-1")),
        )
        .unwrap();
    let connect = pair.open();
    assert_eq!(connect.username.as_deref(), Some("alice"));
    assert_eq!(connect.password.as_deref(), Some(&b"token-1"[..]));
    pair.drop_connection();
    pair.session
        .set_credentials(None, Some(Bytes::from_static(b"token-2")))
        .unwrap();
    let connect = pair.open();
    assert_eq!(connect.username, None, "v5 allows a password alone");
    assert_eq!(connect.password.as_deref(), Some(&b"token-2"[..]));

    let mut v311 = config(false);
    v311.protocol_version = ProtocolVersion::V311;
    let mut pair = Pair::new(v311);
    let refused = pair
        .session
        .set_credentials(None, Some(Bytes::from_static(b"token")));
    assert!(refused.is_err());
    assert_eq!(pair.session.config().password, None, "unchanged");
}

// Secrets stay out of logs: the configuration's Debug output shows neither the password nor
// the authentication data.
#[test]
fn debug_output_leaves_secrets_out() {
    let mut c = config(true);
    c.username = Some(MqttString::try_from("alice").unwrap());
    c.password = Some(Bytes::from_static(b"hunter2"));
    let shown = format!("{c:?}");
    assert!(shown.contains("alice"), "{shown}");
    assert!(
        !shown.contains("104, 117, 110") && !shown.contains("hunter2"),
        "{shown}"
    );
    assert!(
        !shown.contains("client-first") && !shown.contains("99, 108, 105"),
        "{shown}"
    );
}
