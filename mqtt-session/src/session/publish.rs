//! Outbound publishes: accepting one, its limits, and the acknowledgements (PUBACK, PUBREC,
//! PUBCOMP) that complete it or the expiry and failures that end it.

use alloc::vec::Vec;
use mqtt_proto::{
    EncodeError, PacketId, PacketType, ProtocolVersion, PubResponse, Publish, QoS, QosPid,
    ReasonCode,
};

use super::{Control, OutboundMessage, Session, State};
use crate::event::{Error, Event, PublishFailure, PublishId, PublishTicket};
use crate::limits::{self, Exceeded};
use crate::outbound::{expiry_deadline, Outgoing, Stage};
use crate::tables::Tables;
use crate::time::{Instant, Timer};

impl<I: Instant, T: Tables> Session<I, T> {
    /// Publishes a message: QoS 1 and 2 get a Packet Identifier not in use, and stay
    /// unacknowledged until their PUBACK or PUBCOMP (v5 [MQTT-4.3.2-1], [MQTT-4.3.2-2],
    /// [MQTT-4.3.2-3], [MQTT-4.3.3-1], [MQTT-4.3.3-2], [MQTT-4.3.3-3], [MQTT-4.3.3-4],
    /// [MQTT-4.3.3-5]; v3.1.1 [MQTT-4.3.2-1], [MQTT-4.3.3-1]). The id and Packet Identifier are
    /// handed out at once; completion
    /// is reported by [`Event::PublishCompleted`] or [`Event::PublishFailed`]. While
    /// disconnected (or while the server's Receive Maximum is reached) the message waits in
    /// the queue, in order.
    pub fn publish(&mut self, now: I, message: OutboundMessage) -> Result<PublishTicket, Error> {
        if self.user_closed {
            return Err(Error::Closing);
        }
        if message.properties.topic_alias.is_some() {
            return Err(Error::NotAvailable(
                "topic aliases are assigned by the session",
            ));
        }
        if !message.properties.subscription_identifiers().is_empty() {
            return Err(Error::Invalid(EncodeError::Invalid(
                mqtt_proto::Error::PropertyNotAllowedFrom {
                    packet: PacketType::Publish,
                    from: mqtt_proto::Role::Client,
                    property: mqtt_proto::PropertyId::SubscriptionIdentifier,
                },
            )));
        }
        let mut publish = Publish {
            dup: false,
            qos_pid: QosPid::AtMostOnce,
            retain: message.retain,
            topic: message.topic,
            payload: message.payload,
            properties: message.properties,
        };
        // Size with a placeholder id: the id does not change the size.
        if message.qos != QoS::AtMostOnce {
            publish.qos_pid = QosPid::new(message.qos, PacketId::MIN);
        }
        let size = publish.encoded_len(self.config.protocol_version)?;
        self.check_limits(&publish, size).map_err(Exceeded::error)?;
        // A fixed-capacity table holds the publishes in flight as well as the queued ones.
        if self.outbound.queued() >= self.config.max_queued || self.outbound.is_full() {
            return Err(Error::QueueFull);
        }
        let packet_id = if message.qos == QoS::AtMostOnce {
            None
        } else {
            let id = self.ids.allocate().ok_or(Error::NoFreePacketId)?;
            publish.qos_pid = QosPid::new(message.qos, id);
            Some(id)
        };
        self.publish_seq += 1;
        let id = PublishId(self.publish_seq);
        let expires_at = match self.config.protocol_version {
            ProtocolVersion::V5 => expiry_deadline(now, publish.properties.message_expiry_interval),
            ProtocolVersion::V311 => None,
        };
        if self.outbound.push(id, publish, expires_at).is_err() {
            // Not reached: room was checked above.
            if let Some(packet_id) = packet_id {
                self.ids.release(packet_id);
            }
            return Err(Error::QueueFull);
        }
        self.update_expiry_timer();
        Ok(PublishTicket { id, packet_id })
    }

    /// Whether the limits let this publish go ([`limits::check`]): checked when it is
    /// accepted and again when it is sent (the server's limits may change across a reconnect,
    /// a restored message may predate the configuration).
    pub(super) fn check_limits(&self, publish: &Publish, size: usize) -> Result<(), Exceeded> {
        let server = (self.state == State::Connected).then_some(&self.limits);
        limits::check(publish, size, self.config.max_outgoing_packet_size, server)
    }

    pub(super) fn on_puback(&mut self, ack: PubResponse) {
        let is_qos1 = self
            .outbound
            .get(ack.packet_id)
            .is_some_and(|e| e.publish.qos() == QoS::AtLeastOnce);
        if !is_qos1 {
            return; // Late or duplicate: nothing waits for it.
        }
        if let Some(entry) = self.outbound.complete(ack.packet_id, Stage::Sent) {
            self.finish(entry, ack);
        }
    }

    /// Ends a QoS 1 (PUBACK) or failed QoS 2 (PUBREC) flow; a failed one is never sent again
    /// [MQTT-4.4.0-2].
    fn finish(&mut self, entry: Outgoing<I>, ack: PubResponse) {
        if ack.reason_code.is_error() {
            self.fail(
                entry,
                PublishFailure::Rejected(ack.reason_code, ack.properties),
            );
        } else {
            self.ids.release(ack.packet_id);
            self.events.push_back(Event::PublishCompleted {
                id: entry.id,
                packet_id: Some(ack.packet_id),
                reason_code: ack.reason_code,
            });
        }
    }

    pub(super) fn on_pubrec(&mut self, ack: PubResponse) {
        let id = ack.packet_id;
        let Some(entry) = self.outbound.get(id) else {
            // Nothing of ours: let the server finish its flow (v5: 0x92), unless its PUBREC
            // already ended it with an error.
            if ack.reason_code.is_error() {
                return;
            }
            self.control.push_back(Control::Ack(
                PacketType::PubRel,
                id,
                ReasonCode::PacketIdentifierNotFound,
            ));
            return;
        };
        if entry.publish.qos() != QoS::ExactlyOnce {
            return;
        }
        if ack.reason_code.is_error() {
            // A failed PUBREC ends the flow: no PUBREL (v5 section 4.3.3).
            if let Some(entry) = self.outbound.complete(id, Stage::Sent) {
                self.finish(entry, ack);
            }
        } else if self.outbound.release(id, ack.reason_code) {
            // [MQTT-4.3.3-4], in the order the PUBRECs arrived [MQTT-4.6.0-4].
            self.control
                .push_back(Control::Ack(PacketType::PubRel, id, ReasonCode::Success));
        }
    }

    pub(super) fn on_pubcomp(&mut self, ack: PubResponse) {
        if let Some(entry) = self.outbound.complete(ack.packet_id, Stage::Released) {
            self.ids.release(ack.packet_id);
            self.events.push_back(Event::PublishCompleted {
                id: entry.id,
                packet_id: Some(ack.packet_id),
                reason_code: entry.rec_reason,
            });
        }
    }

    /// Reports a publish that will not be delivered and frees its id.
    pub(super) fn fail(&mut self, entry: Outgoing<I>, reason: PublishFailure) {
        let packet_id = entry.packet_id();
        if let Some(id) = packet_id {
            self.ids.release(id);
        }
        self.events.push_back(Event::PublishFailed {
            id: entry.id,
            packet_id,
            reason,
        });
    }

    pub(super) fn expire(&mut self, now: I) {
        let mut expired = Vec::new();
        self.outbound.take_expired(now, |e| expired.push(e));
        for entry in expired {
            self.fail(entry, PublishFailure::Expired);
        }
    }

    pub(super) fn update_expiry_timer(&mut self) {
        let next = self.outbound.next_expiry();
        self.timers.set(Timer::MessageExpiry, next);
    }
}
