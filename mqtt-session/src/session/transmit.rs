//! Bytes out: control packets first, then subscriptions, then the outbound queue's PUBLISH
//! and PUBREL packets within flow control.

use bytes::BytesMut;
use mqtt_proto::{
    EncodeError, Packet, PacketType, ProtocolVersion, PubResponse, ReasonCode, TopicName,
    UserProperties,
};

use super::{Control, Session, State};
use crate::alias::AliasUse;
use crate::event::Event;
use crate::outbound::Stage;
use crate::tables::Tables;
use crate::time::{after, Instant, Timer};

impl<I: Instant, T: Tables> Session<I, T> {
    /// Encodes into `buf` every packet that is due and returns how many bytes it wrote.
    /// Call after every input and command until it returns 0, and again once `buf` has been
    /// written out: publishes stop once `buf` holds
    /// [`Config::transmit_buffer_limit`](crate::Config::transmit_buffer_limit) bytes.
    pub fn poll_transmit(&mut self, now: I, buf: &mut BytesMut) -> usize {
        let start = buf.len();
        let version = self.config.protocol_version;
        match self.state {
            State::Idle => return 0,
            State::Connecting | State::Closing => {
                // Before CONNACK only CONNECT and AUTH may go [MQTT-3.1.2-30]; while closing,
                // what is queued, the DISCONNECT last: nothing follows it on this connection
                // and the driver closes the transport [MQTT-3.14.4-1], [MQTT-3.14.4-2].
                let closing = self.state == State::Closing;
                while let Some(c) = self.control.front() {
                    if !closing && !matches!(c, Control::Connect { .. } | Control::Auth(_)) {
                        break;
                    }
                    if let Some(c) = self.control.pop_front() {
                        self.write_control(c, buf);
                    }
                }
                if closing && self.control.is_empty() {
                    self.state = State::Idle;
                }
            }
            State::Connected => {
                // Acknowledgements and other control packets never wait for flow-control room
                // [MQTT-3.3.4-8], [MQTT-4.9.0-3].
                while let Some(c) = self.control.pop_front() {
                    self.write_control(c, buf);
                }
                self.subs.write_pending(
                    self.config.protocol_version,
                    self.limits.subscription_identifier_available,
                    buf,
                );
                self.write_publishes(now, buf);
            }
        }
        let written = buf.len() - start;
        if written > 0 && self.state == State::Connected && !self.keep_alive.is_zero() {
            self.timers
                .set(Timer::KeepAlive, after(now, self.keep_alive));
        }
        let _ = version;
        self.update_expiry_timer();
        written
    }

    /// How many QoS 1/2 publishes may be unacknowledged at once: the server's Receive Maximum
    /// (v5), capped by our own `max_inflight` (v3.1.1 has no negotiation, and brokers drop or
    /// refuse what exceeds their window).
    pub(super) fn send_quota(&self) -> u16 {
        self.limits
            .receive_maximum
            .min(self.config.max_inflight)
            .max(1)
    }

    fn write_control(&mut self, control: Control, buf: &mut BytesMut) {
        let version = self.config.protocol_version;
        // Everything below was validated when it was queued; an encoding error cannot happen,
        // and if it did the packet would be skipped rather than the session panicking.
        let _ = match control {
            Control::Connect { clean_start } => self
                .config
                .connect(&self.client_id, clean_start)
                .encode(version, buf),
            Control::Ack(kind, id, reason) => {
                if kind == PacketType::PubRec && reason.is_error() {
                    // Once this PUBREC is out, a PUBLISH with this id is a new message
                    // [MQTT-4.3.3-9] (no PUBREL follows a failed PUBREC, section 4.3.3).
                    self.inbound.release_qos2(id);
                }
                PubResponse::with_reason(id, reason).encode(kind, version, buf)
            }
            Control::PingReq => Packet::PingReq.encode(version, buf),
            Control::Disconnect(mut d) => {
                // [MQTT-3.14.2-3], [MQTT-3.14.2-4]
                let max = self.limits.maximum_packet_size;
                if too_large(max, d.encoded_len(version)) {
                    d.properties.reason_string = None;
                }
                if too_large(max, d.encoded_len(version)) {
                    d.properties.user_properties = UserProperties::default();
                }
                d.encode(version, buf)
            }
            Control::Auth(mut a) => {
                // [MQTT-3.15.2-2], [MQTT-3.15.2-3]
                let max = self.limits.maximum_packet_size;
                if too_large(max, a.encoded_len(version)) {
                    a.properties.reason_string = None;
                }
                if too_large(max, a.encoded_len(version)) {
                    a.properties.user_properties = UserProperties::default();
                }
                a.encode(version, buf)
            }
        };
    }

    /// PUBLISH and PUBREL packets of the outbound queue, in order, within flow control.
    fn write_publishes(&mut self, now: I, buf: &mut BytesMut) {
        let version = self.config.protocol_version;
        while buf.len() < self.config.transmit_buffer_limit {
            let Some(index) = self.outbound.next_due(self.send_quota()) else {
                break;
            };
            let Some(entry) = self.outbound.entry(index) else {
                break;
            };
            if entry.stage == Stage::Released {
                if let Some(id) = entry.packet_id() {
                    let _ = PubResponse::new(id).encode(PacketType::PubRel, version, buf);
                }
                self.outbound.mark_written(index);
                continue;
            }
            // The server's limits may have changed since the message was accepted.
            let size = entry.publish.encoded_len(version).unwrap_or(usize::MAX);
            if let Err(exceeded) = self.check_limits(&entry.publish, size) {
                if let Some(entry) = self.outbound.remove(index) {
                    self.fail(entry, exceeded.failure());
                }
                continue;
            }
            self.outbound.refresh_expiry(index, now);
            let Some(entry) = self.outbound.entry(index) else {
                break;
            };
            // A new alias adds a property (three bytes, and at most two more when the lengths
            // grow); it is only set up when the packet still fits the server's limit
            // [MQTT-3.2.2-15]. Reusing one only makes the packet smaller.
            let room_for_alias = self
                .limits
                .maximum_packet_size
                .is_none_or(|max| size + 5 <= max as usize);
            let alias = if version == ProtocolVersion::V5 {
                self.out_aliases
                    .use_for(&entry.publish.topic, room_for_alias)
            } else {
                AliasUse::None
            };
            let _ = match alias {
                AliasUse::None => entry.publish.encode(version, buf),
                AliasUse::Assign(a) | AliasUse::Reuse(a) => {
                    let mut aliased = entry.publish.clone();
                    aliased.properties.topic_alias = Some(a);
                    if matches!(alias, AliasUse::Reuse(_)) {
                        aliased.topic = TopicName::empty();
                    }
                    aliased.encode(version, buf)
                }
            };
            if let Some(done) = self.outbound.mark_written(index) {
                // QoS 0: complete once written.
                self.events.push_back(Event::PublishCompleted {
                    id: done.id,
                    packet_id: None,
                    reason_code: ReasonCode::Success,
                });
            }
        }
    }
}

/// Whether a packet of `len` bytes is over the server's Maximum Packet Size. The optional
/// Reason String and User Properties of DISCONNECT and AUTH are left out, in that order, until
/// the packet fits; PUBACK, PUBREC, PUBREL and PUBCOMP never carry them ([MQTT-3.4.2-2],
/// [MQTT-3.4.2-3], [MQTT-3.5.2-2], [MQTT-3.5.2-3], [MQTT-3.6.2-2], [MQTT-3.6.2-3],
/// [MQTT-3.7.2-2], [MQTT-3.7.2-3]).
fn too_large(max: Option<u32>, len: Result<usize, EncodeError>) -> bool {
    matches!((max, len), (Some(max), Ok(len)) if len > max as usize)
}
