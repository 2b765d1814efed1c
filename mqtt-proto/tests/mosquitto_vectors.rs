//! Real-world vectors: the bytes mosquitto 2.0.11 (broker, `mosquitto_pub`, `mosquitto_sub`)
//! wrote in v3.1.1 and v5, recorded once through `tests/data/mosquitto/record.py`. Every stream
//! decodes to the packet sequence the manifest lists, and every packet re-encodes to exactly the
//! bytes it was decoded from.
#![allow(clippy::unwrap_used, clippy::panic)]

use bytes::BytesMut;
use mqtt_proto::{Decoded, Decoder, Packet, ProtocolVersion, QoS, Role};
use std::path::PathBuf;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/mosquitto")
}

/// One row of MANIFEST.tsv.
struct Recording {
    name: String,
    version: ProtocolVersion,
    observed_client: String,
    observed_server: String,
}

fn manifest() -> Vec<Recording> {
    let text = std::fs::read_to_string(data_dir().join("MANIFEST.tsv")).unwrap();
    let mut rows = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.starts_with("name\t") || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 6, "bad manifest row: {line}");
        rows.push(Recording {
            name: cols[0].to_string(),
            version: match cols[1] {
                "v311" => ProtocolVersion::V311,
                "v5" => ProtocolVersion::V5,
                other => panic!("unknown version {other}"),
            },
            observed_client: cols[4].to_string(),
            observed_server: cols[5].to_string(),
        });
    }
    rows
}

/// Streams not written by mosquitto: the client side of `v5-sub-options-raw` came from a
/// hand-written Python client (mosquitto_sub 2.0.11 lacks `--nl` and `--retain-handling`) whose
/// DISCONNECT spells out a Success reason code that the shortest encoding leaves out. Its packets
/// must still decode and re-encode to packets that decode equal.
const NOT_MOSQUITTO: &[&str] = &["v5-sub-options-raw.client"];

/// Decodes a whole stream, checking that each packet re-encodes to its own bytes.
fn decode_stream(bytes: &[u8], version: ProtocolVersion, from: Role, what: &str) -> Vec<Packet> {
    let decoder = Decoder::new(version, from);
    let mut buf = BytesMut::from(bytes);
    let mut packets = Vec::new();
    let mut offset = 0;
    while !buf.is_empty() {
        let before = buf.len();
        let packet = match decoder.decode(&mut buf) {
            Ok(Decoded::Packet(p)) => p,
            Ok(Decoded::Incomplete { needed }) => {
                panic!("{what}: stream ends inside a packet at {offset} ({needed} more needed)")
            }
            Err(e) => panic!("{what}: error at byte {offset}: {e} ({})", e.reason_code()),
        };
        let consumed = before - buf.len();
        let original = &bytes[offset..offset + consumed];
        let mut again = Vec::new();
        let written = packet.encode(version, &mut again).unwrap();
        assert_eq!(written, again.len());
        assert_eq!(packet.encoded_len(version).unwrap(), written);
        if NOT_MOSQUITTO.contains(&what) {
            let mut again = BytesMut::from(&again[..]);
            assert_eq!(
                decoder.decode(&mut again),
                Ok(Decoded::Packet(packet.clone()))
            );
        } else {
            assert_eq!(
                again,
                original,
                "{what}: packet {} at byte {offset} re-encodes differently: {packet:?}",
                packets.len()
            );
        }
        offset += consumed;
        packets.push(packet);
    }
    packets
}

/// The manifest's notation of one packet: `PUBLISH(q1,r)`, `CONNACK(sp=0,rc=5)`, `SUBACK(rc=1,1)`.
fn describe(packet: &Packet, version: ProtocolVersion) -> String {
    match packet {
        Packet::Connect(_) => format!(
            "CONNECT({})",
            match version {
                ProtocolVersion::V311 => "v311",
                ProtocolVersion::V5 => "v5",
            }
        ),
        Packet::Publish(p) => {
            let mut s = format!("PUBLISH(q{}", p.qos() as u8);
            if p.retain {
                s.push_str(",r");
            }
            if p.dup {
                s.push_str(",d");
            }
            if !p.properties.is_empty() {
                s.push_str(",props");
            }
            s.push(')');
            s
        }
        other => other.packet_type().name().to_string(),
    }
}

/// The packet type names of a manifest column, with only the parts this test checks exactly:
/// the type name, and for PUBLISH the QoS.
fn names(column: &str) -> Vec<String> {
    column
        .split_whitespace()
        .flat_map(|token| {
            // "PUBACK×3" stands for three PUBACKs.
            let (token, count) = match token.split_once('×') {
                Some((t, n)) => (t, n.parse::<usize>().unwrap()),
                None => (token, 1),
            };
            let name = token.split('(').next().unwrap().to_string();
            let name = if name == "PUBLISH" {
                let qos = token.split("(q").nth(1).unwrap().chars().next().unwrap();
                format!("PUBLISH{qos}")
            } else {
                name
            };
            std::iter::repeat_n(name, count)
        })
        .collect()
}

fn short_name(packet: &Packet) -> String {
    match packet {
        Packet::Publish(p) => format!("PUBLISH{}", p.qos() as u8),
        other => other.packet_type().name().to_string(),
    }
}

#[test]
fn every_recording_decodes_and_reencodes_byte_for_byte() {
    let rows = manifest();
    assert!(rows.len() >= 40, "only {} recordings listed", rows.len());
    let mut packets_seen = 0;
    for row in &rows {
        for (from, observed) in [
            (Role::Client, &row.observed_client),
            (Role::Server, &row.observed_server),
        ] {
            let suffix = match from {
                Role::Client => "client",
                Role::Server => "server",
            };
            let path = data_dir().join(format!("{}.{suffix}.bin", row.name));
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            let what = format!("{}.{suffix}", row.name);
            let packets = decode_stream(&bytes, row.version, from, &what);
            let got: Vec<String> = packets.iter().map(short_name).collect();
            assert_eq!(
                got,
                names(observed),
                "{what}: {:?}",
                packets
                    .iter()
                    .map(|p| describe(p, row.version))
                    .collect::<Vec<_>>()
            );
            packets_seen += packets.len();
        }
    }
    assert!(packets_seen > 150, "only {packets_seen} packets");
}

fn load(name: &str, from: Role) -> Vec<Packet> {
    let suffix = match from {
        Role::Client => "client",
        Role::Server => "server",
    };
    let version = if name.starts_with("v5") {
        ProtocolVersion::V5
    } else {
        ProtocolVersion::V311
    };
    let bytes = std::fs::read(data_dir().join(format!("{name}.{suffix}.bin"))).unwrap();
    decode_stream(&bytes, version, from, name)
}

#[test]
fn v5_publish_properties_written_by_mosquitto_pub() {
    let packets = load("v5-pub-props", Role::Client);
    let Packet::Publish(p) = &packets[1] else {
        panic!("expected PUBLISH, got {:?}", packets[1]);
    };
    let props = &p.properties;
    assert_eq!(p.qos(), QoS::AtLeastOnce);
    assert_eq!(props.user_properties().len(), 2);
    // The borrowed pairs are the same entries, in the same order, as the owned list.
    let owned: Vec<(String, String)> = props
        .user_properties()
        .iter()
        .map(|p| (p.key.as_str().to_owned(), p.value.as_str().to_owned()))
        .collect();
    let borrowed: Vec<(String, String)> = props
        .user_property_pairs()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(borrowed, owned);
    assert!(props.message_expiry_interval.is_some());
    assert!(props.content_type().is_some());
    assert!(props.response_topic().is_some());
    assert!(props.correlation_data().is_some());
    assert!(props.payload_format_indicator.is_some());
}

#[test]
fn v5_subscription_identifiers_from_the_broker() {
    let packets = load("v5-sub-props", Role::Server);
    let publish = packets
        .iter()
        .find_map(|p| match p {
            Packet::Publish(p) => Some(p),
            _ => None,
        })
        .unwrap();
    let ids: Vec<u32> = publish
        .properties
        .subscription_identifiers()
        .iter()
        .map(|id| id.get())
        .collect();
    assert_eq!(ids, [7]);
}

#[test]
fn v5_broker_disconnect_topic_alias_invalid() {
    let packets = load("v5-disconnect-topic-alias", Role::Server);
    let Some(Packet::Disconnect(d)) = packets.last() else {
        panic!("expected DISCONNECT last: {packets:?}");
    };
    assert_eq!(d.reason_code, mqtt_proto::ReasonCode::TopicAliasInvalid);
}

#[test]
fn refused_logins_map_onto_reason_codes() {
    let v3 = load("v311-auth-bad", Role::Server);
    let v5 = load("v5-auth-bad", Role::Server);
    for (packets, expected) in [
        (v3, mqtt_proto::ReasonCode::NotAuthorized),
        (v5, mqtt_proto::ReasonCode::NotAuthorized),
    ] {
        let Packet::ConnAck(ack) = &packets[0] else {
            panic!("expected CONNACK: {packets:?}");
        };
        assert_eq!(ack.reason_code, expected);
        assert!(!ack.session_present);
    }
}
