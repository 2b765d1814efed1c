//! A v5 session meeting a server that speaks only MQTT 3.1.1: the v3.1.1 CONNACK refusing the
//! protocol level (`20 02 00 01`, v3.1.1 [MQTT-3.1.2-2]) is recognised as "the server does not
//! support MQTT 5", not a malformed v5 CONNACK; it is not retried unless the fallback to 3.1.1
//! is on, which makes the next connection speak 3.1.1 (as does a close without a word).
#![allow(clippy::unwrap_used, clippy::panic)]

use bytes::BytesMut;
use mqtt_proto::{ConnAck, MqttString, ProtocolVersion, ReasonCode};
use mqtt_session::testing::Pair;
use mqtt_session::{Config, DisconnectReason, Event, ReconnectStop};

const REFUSAL: [u8; 4] = [0x20, 0x02, 0x00, 0x01];

fn config(fallback: bool) -> Config {
    let mut config = Config::new(ProtocolVersion::V5, MqttString::new("v5-client").unwrap());
    config.v311_fallback = fallback;
    config
}

/// Without the fallback: reported as such, nothing sent back (the server speaks no v5, a
/// DISCONNECT would be one more packet it cannot read), not retried. The refusal may arrive
/// in pieces.
#[test]
fn a_v311_refusal_of_a_v5_connect_is_recognised() {
    for split in [4, 2, 1] {
        let mut pair = Pair::new(config(false));
        pair.open();
        let ((), written) = pair.command(|session, now| {
            let mut buf = BytesMut::from(&REFUSAL[..split]);
            session.handle_read(now, &mut buf);
            // A partial packet stays in the buffer for the next read.
            buf.extend_from_slice(&REFUSAL[split..]);
            session.handle_read(now, &mut buf);
        });
        assert!(written.is_empty(), "{written:?}");
        let reason = DisconnectReason::V5NotSupported { fallback: false };
        assert_eq!(
            pair.events(),
            [
                Event::Disconnected(reason.clone()),
                Event::ReconnectStopped(ReconnectStop::Refused(
                    ReasonCode::UnsupportedProtocolVersion
                )),
            ]
        );
        assert!(reason.is_permanent());
        assert!(
            reason.to_string().contains("does not support MQTT 5"),
            "{reason}"
        );
        assert!(!pair.session.should_connect(pair.now));
        assert_eq!(pair.session.protocol_version(), ProtocolVersion::V5);
    }
}

/// With the fallback: the next connection (after the backoff, not a permanent refusal)
/// sends a v3.1.1 CONNECT and works.
#[test]
fn with_the_fallback_the_next_connection_speaks_v311() {
    let mut pair = Pair::new(config(true));
    assert_eq!(pair.open().protocol_version, ProtocolVersion::V5);
    assert!(pair.send_bytes(&REFUSAL).is_empty());
    let events = pair.events();
    let reason = DisconnectReason::V5NotSupported { fallback: true };
    assert!(
        matches!(&events[..], [Event::Disconnected(r), Event::ReconnectScheduled { .. }] if *r == reason),
        "{events:?}"
    );
    assert!(!reason.is_permanent());
    assert!(reason
        .to_string()
        .contains("the next connection speaks MQTT 3.1.1"));
    assert_eq!(pair.session.protocol_version(), ProtocolVersion::V311);
    pair.advance_to_next_timeout();
    assert!(pair.session.should_connect(pair.now));
    assert_eq!(pair.open().protocol_version, ProtocolVersion::V311);
    pair.send(ConnAck::default());
    assert!(matches!(&pair.events()[..], [Event::Connected(_)]));
}

/// A server that closes a v5 connection without a word: an ordinary failed attempt, unless
/// the fallback is on, when the next connection speaks 3.1.1. A close after the server said
/// anything is never taken for one.
#[test]
fn a_silent_close_falls_back_only_when_asked() {
    for fallback in [false, true] {
        let mut pair = Pair::new(config(fallback));
        pair.open();
        pair.drop_connection();
        let events = pair.events();
        assert!(
            matches!(
                &events[..],
                [
                    Event::Disconnected(DisconnectReason::TransportClosed),
                    Event::ReconnectScheduled { .. }
                ]
            ),
            "{events:?}"
        );
        let expected = if fallback {
            ProtocolVersion::V311
        } else {
            ProtocolVersion::V5
        };
        assert_eq!(pair.session.protocol_version(), expected);
    }
    let mut pair = Pair::new(config(true));
    pair.open();
    // The start of a v5 CONNACK, then the connection breaks.
    pair.send_bytes(&[0x20]);
    pair.drop_connection();
    assert_eq!(pair.session.protocol_version(), ProtocolVersion::V5);
}

/// A v5 CONNACK with reason 0x01 is no v5 CONNACK at all when it carries properties: only
/// the exact v3.1.1 refusal is taken for one; anything else stays a malformed packet.
#[test]
fn only_the_v311_refusal_is_recognised() {
    let mut pair = Pair::new(config(true));
    pair.open();
    pair.send_bytes(&[0x20, 0x03, 0x00, 0x01, 0x00]);
    let events = pair.events();
    assert!(
        matches!(
            &events[0],
            Event::Disconnected(DisconnectReason::ProtocolError(..))
        ),
        "{events:?}"
    );
    assert_eq!(pair.session.protocol_version(), ProtocolVersion::V5);
}
