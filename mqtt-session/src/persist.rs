//! The state that must survive a process restart, as plain data, with a compact binary form a
//! driver can keep in a file. The core never touches a file itself.

use alloc::vec::Vec;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use mqtt_proto::{
    Decoded, Decoder, MqttString, Packet, PacketId, ProtocolVersion, Publish, Role, Subscribe,
    SubscribeFilter, SubscribeProperties, SubscriptionIdentifier,
};

use crate::config::Config;
use crate::event::{ConfigError, PublishId};
use crate::outbound::{expiry_deadline, Outgoing, Stage};
use crate::session::Session;
use crate::subscriptions::Subscription;
use crate::tables::Tables;
use crate::time::Instant;

/// A publish not yet completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistedPublish {
    /// Its [`PublishId`] number.
    pub id: u64,
    /// Its stage: `Queued` (never sent), `Sent` (PUBLISH sent, no PUBACK/PUBREC yet) or
    /// `Released` (PUBREL sent, no PUBCOMP yet).
    pub stage: Stage,
    /// The message, with its Packet Identifier.
    pub publish: Publish,
}

/// A granted subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistedSubscription {
    /// Filter and options.
    pub filter: SubscribeFilter,
    /// The Subscription Identifier it was made with (v5).
    pub identifier: Option<SubscriptionIdentifier>,
}

/// Everything of a session that must outlive the process: pending outbound QoS 0/1/2 messages
/// with their ids and stage, the inbound QoS 2 ids awaiting PUBREL, the subscriptions, and the
/// counters that keep ids unique.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The protocol version of the session.
    pub protocol_version: ProtocolVersion,
    /// The client identifier (as assigned, when the server assigned one).
    pub client_id: MqttString,
    /// Where the Packet Identifier cursor stands.
    pub next_packet_id: u16,
    /// The last [`PublishId`] handed out.
    pub last_publish_id: u64,
    /// Pending publishes, in order.
    pub outgoing: Vec<PersistedPublish>,
    /// Inbound QoS 2 Packet Identifiers awaiting PUBREL.
    pub inbound_qos2: Vec<PacketId>,
    /// Granted subscriptions.
    pub subscriptions: Vec<PersistedSubscription>,
}

/// Why snapshot bytes could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// Not a snapshot, or one of another format version.
    #[error("not a session snapshot (bad magic or format version)")]
    BadHeader,
    /// The bytes end early or hold an invalid field.
    #[error("corrupt snapshot: {0}")]
    Corrupt(&'static str),
    /// An embedded packet is invalid.
    #[error("corrupt snapshot packet: {0}")]
    Packet(#[from] mqtt_proto::Error),
}

pub(crate) const MAGIC: &[u8; 4] = b"MQS1";

impl Snapshot {
    /// Appends the snapshot's binary form to `buf`. Publishes and subscriptions are stored as
    /// v5 packets, so nothing of them is lost.
    pub fn encode(&self, buf: &mut BytesMut) {
        buf.put_slice(MAGIC);
        buf.put_u8(self.protocol_version.level());
        put_str(buf, &self.client_id);
        buf.put_u16(self.next_packet_id);
        buf.put_u64(self.last_publish_id);
        buf.put_u32(self.outgoing.len() as u32);
        for p in &self.outgoing {
            put_persisted_publish(buf, p);
        }
        put_inbound_qos2(buf, &self.inbound_qos2);
        put_subscriptions(buf, &self.subscriptions);
    }

    /// Reads a snapshot written by [`Snapshot::encode`].
    pub fn decode(mut bytes: Bytes) -> Result<Snapshot, SnapshotError> {
        if bytes.len() < 5 || &bytes[..4] != MAGIC {
            return Err(SnapshotError::BadHeader);
        }
        bytes.advance(4);
        let protocol_version =
            ProtocolVersion::from_level(bytes.get_u8()).ok_or(SnapshotError::BadHeader)?;
        let client_id = take_str(&mut bytes)?;
        need(&bytes, 2 + 8 + 4)?;
        let next_packet_id = bytes.get_u16();
        let last_publish_id = bytes.get_u64();
        let count = bytes.get_u32() as usize;
        let mut outgoing = Vec::with_capacity(count.min(bytes.len() / 12));
        for _ in 0..count {
            outgoing.push(take_persisted_publish(&mut bytes)?);
        }
        let inbound_qos2 = take_inbound_qos2(&mut bytes)?;
        let subscriptions = take_subscriptions(&mut bytes)?;
        Ok(Snapshot {
            protocol_version,
            client_id,
            next_packet_id,
            last_publish_id,
            outgoing,
            inbound_qos2,
            subscriptions,
        })
    }
}

/// What of a queued publish is kept.
pub(crate) fn persisted_publish<I>(entry: &Outgoing<I>) -> PersistedPublish {
    PersistedPublish {
        id: entry.id.0,
        stage: entry.stage,
        publish: entry.publish.clone(),
    }
}

/// What of a granted subscription is kept.
pub(crate) fn persisted_subscription(s: &Subscription) -> PersistedSubscription {
    PersistedSubscription {
        filter: s.filter.clone(),
        identifier: s.identifier,
    }
}

/// A pending publish: its id, its stage and the message as a v5 PUBLISH (nothing lost).
pub(crate) fn put_persisted_publish(buf: &mut BytesMut, p: &PersistedPublish) {
    buf.put_u64(p.id);
    buf.put_u8(match p.stage {
        Stage::Queued => 0,
        Stage::Sent => 1,
        Stage::Released => 2,
    });
    put_packet(buf, |b| {
        p.publish.encode(ProtocolVersion::V5, b).map(|_| ())
    });
}

pub(crate) fn take_persisted_publish(bytes: &mut Bytes) -> Result<PersistedPublish, SnapshotError> {
    need(bytes, 9)?;
    let id = bytes.get_u64();
    let stage = match bytes.get_u8() {
        0 => Stage::Queued,
        1 => Stage::Sent,
        2 => Stage::Released,
        _ => return Err(SnapshotError::Corrupt("stage")),
    };
    let Packet::Publish(publish) = take_packet(bytes)? else {
        return Err(SnapshotError::Corrupt("expected PUBLISH"));
    };
    Ok(PersistedPublish { id, stage, publish })
}

pub(crate) fn put_inbound_qos2(buf: &mut BytesMut, ids: &[PacketId]) {
    buf.put_u32(ids.len() as u32);
    for id in ids {
        buf.put_u16(id.get());
    }
}

pub(crate) fn take_inbound_qos2(bytes: &mut Bytes) -> Result<Vec<PacketId>, SnapshotError> {
    need(bytes, 4)?;
    let count = bytes.get_u32() as usize;
    need(bytes, count.saturating_mul(2))?;
    let mut ids = Vec::with_capacity(count);
    for _ in 0..count {
        ids.push(PacketId::new(bytes.get_u16()).ok_or(SnapshotError::Corrupt("id 0"))?);
    }
    Ok(ids)
}

/// Each subscription as a v5 SUBSCRIBE of one filter (options and identifier kept).
pub(crate) fn put_subscriptions(buf: &mut BytesMut, subscriptions: &[PersistedSubscription]) {
    buf.put_u32(subscriptions.len() as u32);
    for s in subscriptions {
        let subscribe = Subscribe {
            packet_id: PacketId::MIN,
            filters: alloc::vec![s.filter.clone()],
            properties: SubscribeProperties {
                subscription_identifier: s.identifier,
                ..SubscribeProperties::default()
            },
        };
        put_packet(buf, |b| {
            subscribe.encode(ProtocolVersion::V5, b).map(|_| ())
        });
    }
}

pub(crate) fn take_subscriptions(
    bytes: &mut Bytes,
) -> Result<Vec<PersistedSubscription>, SnapshotError> {
    need(bytes, 4)?;
    let count = bytes.get_u32() as usize;
    let mut subscriptions = Vec::with_capacity(count.min(bytes.len() / 8));
    for _ in 0..count {
        let Packet::Subscribe(mut s) = take_packet(bytes)? else {
            return Err(SnapshotError::Corrupt("expected SUBSCRIBE"));
        };
        let filter = s
            .filters
            .pop()
            .ok_or(SnapshotError::Corrupt("empty SUBSCRIBE"))?;
        subscriptions.push(PersistedSubscription {
            filter,
            identifier: s.properties.subscription_identifier,
        });
    }
    Ok(subscriptions)
}

pub(crate) fn put_str(buf: &mut BytesMut, s: &str) {
    buf.put_u16(s.len() as u16);
    buf.put_slice(s.as_bytes());
}

/// A length-prefixed (u32) packet.
fn put_packet(
    buf: &mut BytesMut,
    encode: impl FnOnce(&mut BytesMut) -> Result<(), mqtt_proto::EncodeError>,
) {
    let at = buf.len();
    buf.put_u32(0);
    let start = buf.len();
    if encode(buf).is_err() {
        buf.truncate(start);
    }
    let len = (buf.len() - start) as u32;
    buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

/// A string written by [`put_str`].
pub(crate) fn take_str(bytes: &mut Bytes) -> Result<MqttString, SnapshotError> {
    let s = alloc::string::String::from_utf8(take_len16(bytes)?.to_vec())
        .map_err(|_| SnapshotError::Corrupt("client id"))?;
    Ok(MqttString::try_from(s)?)
}

pub(crate) fn need(bytes: &Bytes, n: usize) -> Result<(), SnapshotError> {
    if bytes.len() < n {
        Err(SnapshotError::Corrupt("truncated"))
    } else {
        Ok(())
    }
}

pub(crate) fn take_len16(bytes: &mut Bytes) -> Result<Bytes, SnapshotError> {
    need(bytes, 2)?;
    let len = usize::from(bytes.get_u16());
    need(bytes, len)?;
    Ok(bytes.split_to(len))
}

fn take_packet(bytes: &mut Bytes) -> Result<Packet, SnapshotError> {
    need(bytes, 4)?;
    let len = bytes.get_u32() as usize;
    need(bytes, len)?;
    let mut packet = BytesMut::from(&bytes.split_to(len)[..]);
    match Decoder::new(ProtocolVersion::V5, Role::Client).decode(&mut packet)? {
        Decoded::Packet(p) if packet.is_empty() => Ok(p),
        _ => Err(SnapshotError::Corrupt("packet length")),
    }
}

impl<I: Instant> Session<I> {
    /// A session that continues the one `snapshot` was taken of, with growable tables: see
    /// [`Session::restore_with_tables`].
    pub fn restore(config: Config, snapshot: Snapshot, now: I) -> Result<Self, ConfigError> {
        Self::restore_with_tables(config, snapshot, now)
    }
}

impl<I: Instant, T: Tables> Session<I, T> {
    /// The state to keep across a process restart. Take it after every batch of inputs (or on
    /// the events that change it: publish accepted, completed, subscribed) and store it.
    pub fn snapshot(&self) -> Snapshot {
        let (ids, outbound, inbound, subs, publish_seq) = self.parts();
        Snapshot {
            protocol_version: self.protocol_version(),
            client_id: self.client_id().clone(),
            next_packet_id: ids.next(),
            last_publish_id: publish_seq,
            outgoing: outbound.iter().map(persisted_publish).collect(),
            // Only the ids whose PUBREC went out: a message the application has not acknowledged
            // yet is delivered again after a restart, when the server resends it.
            inbound_qos2: inbound.qos2_received_ids().collect(),
            subscriptions: subs.granted().map(persisted_subscription).collect(),
        }
    }

    /// A session that continues the one `snapshot` was taken of: its next connection asks to
    /// resume the session, resends `Sent` publishes with DUP and `Released` ones' PUBREL in
    /// order if the server still has it, and starts them over and resubscribes if not.
    /// `config` must name the same protocol version; its client id is replaced by the
    /// snapshot's, the identifier the state belongs to [MQTT-3.1.3-2]. A snapshot that holds
    /// more than fixed-capacity tables do is refused with [`ConfigError::SnapshotTooLarge`].
    pub fn restore_with_tables(
        config: Config,
        snapshot: Snapshot,
        now: I,
    ) -> Result<Self, ConfigError> {
        let mut session = Session::with_tables(config)?;
        let outgoing = snapshot
            .outgoing
            .into_iter()
            .map(|p| {
                let expires_at = if p.stage == Stage::Queued {
                    expiry_deadline(now, p.publish.properties.message_expiry_interval)
                } else {
                    None
                };
                Outgoing {
                    id: PublishId(p.id),
                    pending_tx: p.stage == Stage::Queued,
                    stage: p.stage,
                    publish: p.publish,
                    expires_at,
                    rec_reason: mqtt_proto::ReasonCode::Success,
                    strikes: Default::default(),
                }
            })
            .collect();
        session.restore_parts(
            snapshot.client_id,
            snapshot.next_packet_id,
            snapshot.last_publish_id,
            outgoing,
            snapshot.inbound_qos2,
            snapshot
                .subscriptions
                .into_iter()
                .map(|s| (s.filter, s.identifier))
                .collect(),
        )?;
        Ok(session)
    }
}
