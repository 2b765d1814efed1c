//! The Topic Names of decoded PUBLISH packets and the Topic Filters of decoded SUBSCRIBE
//! packets are judged exactly as a byte-by-byte reading of the rules judges them, whatever
//! their length (the decoder scans them in blocks, with an ASCII fast path) and wherever a
//! character that breaks a rule stands: NUL, a wildcard, a non-ASCII character, malformed
//! UTF-8, or several of them at once (the first rule broken, in the order of the reference,
//! names the error).
#![allow(clippy::unwrap_used, clippy::panic)]

use bytes::BytesMut;
use mqtt_proto::*;

/// What a Topic Name received in a PUBLISH must be: UTF-8 [MQTT-1.5.4-1], without U+0000
/// [MQTT-1.5.4-2], without wildcards [MQTT-3.3.2-2], not empty [MQTT-4.7.3-1].
fn name_reference(name: &[u8]) -> Result<(), Error> {
    if std::str::from_utf8(name).is_err() {
        return Err(Error::InvalidUtf8);
    }
    if name.contains(&0) {
        return Err(Error::NullCharacter);
    }
    if name.iter().any(|&b| b == b'+' || b == b'#') {
        return Err(Error::WildcardInTopicName);
    }
    if name.is_empty() {
        return Err(Error::EmptyTopicName);
    }
    Ok(())
}

/// Names of 0 to 48 bytes of ASCII with levels, each with one of `specials` put at every
/// position, and with a second, different one at the start, the middle or the end.
fn names(specials: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    for len in 0..=48usize {
        let base: Vec<u8> = (0..len)
            .map(|i| {
                if i % 5 == 4 {
                    b'/'
                } else {
                    b'a' + (i % 26) as u8
                }
            })
            .collect();
        all.push(base.clone());
        for at in 0..len {
            for special in specials {
                if at + special.len() > len {
                    continue;
                }
                let mut name = base.clone();
                name[at..at + special.len()].copy_from_slice(special);
                all.push(name.clone());
                for (other, second) in [(0, specials[0]), (len / 2, specials[1]), (len - 1, b"#")] {
                    if other + second.len() <= len && (other >= at + special.len() || other < at) {
                        let mut two = name.clone();
                        two[other..other + second.len()].copy_from_slice(second);
                        all.push(two);
                    }
                }
            }
        }
    }
    all
}

const SPECIALS: &[&[u8]] = &[
    b"\0",
    b"+",
    b"#",
    b"\x80",
    b"\xC3",
    b"\xFF",
    "é".as_bytes(),
    "€".as_bytes(),
    "\u{2A6D4}".as_bytes(),
    b"\xED\xA0\x80",
    b"\x7F",
    b"*",
    b"$",
];

fn publish(version: ProtocolVersion, qos1: bool, name: &[u8]) -> Vec<u8> {
    let mut body = (name.len() as u16).to_be_bytes().to_vec();
    body.extend_from_slice(name);
    if qos1 {
        body.extend_from_slice(&[0x12, 0x34]);
    }
    if version == ProtocolVersion::V5 {
        body.push(0);
    }
    body.extend_from_slice(b"payload");
    let mut wire = vec![if qos1 { 0x32 } else { 0x30 }, body.len() as u8];
    wire.extend_from_slice(&body);
    wire
}

#[test]
fn publish_topic_names_are_judged_as_byte_by_byte() {
    let mut checked = 0;
    for name in names(SPECIALS) {
        let expected = name_reference(&name);
        for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
            for qos1 in [false, true] {
                let mut buf = BytesMut::from(&publish(version, qos1, &name)[..]);
                let got = Decoder::new(version, Role::Server).decode(&mut buf);
                match (&got, &expected) {
                    (Ok(Decoded::Packet(Packet::Publish(p))), Ok(())) => {
                        assert_eq!(p.topic.as_bytes().as_ref(), &name[..]);
                        assert_eq!(p.payload.as_ref(), b"payload");
                    }
                    (Err(e), Err(r)) => assert_eq!(e, r, "{version:?} {name:02x?}"),
                    _ => panic!("{version:?} {name:02x?}: {got:?}, expected {expected:?}"),
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 100_000, "{checked}");
}

/// What a Topic Filter received in a SUBSCRIBE or UNSUBSCRIBE must be: UTF-8 [MQTT-1.5.4-1],
/// without U+0000 [MQTT-1.5.4-2], not empty [MQTT-4.7.3-1], wildcards alone in their levels
/// and `#` last [MQTT-4.7.1-1], [MQTT-4.7.1-2], a shared subscription well formed
/// [MQTT-4.8.2-1], [MQTT-4.8.2-2]: for the rules after the first three, what
/// `TopicFilter::new` says of the string (its own level-by-level test is in topic.rs).
fn filter_reference(filter: &[u8]) -> Result<(), Error> {
    let Ok(s) = std::str::from_utf8(filter) else {
        return Err(Error::InvalidUtf8);
    };
    if filter.contains(&0) {
        return Err(Error::NullCharacter);
    }
    TopicFilter::new(s.to_owned()).map(|_| ())
}

fn subscribe(filter: &[u8]) -> Vec<u8> {
    let mut body = vec![0x00, 0x07];
    body.extend_from_slice(&(filter.len() as u16).to_be_bytes());
    body.extend_from_slice(filter);
    body.push(0x01);
    let mut wire = vec![0x82, body.len() as u8];
    wire.extend_from_slice(&body);
    wire
}

fn unsubscribe(filter: &[u8]) -> Vec<u8> {
    let mut body = vec![0x00, 0x07];
    body.extend_from_slice(&(filter.len() as u16).to_be_bytes());
    body.extend_from_slice(filter);
    let mut wire = vec![0xA2, body.len() as u8];
    wire.extend_from_slice(&body);
    wire
}

#[test]
fn subscribe_and_unsubscribe_filters_are_judged_as_byte_by_byte() {
    let mut filters = names(SPECIALS);
    for shared in [
        &b"$share/g/a/+/b"[..],
        b"$share/g+/a",
        b"$share//a",
        b"$share/g",
        b"$share/g/",
        b"$share/g/#",
        b"$share/group-with-a-long-name/sensors/+/temp/#",
        b"$shared/g/a",
        b"sensors/+/temp/#",
        b"sensors/+/temp/#/x",
        b"sensors/+x/temp",
        b"sensors/x+/temp/abcdefgh",
        b"abcdefgh/#",
        b"abcdefg#",
        b"#abcdefgh",
    ] {
        filters.push(shared.to_vec());
    }
    let mut checked = 0;
    for filter in filters {
        let expected = filter_reference(&filter);
        let decoder = Decoder::new(ProtocolVersion::V311, Role::Client);
        let mut buf = BytesMut::from(&subscribe(&filter)[..]);
        match (decoder.decode(&mut buf), &expected) {
            (Ok(Decoded::Packet(Packet::Subscribe(p))), Ok(())) => {
                assert_eq!(p.filters[0].filter.as_bytes(), &filter[..]);
            }
            (Err(e), Err(r)) => assert_eq!(&e, r, "{filter:02x?}"),
            (got, _) => panic!("{filter:02x?}: {got:?}, expected {expected:?}"),
        }
        let mut buf = BytesMut::from(&unsubscribe(&filter)[..]);
        match (decoder.decode(&mut buf), &expected) {
            (Ok(Decoded::Packet(Packet::Unsubscribe(p))), Ok(())) => {
                assert_eq!(p.filters[0].as_bytes(), &filter[..]);
            }
            (Err(e), Err(r)) => assert_eq!(&e, r, "{filter:02x?}"),
            (got, _) => panic!("{filter:02x?}: {got:?}, expected {expected:?}"),
        }
        checked += 1;
    }
    assert!(checked > 10_000, "{checked}");
}
