//! Model-based property test: random interleavings of publishes, subscribes, broker replies
//! (duplicated and out of order), connection drops, reconnects with and without the session,
//! and jumps of the clock, against a model of what a broker may observe. Invariants:
//!
//! * no Packet Identifier in use twice on the wire;
//! * no QoS 1/2 publish lost while the session lives: each one completes, fails with a
//!   reason the broker gave, or is still pending; or it fails as never acknowledged
//!   (`Config::poison_limit`), and then only after the broker saw it on that many
//!   connections without acknowledging it;
//! * inbound QoS 2 messages delivered exactly once;
//! * never more QoS 1/2 publishes in flight than the server's Receive Maximum;
//! * never silent for longer than the keep-alive while connected;
//! * the session's journal, written after every step, reads back as its snapshot;
//! * no panic.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use mqtt_proto::*;
use mqtt_session::testing::{Pair, VirtualInstant};
use mqtt_session::{
    Config, Event, Journal, JournalWrite, OutboundMessage, PublishFailure, PublishId, Snapshot,
    Stage,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Publish(u8),
    Subscribe,
    /// Ack the n-th (mod len) outstanding client publish, the way its stage needs.
    Ack {
        index: usize,
        duplicate: bool,
        error: bool,
    },
    /// The broker sends a new message at this QoS.
    Deliver(u8),
    /// The broker resends (DUP) the n-th of its unreleased QoS 2 messages.
    Redeliver(usize),
    /// The broker releases the n-th of its QoS 2 messages that the client has PUBREC'd.
    Release(usize),
    Drop,
    /// A new connection; v5 servers announce this Receive Maximum (it may shrink or grow).
    Reconnect {
        session_present: bool,
        receive_maximum: u16,
    },
    Advance(u64),
    /// The next write of the session's journal fails.
    StoreFails,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..3).prop_map(Op::Publish),
        1 => Just(Op::Subscribe),
        5 => (0usize..8, any::<bool>(), prop::bool::weighted(0.1))
            .prop_map(|(index, duplicate, error)| Op::Ack { index, duplicate, error }),
        3 => (0u8..3).prop_map(Op::Deliver),
        1 => (0usize..4).prop_map(Op::Redeliver),
        2 => (0usize..4).prop_map(Op::Release),
        1 => Just(Op::Drop),
        1 => (any::<bool>(), 1u16..12).prop_map(|(session_present, receive_maximum)| Op::Reconnect { session_present, receive_maximum }),
        2 => (1u64..200).prop_map(Op::Advance),
        1 => Just(Op::StoreFails),
    ]
}

/// A client publish as the broker saw it.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    /// QoS 1 or 2 PUBLISH received, not acknowledged.
    Published(QoS),
    /// QoS 2 PUBREC sent, PUBREL received (or awaited).
    Recorded,
}

/// What a broker knows, and the checks of what it observes.
struct Model {
    version: ProtocolVersion,
    receive_maximum: u16,
    keep_alive: Duration,
    connected: bool,
    /// Client publishes by Packet Identifier, in the broker's session.
    client_publishes: BTreeMap<u16, Seen>,
    /// Client publishes sent on the current connection and not yet acknowledged.
    sent_here: BTreeSet<u16>,
    /// Identifiers of SUBSCRIBE / UNSUBSCRIBE awaiting an answer.
    requests: BTreeSet<u16>,
    /// The broker's own QoS 2 messages: id → (message number, client has PUBREC'd).
    broker_qos2: BTreeMap<u16, (u64, bool)>,
    next_broker_id: u16,
    next_message: u64,
    /// Deliveries of each broker message number.
    delivered: BTreeMap<u64, u32>,
    /// QoS 2 messages the client acknowledged (PUBREC), which it must have delivered.
    recorded: BTreeSet<u64>,
    tickets: BTreeMap<PublishId, QoS>,
    completed: BTreeSet<PublishId>,
    failed: BTreeSet<PublishId>,
    /// Rejections the broker sent, by identifier.
    rejected: u32,
    /// Publishes that failed with a reason the broker gave.
    failed_rejected: u32,
    /// The session's `poison_limit`.
    poison_limit: u16,
    /// Client publishes by Packet Identifier: connections the broker saw them on since it
    /// last acknowledged them.
    unanswered: BTreeMap<u16, u16>,
    last_write: Option<VirtualInstant>,
    journal: Journal,
    /// What a store holding the journal holds.
    store: Vec<u8>,
    /// The same, written with `Journal::write_session`, whose writes may fail.
    session_journal: Journal,
    session_store: Vec<u8>,
    fail_next_save: bool,
    a_save_failed: bool,
}

impl Model {
    /// Checks every packet the client wrote and plays the broker's part.
    fn observe(&mut self, pair: &mut Pair, packets: Vec<Packet>) {
        if !packets.is_empty() {
            self.check_keep_alive(pair.now);
            self.last_write = Some(pair.now);
        }
        for packet in packets {
            match packet {
                Packet::Publish(p) => {
                    let Some(id) = p.packet_id() else { continue };
                    let id = id.get();
                    assert!(
                        !self.requests.contains(&id),
                        "publish id {id} used by a request"
                    );
                    match self.client_publishes.get(&id) {
                        None => {}
                        Some(Seen::Published(q)) if p.dup && *q == p.qos() => {}
                        Some(other) => panic!("id {id} reused while {other:?} (dup {})", p.dup),
                    }
                    self.client_publishes.insert(id, Seen::Published(p.qos()));
                    // Flow control counts the PUBLISH packets sent on this connection that are
                    // not yet acknowledged (v5 section 4.9: the quota starts afresh on each
                    // connection).
                    if self.sent_here.insert(id) {
                        *self.unanswered.entry(id).or_default() += 1;
                    }
                    let in_flight = self.sent_here.len();
                    assert!(
                        in_flight <= usize::from(self.receive_maximum),
                        "{in_flight} in flight > receive maximum {}",
                        self.receive_maximum
                    );
                }
                Packet::PubRel(r) => {
                    let id = r.packet_id.get();
                    // A PUBREL answers a PUBREC: for a known id it continues the flow, for an
                    // unknown one it says so (0x92) so the broker can finish.
                    let known = matches!(self.client_publishes.get(&id), Some(Seen::Recorded));
                    let answers_unknown =
                        !matches!(self.client_publishes.get(&id), Some(Seen::Published(_)))
                            && (r.reason_code == ReasonCode::PacketIdentifierNotFound
                                || self.version == ProtocolVersion::V311);
                    assert!(known || answers_unknown, "PUBREL {id} without PUBREC");
                }
                Packet::Subscribe(s) => {
                    let id = s.packet_id.get();
                    assert!(
                        !self.client_publishes.contains_key(&id),
                        "request id {id} in use"
                    );
                    self.requests.insert(id);
                    let codes = vec![ReasonCode::GrantedQoS1; s.filters.len()];
                    let ack = SubAck {
                        packet_id: s.packet_id,
                        reason_codes: codes,
                        properties: Default::default(),
                    };
                    self.requests.remove(&id);
                    let more = pair.send(ack);
                    self.observe(pair, more);
                }
                Packet::PubRec(r) => {
                    let id = r.packet_id.get();
                    if let Some((message, acked)) = self.broker_qos2.get_mut(&id) {
                        *acked = true;
                        self.recorded.insert(*message);
                    }
                }
                Packet::PubComp(c) => {
                    self.broker_qos2.remove(&c.packet_id.get());
                }
                Packet::Disconnect(_) => {}
                _ => {}
            }
        }
        self.collect_events(pair);
    }

    fn check_keep_alive(&self, now: VirtualInstant) {
        if let (true, Some(last)) = (self.connected, self.last_write) {
            let gap = now.0.saturating_sub(last.0);
            assert!(
                gap <= self.keep_alive,
                "silent for {gap:?} > keep-alive {:?}",
                self.keep_alive
            );
        }
    }

    fn collect_events(&mut self, pair: &mut Pair) {
        for event in pair.events() {
            match event {
                Event::Message(m) => {
                    let n: u64 = std::str::from_utf8(&m.publish.payload)
                        .unwrap()
                        .parse()
                        .unwrap();
                    let count = self.delivered.entry(n).or_default();
                    *count += 1;
                    if m.publish.qos() == QoS::ExactlyOnce {
                        assert_eq!(*count, 1, "QoS 2 message {n} delivered twice");
                    }
                }
                Event::PublishCompleted { id, packet_id, .. } if self.tickets.contains_key(&id) => {
                    assert!(self.completed.insert(id), "{id:?} completed twice");
                    if let Some(p) = packet_id {
                        self.unanswered.remove(&p.get());
                    }
                }
                Event::PublishFailed {
                    id,
                    packet_id,
                    reason,
                } => {
                    let p = packet_id.map(|p| p.get()).unwrap_or_default();
                    match reason {
                        PublishFailure::Rejected(..) => self.failed_rejected += 1,
                        PublishFailure::NeverAcknowledged { connections } => {
                            assert_eq!(connections, self.poison_limit);
                            let seen = self.unanswered.get(&p).copied().unwrap_or_default();
                            assert!(
                                seen >= self.poison_limit,
                                "publish {p} given up after {seen} connections"
                            );
                        }
                        other => panic!("{other:?}"),
                    }
                    self.unanswered.remove(&p);
                    assert!(self.failed.insert(id));
                }
                Event::Disconnected(_) => {
                    self.connected = false;
                }
                Event::Connected(_) => self.connected = true,
                _ => {}
            }
        }
    }

    fn step(&mut self, pair: &mut Pair, op: Op) {
        let up = pair.open && pair.session.is_connected();
        match op {
            Op::Publish(q) => {
                let qos = QoS::from_u8(q).unwrap();
                let message = OutboundMessage::new(TopicName::new("m/t").unwrap(), "p", qos);
                let (result, packets) = pair.command(|s, now| s.publish(now, message));
                if let Ok(ticket) = result {
                    assert!(
                        self.tickets.insert(ticket.id, qos).is_none(),
                        "PublishId reused"
                    );
                }
                self.observe(pair, packets);
            }
            Op::Subscribe => {
                let filter =
                    SubscribeFilter::new(TopicFilter::new("m/#").unwrap(), QoS::ExactlyOnce);
                let (_, packets) =
                    pair.command(|s, now| s.subscribe(now, vec![filter], Default::default()));
                self.observe(pair, packets);
            }
            Op::Ack {
                index,
                duplicate,
                error,
            } if up && !self.client_publishes.is_empty() => {
                let (&id, seen) = self
                    .client_publishes
                    .iter()
                    .nth(index % self.client_publishes.len())
                    .unwrap();
                let seen = seen.clone();
                let pid = PacketId::new(id).unwrap();
                let times = if duplicate { 2 } else { 1 };
                for _ in 0..times {
                    let (kind, reason) = match seen {
                        Seen::Published(QoS::AtLeastOnce) => {
                            (PacketType::PubAck, ReasonCode::Success)
                        }
                        Seen::Published(_) => (PacketType::PubRec, ReasonCode::Success),
                        Seen::Recorded => (PacketType::PubComp, ReasonCode::Success),
                    };
                    let reason = if error
                        && self.version == ProtocolVersion::V5
                        && kind != PacketType::PubComp
                    {
                        self.rejected += 1;
                        ReasonCode::QuotaExceeded
                    } else {
                        reason
                    };
                    self.unanswered.remove(&id);
                    match (kind, reason.is_error()) {
                        (PacketType::PubRec, false) => {
                            self.client_publishes.insert(id, Seen::Recorded);
                        }
                        _ => {
                            self.client_publishes.remove(&id);
                            self.sent_here.remove(&id);
                        }
                    }
                    let packets = pair.send_ack(kind, PubResponse::with_reason(pid, reason));
                    self.observe(pair, packets);
                }
            }
            Op::Deliver(q) if up => {
                self.next_message += 1;
                let payload = self.next_message.to_string();
                let qos = QoS::from_u8(q).unwrap();
                let qos_pid = if qos == QoS::AtMostOnce {
                    QosPid::AtMostOnce
                } else {
                    // Ids the broker uses for its own messages: never one still in use.
                    loop {
                        self.next_broker_id = self.next_broker_id % 60_000 + 1;
                        if !self.broker_qos2.contains_key(&self.next_broker_id) {
                            break;
                        }
                    }
                    QosPid::new(qos, PacketId::new(self.next_broker_id).unwrap())
                };
                if let QosPid::ExactlyOnce(id) = qos_pid {
                    self.broker_qos2
                        .insert(id.get(), (self.next_message, false));
                }
                let publish = Publish::new(TopicName::new("m/in").unwrap(), payload, qos_pid);
                let packets = pair.send(publish);
                self.observe(pair, packets);
            }
            Op::Redeliver(index) if up && !self.broker_qos2.is_empty() => {
                let (&id, &(message, acked)) = self
                    .broker_qos2
                    .iter()
                    .nth(index % self.broker_qos2.len())
                    .unwrap();
                if !acked {
                    let mut publish = Publish::new(
                        TopicName::new("m/in").unwrap(),
                        message.to_string(),
                        QosPid::ExactlyOnce(PacketId::new(id).unwrap()),
                    );
                    publish.dup = true;
                    let packets = pair.send(publish);
                    self.observe(pair, packets);
                }
            }
            Op::Release(index) if up => {
                let acked: Vec<u16> = self
                    .broker_qos2
                    .iter()
                    .filter(|(_, (_, a))| *a)
                    .map(|(&id, _)| id)
                    .collect();
                if !acked.is_empty() {
                    let id = acked[index % acked.len()];
                    let packets = pair.send_ack(
                        PacketType::PubRel,
                        PubResponse::new(PacketId::new(id).unwrap()),
                    );
                    self.observe(pair, packets);
                }
            }
            Op::Drop if pair.open => {
                pair.drop_connection();
                self.connected = false;
                self.collect_events(pair);
            }
            Op::Reconnect {
                session_present,
                receive_maximum,
            } => {
                if self.version == ProtocolVersion::V5 {
                    self.receive_maximum = receive_maximum;
                }
                if pair.open {
                    pair.drop_connection();
                    self.collect_events(pair);
                }
                self.connected = false;
                self.last_write = None;
                self.sent_here.clear();
                let connect = pair.open();
                // The server can only resume a session the client asked to resume.
                let session_present = session_present && !connect.clean_start;
                if !session_present {
                    // A new session: the broker forgets everything.
                    self.client_publishes.clear();
                    self.broker_qos2.clear();
                    self.requests.clear();
                    // A new broker session numbers its messages from 1 again.
                    self.next_broker_id = 0;
                } else {
                    // Unacknowledged PUBLISH will be resent with DUP.
                }
                let mut ack = ConnAck {
                    session_present,
                    ..ConnAck::default()
                };
                if self.version == ProtocolVersion::V5 {
                    ack.properties.receive_maximum =
                        std::num::NonZeroU16::new(self.receive_maximum);
                }
                let packets = pair.send(ack);
                self.last_write = Some(pair.now);
                self.collect_events(pair);
                self.observe(pair, packets);
                // Broker resends its unreleased QoS 2 messages and PUBRELs on a resumed session.
                if session_present {
                    let pending: Vec<(u16, u64, bool)> = self
                        .broker_qos2
                        .iter()
                        .map(|(&i, &(m, a))| (i, m, a))
                        .collect();
                    for (id, message, acked) in pending {
                        let pid = PacketId::new(id).unwrap();
                        let packets = if acked {
                            pair.send_ack(PacketType::PubRel, PubResponse::new(pid))
                        } else {
                            let mut p = Publish::new(
                                TopicName::new("m/in").unwrap(),
                                message.to_string(),
                                QosPid::ExactlyOnce(pid),
                            );
                            p.dup = true;
                            pair.send(p)
                        };
                        self.observe(pair, packets);
                    }
                }
            }
            Op::Advance(secs) => {
                let target = pair.now.0 + Duration::from_secs(secs);
                // Time passes in steps: the session acts at each of its deadlines.
                while let Some((at, _)) = pair.session.next_timeout() {
                    if at.0 > target {
                        break;
                    }
                    let Some((_, packets)) = pair.advance_to_next_timeout() else {
                        break;
                    };
                    // The model broker answers pings at once.
                    let pings = packets
                        .iter()
                        .filter(|p| matches!(p, Packet::PingReq))
                        .count();
                    self.observe(pair, packets);
                    for _ in 0..pings {
                        if pair.open {
                            let more = pair.send(Packet::PingResp);
                            self.observe(pair, more);
                        }
                    }
                    if !pair.open {
                        break;
                    }
                }
                if pair.now.0 < target {
                    self.check_keep_alive(VirtualInstant(target));
                    let packets = pair.advance(target - pair.now.0);
                    self.observe(pair, packets);
                }
            }
            Op::StoreFails => self.fail_next_save = true,
            _ => {}
        }
        self.check_journal(pair);
    }

    /// The session's journal, written after every step as a driver writes it after every
    /// turn (changes appended, the whole journal replaced when they add up), reads back as
    /// the session's snapshot: no change of the persistent state is missed or misplaced.
    ///
    /// A second journal written with `Journal::write_session`, which looks only at the
    /// publishes the session noted as changed, writes the same bytes as long as no write
    /// failed; a failed write (part of it left in the store) is followed by a whole one, and
    /// the store reads back as the snapshot all the same.
    fn check_journal(&mut self, pair: &mut Pair) {
        let snapshot = pair.session.snapshot();
        let written = match self.journal.write(snapshot.clone()) {
            JournalWrite::Replace(bytes) => {
                self.store = bytes.to_vec();
                Some((bytes.to_vec(), true))
            }
            JournalWrite::Append(bytes) => {
                self.store.extend_from_slice(bytes);
                Some((bytes.to_vec(), false))
            }
            JournalWrite::Unchanged => None,
        };
        self.journal.written();
        assert_eq!(Journal::read(self.store.clone().into()).unwrap(), snapshot);

        let urgent = self.session_journal.urgent(&pair.session);
        let before = (!self.session_store.is_empty())
            .then(|| Journal::read(self.session_store.clone().into()).unwrap());
        let session_written = match self.session_journal.write_session(&mut pair.session) {
            JournalWrite::Replace(bytes) => Some((bytes.to_vec(), true)),
            JournalWrite::Append(bytes) => Some((bytes.to_vec(), false)),
            JournalWrite::Unchanged => None,
        };
        assert_eq!(
            session_written.is_none(),
            written.is_none(),
            "the two journals disagree on whether anything changed"
        );
        if !self.a_save_failed {
            assert_eq!(
                session_written, written,
                "the two journals wrote different bytes"
            );
        }
        if let Some((bytes, replace)) = session_written {
            if std::mem::take(&mut self.fail_next_save) {
                // Half of the write made it to the store.
                if replace {
                    self.session_store.clear();
                }
                self.session_store
                    .extend_from_slice(&bytes[..bytes.len() / 2]);
                self.session_journal.failed();
                self.a_save_failed = true;
                match self.session_journal.write_session(&mut pair.session) {
                    JournalWrite::Replace(bytes) => self.session_store = bytes.to_vec(),
                    other => panic!("after a failed write: {other:?}"),
                }
            } else if replace {
                self.session_store = bytes;
            } else {
                self.session_store.extend_from_slice(&bytes);
            }
            self.session_journal.written();
        }
        assert_eq!(
            Journal::read(self.session_store.clone().into()).unwrap(),
            snapshot
        );
        if !urgent {
            let before = before.expect("a journal that never wrote is urgent");
            deferrable(&before, &snapshot);
        }
    }

    /// Liveness: on a live connection, a broker that acknowledges everything it holds sees
    /// every queued publish go out and complete; none is left behind a send window that never
    /// opens again.
    fn drain(&mut self, pair: &mut Pair) {
        if !(pair.open && pair.session.is_connected()) {
            return;
        }
        for _ in 0..10_000 {
            if self.client_publishes.is_empty() {
                break;
            }
            self.step(
                pair,
                Op::Ack {
                    index: 0,
                    duplicate: false,
                    error: false,
                },
            );
        }
        assert!(
            self.client_publishes.is_empty(),
            "the broker acknowledged everything"
        );
        assert_eq!(
            pair.session.pending_publishes(),
            0,
            "publishes left queued on a live connection with an empty window"
        );
    }

    fn check_end(&self, pair: &Pair) {
        // Every QoS 1/2 publish completed, failed, or is still pending in the session.
        let finished = self.completed.len() + self.failed.len();
        let qos12: Vec<_> = self
            .tickets
            .iter()
            .filter(|(_, q)| **q != QoS::AtMostOnce)
            .collect();
        let qos12_finished = qos12
            .iter()
            .filter(|(id, _)| self.completed.contains(id) || self.failed.contains(id))
            .count();
        let qos0_queued = self
            .tickets
            .iter()
            .filter(|(id, q)| **q == QoS::AtMostOnce && !self.completed.contains(id))
            .count();
        assert_eq!(
            qos12.len() - qos12_finished + qos0_queued,
            pair.session.pending_publishes(),
            "lost publishes: {} tickets, {finished} finished, {} pending",
            self.tickets.len(),
            pair.session.pending_publishes()
        );
        assert!(self.failed_rejected <= self.rejected);
        // Every QoS 2 message the client acknowledged was delivered, once.
        for m in &self.recorded {
            assert_eq!(
                self.delivered.get(m),
                Some(&1),
                "message {m} recorded but delivered {:?}",
                self.delivered.get(m)
            );
        }
    }
}

fn run(version: ProtocolVersion, session_expiry: u32, receive_maximum: u16, ops: Vec<Op>) {
    let mut config = Config::new(version, MqttString::try_from("model").unwrap());
    config.poison_limit = 5;
    config.keep_alive = Duration::from_secs(30);
    config.session_expiry_interval = session_expiry;
    config.clean_start = false;
    config.backoff.initial = Duration::from_millis(100);
    let mut pair = Pair::new(config);
    let mut model = Model {
        version,
        receive_maximum: if version == ProtocolVersion::V5 {
            receive_maximum
        } else {
            u16::MAX
        },
        keep_alive: Duration::from_secs(30),
        connected: false,
        client_publishes: BTreeMap::new(),
        sent_here: BTreeSet::new(),
        requests: BTreeSet::new(),
        broker_qos2: BTreeMap::new(),
        next_broker_id: 0,
        next_message: 0,
        delivered: BTreeMap::new(),
        recorded: BTreeSet::new(),
        tickets: BTreeMap::new(),
        completed: BTreeSet::new(),
        failed: BTreeSet::new(),
        rejected: 0,
        failed_rejected: 0,
        poison_limit: pair.session.config().poison_limit,
        unanswered: BTreeMap::new(),
        last_write: None,
        journal: Journal::new(),
        store: Vec::new(),
        session_journal: Journal::new(),
        session_store: Vec::new(),
        fail_next_save: false,
        a_save_failed: false,
    };
    model.step(
        &mut pair,
        Op::Reconnect {
            session_present: false,
            receive_maximum,
        },
    );
    for op in ops {
        model.step(&mut pair, op);
    }
    model.check_end(&pair);
    model.drain(&mut pair);
    model.check_end(&pair);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn v5_session_against_the_broker_model(
        receive_maximum in 1u16..12,
        session_expiry in prop_oneof![Just(0u32), Just(3600u32)],
        ops in prop::collection::vec(op(), 1..80),
    ) {
        run(ProtocolVersion::V5, session_expiry, receive_maximum, ops);
    }

    #[test]
    fn v311_session_against_the_broker_model(ops in prop::collection::vec(op(), 1..80)) {
        run(ProtocolVersion::V311, 0, u16::MAX, ops);
    }
}

/// What a store may hold behind the session while packets go out (`Journal::urgent` said no):
/// the same client identifier, inbound QoS 2 identifiers and subscriptions, and every QoS 2
/// publish as it was (or new and never sent). A crash then sends a QoS 1 message again, or
/// releases a QoS 2 one again; it never sends a released QoS 2 message again nor takes a
/// packet identifier for a new one.
fn deferrable(before: &Snapshot, after: &Snapshot) {
    assert_eq!(before.client_id, after.client_id, "client id");
    assert_eq!(before.inbound_qos2, after.inbound_qos2, "inbound QoS 2 ids");
    let subs = |s: &Snapshot| {
        s.subscriptions
            .iter()
            .map(|s| (s.filter.filter.clone(), s.identifier))
            .collect::<Vec<_>>()
    };
    assert_eq!(subs(before), subs(after), "subscriptions");
    for p in after.outgoing.iter() {
        if p.publish.qos() != QoS::ExactlyOnce {
            continue;
        }
        let old = before.outgoing.iter().find(|o| o.id == p.id);
        match old {
            Some(old) => assert_eq!(old, p, "QoS 2 publish {} changed", p.id),
            None => assert_eq!(p.stage, Stage::Queued, "QoS 2 publish {} sent", p.id),
        }
    }
}
