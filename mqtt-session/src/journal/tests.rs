#![allow(clippy::unwrap_used)]
use super::*;
use crate::Stage;
use alloc::vec;
use alloc::vec::Vec;
use mqtt_proto::{MqttString, PacketId, ProtocolVersion, Publish, QosPid, TopicName};

fn snapshot() -> Snapshot {
    Snapshot {
        protocol_version: ProtocolVersion::V5,
        client_id: MqttString::new("journal").unwrap(),
        next_packet_id: 1,
        last_publish_id: 0,
        outgoing: Vec::new(),
        inbound_qos2: Vec::new(),
        subscriptions: Vec::new(),
    }
}

fn publish(id: u64, stage: Stage, payload: usize) -> PersistedPublish {
    PersistedPublish {
        id,
        stage,
        publish: Publish::new(
            TopicName::new("j/t").unwrap(),
            vec![id as u8; payload],
            QosPid::AtLeastOnce(PacketId::new(id as u16).unwrap()),
        ),
    }
}

/// Writes `snapshot` as a store would, returning what the store holds after.
fn write(journal: &mut Journal, store: &mut Vec<u8>, snapshot: &Snapshot) -> &'static str {
    let kind = match journal.write(snapshot.clone()) {
        JournalWrite::Replace(bytes) => {
            *store = bytes.to_vec();
            "replace"
        }
        JournalWrite::Append(bytes) => {
            store.extend_from_slice(bytes);
            "append"
        }
        JournalWrite::Unchanged => "unchanged",
    };
    journal.written();
    kind
}

/// The first write replaces, later ones append what changed (a publish added, moved on,
/// removed; the counters; QoS 2 ids), and the journal reads back as the last snapshot
/// after each.
#[test]
fn changes_are_appended_and_read_back() {
    let mut journal = Journal::new();
    let mut store = Vec::new();
    let mut s = snapshot();
    assert_eq!(write(&mut journal, &mut store, &s), "replace");
    assert_eq!(write(&mut journal, &mut store, &s), "unchanged");
    let mut states = vec![];
    s.outgoing = vec![publish(1, Stage::Queued, 10), publish(2, Stage::Queued, 10)];
    s.last_publish_id = 2;
    states.push(s.clone());
    s.outgoing[0].stage = Stage::Sent;
    s.outgoing[0].publish.dup = true;
    s.inbound_qos2 = vec![PacketId::new(7).unwrap()];
    states.push(s.clone());
    s.outgoing.remove(0);
    s.outgoing.push(publish(5, Stage::Queued, 3));
    s.next_packet_id = 9;
    s.client_id = MqttString::new("assigned").unwrap();
    states.push(s.clone());
    s.outgoing.clear();
    s.inbound_qos2.clear();
    states.push(s.clone());
    for state in &states {
        let before = store.len();
        assert_eq!(write(&mut journal, &mut store, state), "append");
        assert!(store.len() > before);
        assert_eq!(Journal::read(store.clone().into()).unwrap(), *state);
    }
}

/// A last record cut anywhere, or followed by zeroes, is ignored; a damaged record with
/// another after it is corruption.
#[test]
fn a_record_cut_short_by_a_crash_is_ignored() {
    let mut journal = Journal::new();
    let mut store = Vec::new();
    let mut s = snapshot();
    write(&mut journal, &mut store, &s);
    let first = s.clone();
    let snapshot_end = store.len();
    s.outgoing.push(publish(1, Stage::Queued, 40));
    write(&mut journal, &mut store, &s);
    let second = s.clone();
    let second_end = store.len();
    s.outgoing[0].stage = Stage::Sent;
    write(&mut journal, &mut store, &s);
    for cut in second_end..store.len() {
        let read = Journal::read(store[..cut].to_vec().into()).unwrap();
        assert_eq!(read, second, "cut at {cut}");
    }
    for cut in snapshot_end..second_end {
        assert_eq!(Journal::read(store[..cut].to_vec().into()).unwrap(), first);
    }
    // The file's length grew to the record's end but only part of its data was written;
    // or none of it, with zeroes past it.
    let mut zeroed = store[..second_end + 20].to_vec();
    zeroed.resize(store.len(), 0);
    assert_eq!(Journal::read(zeroed.into()).unwrap(), second);
    let mut zeroed = store[..second_end].to_vec();
    zeroed.resize(store.len() + 100, 0);
    assert_eq!(Journal::read(zeroed.into()).unwrap(), second);
    assert_eq!(Journal::read(store.clone().into()).unwrap(), s);

    let mut damaged = store.clone();
    damaged[second_end - 3] ^= 0x40;
    assert_eq!(
        Journal::read(damaged.into()),
        Err(SnapshotError::Corrupt("journal record checksum"))
    );
    assert_eq!(
        Journal::read(b"MQJ1".to_vec().into()),
        Err(SnapshotError::Corrupt("journal without a snapshot"))
    );
    assert_eq!(
        Journal::read(b"nothing".to_vec().into()),
        Err(SnapshotError::BadHeader)
    );
}

/// A plain snapshot (what stores held before journals) reads as itself.
#[test]
fn a_plain_snapshot_reads_as_itself() {
    let mut s = snapshot();
    s.outgoing.push(publish(3, Stage::Released, 5));
    let mut buf = BytesMut::new();
    s.encode(&mut buf);
    assert_eq!(Journal::read(buf.freeze()).unwrap(), s);
}

/// Once the appended changes add up to the snapshot's size (at least
/// `COMPACT_AT_LEAST`), the next write replaces; a failed write makes the next one
/// replace; what is written stays proportional to what changed.
#[test]
fn the_journal_is_written_whole_again_once_changes_add_up() {
    let mut journal = Journal::new();
    let mut store = Vec::new();
    let mut s = snapshot();
    // A backlog of 1,200 publishes of 1 KiB (more than `COMPACT_AT_LEAST`), completed one
    // at a time.
    s.outgoing = (1..=1200)
        .map(|id| publish(id, Stage::Queued, 1024))
        .collect();
    write(&mut journal, &mut store, &s);
    let backlog = store.len();
    let mut written = 0;
    let mut replaced = 0;
    while !s.outgoing.is_empty() {
        s.outgoing.remove(0);
        if let Some(p) = s.outgoing.first_mut() {
            p.stage = Stage::Sent;
        }
        let before = store.len();
        match write(&mut journal, &mut store, &s) {
            "replace" => {
                replaced += 1;
                written += store.len();
            }
            _ => written += store.len() - before,
        }
        assert!(store.len() <= 2 * backlog + Journal::COMPACT_AT_LEAST);
    }
    assert_eq!(Journal::read(store.clone().into()).unwrap(), s);
    // Each turn appends one publish and one removal (about 1 KiB): 1.2 MB, and the journal
    // written whole a few times; a snapshot per turn would have written 720 MB.
    assert!(replaced >= 1, "never compacted");
    assert!(
        written < 4 * backlog,
        "{written} bytes written for a {backlog}-byte backlog"
    );

    s.outgoing.push(publish(500, Stage::Queued, 1));
    assert!(matches!(journal.write(s.clone()), JournalWrite::Append(_)));
    journal.failed();
    assert!(matches!(journal.write(s.clone()), JournalWrite::Replace(_)));
}

/// Whatever a damaged store holds, reading it is an error or a state, never a panic. (No
/// allocation is sized by a length it holds before that length is checked against the
/// bytes there: see `take_inbound_qos2` and the capacities in `persist.rs`.)
#[test]
fn damaged_journals_never_panic() {
    use proptest::prelude::*;
    let mut journal = Journal::new();
    let mut store = Vec::new();
    let mut s = snapshot();
    write(&mut journal, &mut store, &s);
    s.outgoing = vec![publish(1, Stage::Queued, 30), publish(2, Stage::Sent, 3)];
    s.inbound_qos2 = vec![PacketId::new(4).unwrap()];
    write(&mut journal, &mut store, &s);
    s.outgoing.remove(0);
    write(&mut journal, &mut store, &s);
    let valid = store;
    let len = valid.len();
    proptest!(ProptestConfig::with_cases(2000), |(
        flips in prop::collection::vec((0..len, any::<u8>()), 1..6),
        cut in 0..=len,
        tail in prop::collection::vec(any::<u8>(), 0..64),
    )| {
        let mut bytes = valid.clone();
        for (at, x) in flips {
            bytes[at] ^= x;
        }
        bytes.truncate(cut);
        bytes.extend_from_slice(&tail);
        let _ = Journal::read(bytes.into());
        let mut raw = b"MQJ1".to_vec();
        raw.extend_from_slice(&tail);
        let _ = Journal::read(raw.into());
        // Damaged bodies with good checksums reach the parsers of snapshots and changes.
        let mut first = BytesMut::new();
        first.put_slice(MAGIC);
        put_record(&mut first, SNAPSHOT, |b| b.put_slice(&tail));
        let _ = Journal::read(first.freeze());
        let mut next = BytesMut::from(&valid[..]);
        put_record(&mut next, CHANGES, |b| b.put_slice(&tail));
        let _ = Journal::read(next.freeze());
    });
}
