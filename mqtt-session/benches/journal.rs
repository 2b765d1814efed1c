//! What a store writes while a session drains a backlog: the whole snapshot on every turn that
//! changed it (what the drivers wrote before the journal) against the [`Journal`] (changes
//! appended, the whole journal written again once they add up), fed snapshots
//! ([`Journal::write`], what the drivers did until session 14) or the session's own notes of
//! what changed ([`Journal::write_session`]).
//!
//! A session takes `BACKLOG` QoS 1 publishes of 1 KiB while disconnected, then connects to a
//! server with a Receive Maximum of 20 and acknowledges everything it sends, turn after turn,
//! until nothing is pending. After each turn every way of saving encodes what it would write;
//! the bench prints bytes written and the time spent finding and encoding them (no file system
//! involved: with one, each written byte also costs the disk).
//!
//! Run: `cargo bench -p mqtt-session --bench journal` (`JOURNAL_BACKLOG=20000` for another
//! backlog than 2,000).
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use bytes::{Bytes, BytesMut};
use mqtt_proto::*;
use mqtt_session::{Config, Journal, JournalWrite, OutboundMessage, Session};
use std::time::{Duration, Instant};

const BACKLOG: usize = 2_000;
const RECEIVE_MAXIMUM: u16 = 20;

#[derive(Default)]
struct Saved {
    bytes: usize,
    writes: usize,
    replaced: usize,
    time: Duration,
}

impl Saved {
    fn count(&mut self, write: JournalWrite<'_>) {
        let (len, replaced) = match write {
            JournalWrite::Unchanged => return,
            JournalWrite::Replace(bytes) => (bytes.len(), true),
            JournalWrite::Append(bytes) => (bytes.len(), false),
        };
        self.bytes += len;
        self.writes += 1;
        self.replaced += usize::from(replaced);
    }
}

fn main() {
    // `cargo bench` runs every bench target with `--bench`; this one takes no other argument.
    let now = Instant::now();
    let backlog: usize = std::env::var("JOURNAL_BACKLOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(BACKLOG);
    let mut config = Config::new(ProtocolVersion::V5, MqttString::new("journal").unwrap());
    config.max_queued = backlog;
    let mut session = Session::new(config).unwrap();
    let payload = Bytes::from(vec![0x5A; 1024]);
    for _ in 0..backlog {
        let message = OutboundMessage::new(
            TopicName::new("sensors/building-1/temp").unwrap(),
            payload.clone(),
            QoS::AtLeastOnce,
        );
        session.publish(now, message).unwrap();
    }

    let (mut whole, mut journaled, mut noted) =
        (Saved::default(), Saved::default(), Saved::default());
    let mut journal = Journal::new();
    let mut from_notes = Journal::new();
    let mut buf = BytesMut::new();
    let mut save = |session: &mut Session<Instant>| {
        let start = Instant::now();
        buf.clear();
        session.snapshot().encode(&mut buf);
        whole.time += start.elapsed();
        whole.bytes += buf.len();
        whole.writes += 1;
        whole.replaced += 1;

        let start = Instant::now();
        let write = journal.write(session.snapshot());
        journaled.count(write);
        journal.written();
        journaled.time += start.elapsed();

        let start = Instant::now();
        let write = from_notes.write_session(session);
        noted.count(write);
        from_notes.written();
        noted.time += start.elapsed();
    };
    save(&mut session);

    session.handle_connected(now);
    let mut out = BytesMut::new();
    while session.poll_transmit(now, &mut out) > 0 {}
    let mut input = BytesMut::new();
    let connack = ConnAck {
        properties: ConnAckProperties {
            receive_maximum: core::num::NonZeroU16::new(RECEIVE_MAXIMUM),
            ..ConnAckProperties::default()
        },
        ..ConnAck::default()
    };
    connack.encode(ProtocolVersion::V5, &mut input).unwrap();
    session.handle_read(now, &mut input);
    let decoder = Decoder::new(ProtocolVersion::V5, Role::Client);
    let mut turns = 0;
    while session.pending_publishes() > 0 {
        out.clear();
        while session.poll_transmit(now, &mut out) > 0 {}
        save(&mut session);
        turns += 1;
        // The server acknowledges everything the turn sent.
        while let Ok(Decoded::Packet(packet)) = decoder.decode(&mut out) {
            if let Packet::Publish(p) = packet {
                let id = p.qos_pid.packet_id().unwrap();
                Packet::PubAck(PubResponse::new(id))
                    .encode(ProtocolVersion::V5, &mut input)
                    .unwrap();
            }
        }
        session.handle_read(now, &mut input);
        while session.poll_event().is_some() {}
        assert!(turns <= backlog + 1, "the backlog does not drain");
    }
    save(&mut session);

    println!(
        "draining {backlog} QoS 1 publishes of 1 KiB, Receive Maximum {RECEIVE_MAXIMUM}: {turns} turns"
    );
    println!(
        "{:<26} {:>12} {:>8} {:>10} {:>12}",
        "saved as", "bytes", "writes", "replaced", "encode ms"
    );
    for (name, s) in [
        ("whole snapshot per turn", &whole),
        ("journal of snapshots", &journaled),
        ("journal of the notes", &noted),
    ] {
        println!(
            "{:<26} {:>12} {:>8} {:>10} {:>12.1}",
            name,
            s.bytes,
            s.writes,
            s.replaced,
            s.time.as_secs_f64() * 1e3
        );
    }
    println!(
        "journal / whole: bytes {:.4}, encode time {:.3}; notes / snapshots: bytes {:.4}, time {:.3}",
        journaled.bytes as f64 / whole.bytes as f64,
        journaled.time.as_secs_f64() / whole.time.as_secs_f64(),
        noted.bytes as f64 / journaled.bytes as f64,
        noted.time.as_secs_f64() / journaled.time.as_secs_f64()
    );
}
