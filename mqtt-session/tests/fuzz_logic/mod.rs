//! The session fuzz target's body, shared by `fuzz/fuzz_targets/session.rs` (nightly,
//! cargo-fuzz) and `mqtt-session/tests/fuzz_corpus.rs` (stable, replays the corpus).
//!
//! The input is a script: the first byte picks the protocol version and manual acks; then each
//! step is an opcode byte and its operands: server bytes, timer ticks, publishes, subscribes,
//! acks and refusals, drops and reconnects. Whatever the bytes, the session must not panic,
//! must write only valid packets, and must keep its counters consistent; and its journal,
//! written after every step from the session's notes of what changed, must write what one fed
//! whole snapshots writes and read back as the session's snapshot.
#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use bytes::BytesMut;
use mqtt_proto::{
    Decoded, Decoder, MqttString, ProtocolVersion, QoS, Role, SubscribeFilter, TopicFilter,
    TopicName,
};
use mqtt_session::testing::{TestSession, VirtualInstant};
use mqtt_session::{Config, Event, Journal, JournalWrite, OutboundMessage};

pub fn session_target(data: &[u8]) {
    let Some((&first, mut rest)) = data.split_first() else {
        return;
    };
    let version = if first & 1 == 0 {
        ProtocolVersion::V311
    } else {
        ProtocolVersion::V5
    };
    let mut config = Config::new(version, MqttString::try_from("fuzz").unwrap());
    config.manual_acks = first & 2 != 0;
    config.keep_alive = Duration::from_secs(10);
    config.maximum_packet_size = 4096;
    config.topic_alias_maximum = 4;
    config.outbound_topic_aliases = 2;
    config.receive_maximum = 8;
    config.max_queued = 64;
    let mut session = TestSession::with_tables(config).unwrap();
    let mut now = VirtualInstant::default();
    let mut wire = BytesMut::new();
    let mut out = BytesMut::new();
    let mut tokens = Vec::new();
    let client = Decoder::new(version, Role::Client);
    let (mut by_notes, mut by_snapshots) = (Journal::new(), Journal::new());
    let mut store = Vec::new();
    session.handle_connected(now);
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        let arg = rest.first().copied().unwrap_or(0);
        match op % 9 {
            // Server bytes: a length byte, then that many bytes.
            0 => {
                let n = usize::from(arg).min(rest.len().saturating_sub(1));
                wire.extend_from_slice(rest.get(1..1 + n).unwrap_or_default());
                rest = rest.get(1 + n..).unwrap_or_default();
                session.handle_read(now, &mut wire);
            }
            1 => {
                now = VirtualInstant(now.0 + Duration::from_millis(u64::from(arg) * 250));
                rest = rest.get(1..).unwrap_or_default();
                session.handle_timeout(now);
            }
            2 => {
                rest = rest.get(1..).unwrap_or_default();
                let qos = QoS::from_u8(arg % 3).unwrap();
                let topic = TopicName::new(format!("f/{}", arg % 5)).unwrap();
                let mut message = OutboundMessage::new(topic, vec![arg; usize::from(arg)], qos);
                message.retain = arg & 0x80 != 0;
                if version == ProtocolVersion::V5 && arg & 0x40 != 0 {
                    message.properties.message_expiry_interval = Some(u32::from(arg % 7));
                }
                let _ = session.publish(now, message);
            }
            3 => {
                rest = rest.get(1..).unwrap_or_default();
                let filter = TopicFilter::new(if arg & 1 == 0 { "f/#" } else { "f/+" }).unwrap();
                let _ = session.subscribe(
                    now,
                    vec![SubscribeFilter::new(filter, QoS::from_u8(arg % 3).unwrap())],
                    Default::default(),
                );
            }
            4 => {
                let filter = TopicFilter::new("f/#").unwrap();
                let _ = session.unsubscribe(now, vec![filter], Default::default());
            }
            5 if !tokens.is_empty() => {
                rest = rest.get(1..).unwrap_or_default();
                let token = tokens.remove(usize::from(arg) % tokens.len());
                if arg & 0x80 == 0 {
                    let _ = session.ack(now, token);
                } else {
                    // Refusals, with reasons PUBACK takes and two it does not.
                    const REASONS: [u8; 9] = [0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99, 0x00, 0x82];
                    let code = REASONS[usize::from(arg) % REASONS.len()];
                    let reason = mqtt_proto::ReasonCode::from_u8(code).unwrap();
                    let _ = session.reject(now, token, reason);
                }
            }
            6 => {
                session.handle_closed(now);
                wire.clear();
            }
            7 => {
                wire.clear();
                session.handle_connected(now);
            }
            8 => {
                let _ = session.disconnect(
                    now,
                    mqtt_proto::ReasonCode::NORMAL_DISCONNECTION,
                    Default::default(),
                );
            }
            _ => {}
        }
        // Outputs: every packet written must be valid for a client to send.
        out.clear();
        while session.poll_transmit(now, &mut out) > 0 {}
        let mut check = out.clone();
        loop {
            match client.decode(&mut check) {
                Ok(Decoded::Packet(_)) => {}
                Ok(Decoded::Incomplete { .. }) => {
                    assert!(check.is_empty(), "the session wrote a partial packet");
                    break;
                }
                Err(e) => panic!("the session wrote an invalid packet: {e}"),
            }
        }
        while let Some(event) = session.poll_event() {
            if let Event::Message(m) = event {
                if let Some(token) = m.ack_token {
                    tokens.push(token);
                }
            }
        }
        assert!(session.inflight() <= session.pending_publishes());
        assert!(session.queued() <= session.pending_publishes());
        let _ = session.poll_timeout();
        let snapshot = session.snapshot();
        let expected = written(by_snapshots.write(snapshot.clone()));
        by_snapshots.written();
        let write = written(by_notes.write_session(&mut session));
        by_notes.written();
        assert_eq!(write, expected, "the journals wrote different bytes");
        match write {
            Some((bytes, true)) => store = bytes,
            Some((bytes, false)) => store.extend_from_slice(&bytes),
            None => {}
        }
        assert_eq!(Journal::read(store.clone().into()).unwrap(), snapshot);
    }
}

/// The bytes of a journal write, and whether they replace what the store holds.
fn written(write: JournalWrite<'_>) -> Option<(Vec<u8>, bool)> {
    match write {
        JournalWrite::Replace(bytes) => Some((bytes.to_vec(), true)),
        JournalWrite::Append(bytes) => Some((bytes.to_vec(), false)),
        JournalWrite::Unchanged => None,
    }
}
