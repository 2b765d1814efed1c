//! Inbound messages: each PUBLISH from the server answered as its QoS requires, delivered
//! once, and acknowledged in arrival order (also when the application acknowledges by hand).

use mqtt_proto::{PacketType, ProtocolVersion, PubResponse, Publish, QoS, QosPid, ReasonCode};

use super::{Control, Session, State};
use crate::alias::AliasError;
use crate::event::{AckToken, Error, Event, Message};
use crate::inbound::Qos2;
use crate::tables::Tables;
use crate::time::Instant;
use crate::violation::ProtocolViolation;

impl<I: Instant, T: Tables> Session<I, T> {
    pub(super) fn on_publish(&mut self, now: I, mut publish: Publish) {
        if let Some(alias) = publish.properties.topic_alias {
            match self.in_aliases.resolve(alias, &publish.topic) {
                Ok(topic) => publish.topic = topic,
                Err(AliasError::OutOfRange) => {
                    // [MQTT-3.3.2-10]: above the maximum we announced.
                    return self.protocol_error(
                        now,
                        ReasonCode::TopicAliasInvalid,
                        mqtt_proto::Error::InvalidPropertyValue(mqtt_proto::PropertyId::TopicAlias)
                            .into(),
                    );
                }
                Err(AliasError::Unknown) => {
                    return self.protocol_error(
                        now,
                        ReasonCode::ProtocolError,
                        ProtocolViolation::UnknownTopicAlias(alias.get()),
                    );
                }
            }
        }
        // Every PUBLISH is answered as its QoS requires, with its own Packet Identifier
        // ([MQTT-3.3.4-1], [MQTT-4.5.0-2], v5 [MQTT-2.2.1-5], [MQTT-4.3.2-4], [MQTT-4.3.3-8];
        // v3.1.1 [MQTT-2.3.1-6], [MQTT-4.3.2-2]); a QoS 2 message is delivered once, its
        // repeats only answered with PUBREC until the PUBREL ([MQTT-4.3.3-10]; v3.1.1
        // [MQTT-4.3.3-2]). Once a flow is finished its id names a new message
        // ([MQTT-4.3.2-5], [MQTT-4.3.3-12]). In manual-ack mode the answer waits for the
        // application. The client applies no Message Expiry to what it receives: an expired
        // QoS 2 message still gets its PUBREC and PUBCOMP [MQTT-4.3.3-13].
        let manual = self.config.manual_acks;
        let v5 = self.config.protocol_version == ProtocolVersion::V5;
        let over_receive_maximum =
            v5 && self.inbound.unacknowledged() >= usize::from(self.config.receive_maximum);
        // A fixed-capacity table that is full takes no more: on v5 the server went past the
        // Receive Maximum (which is at most the capacity); v3.1.1 cannot tell the server, so
        // the connection ends there and the server sends the message again on the next one.
        let full = !self.inbound.has_room();
        match publish.qos_pid {
            QosPid::AtMostOnce => self.deliver(publish, None),
            QosPid::AtLeastOnce(id) => {
                if over_receive_maximum || (manual && full) {
                    return self.receive_maximum_exceeded(now);
                }
                if manual {
                    let Ok(token) = self.inbound.owe(id, QoS::AtLeastOnce) else {
                        return self.receive_maximum_exceeded(now);
                    };
                    self.deliver(publish, Some(token));
                } else {
                    self.control.push_back(Control::Ack(
                        PacketType::PubAck,
                        id,
                        ReasonCode::Success,
                    ));
                    self.deliver(publish, None);
                }
            }
            QosPid::ExactlyOnce(id) => match self.inbound.qos2_state(id) {
                // A resend of a message already delivered: never deliver it twice.
                Some(Qos2::Received) => self.control.push_back(Control::Ack(
                    PacketType::PubRec,
                    id,
                    ReasonCode::Success,
                )),
                Some(Qos2::Rejected(reason)) => {
                    self.control
                        .push_back(Control::Ack(PacketType::PubRec, id, reason));
                }
                Some(Qos2::AwaitingApp) => {}
                None => {
                    if over_receive_maximum || full {
                        return self.receive_maximum_exceeded(now);
                    }
                    if manual {
                        let token = match self.inbound.set_qos2(id, Qos2::AwaitingApp) {
                            Ok(()) => self.inbound.owe(id, QoS::ExactlyOnce),
                            Err(full) => Err(full),
                        };
                        let Ok(token) = token else {
                            return self.receive_maximum_exceeded(now);
                        };
                        self.deliver(publish, Some(token));
                    } else {
                        if self.inbound.set_qos2(id, Qos2::Received).is_err() {
                            return self.receive_maximum_exceeded(now);
                        }
                        self.control.push_back(Control::Ack(
                            PacketType::PubRec,
                            id,
                            ReasonCode::Success,
                        ));
                        self.deliver(publish, None);
                    }
                }
            },
        }
    }

    /// The server sent more QoS 1/2 messages than our Receive Maximum [MQTT-3.3.4-9]:
    /// DISCONNECT 0x93 (section 3.3.4).
    fn receive_maximum_exceeded(&mut self, now: I) {
        self.protocol_error(
            now,
            ReasonCode::ReceiveMaximumExceeded,
            ProtocolViolation::ReceiveMaximumExceeded(self.config.receive_maximum),
        );
    }

    fn deliver(&mut self, publish: Publish, ack_token: Option<AckToken>) {
        self.events
            .push_back(Event::Message(Message { publish, ack_token }));
    }

    /// PUBREL: answered with PUBCOMP and the same Packet Identifier [MQTT-4.3.3-11].
    pub(super) fn on_pubrel(&mut self, ack: PubResponse) {
        let id = ack.packet_id;
        let reason = if self.inbound.release_qos2(id) {
            ReasonCode::Success
        } else {
            // Not a dropped connection: answer so the server can finish (v5: 0x92).
            ReasonCode::PacketIdentifierNotFound
        };
        self.control
            .push_back(Control::Ack(PacketType::PubComp, id, reason));
    }

    /// Acknowledges a message received in manual-ack mode. Acknowledgements go out in the
    /// order the messages arrived, whatever order the application acks them in
    /// [MQTT-4.6.0-2], [MQTT-4.6.0-3].
    pub fn ack(&mut self, _now: I, token: AckToken) -> Result<(), Error> {
        self.settle(token, ReasonCode::Success)
    }

    /// Refuses a message received in manual-ack mode (v5): its PUBACK, or for QoS 2 its
    /// PUBREC, carries `reason`, one of the errors those packets may carry (0x80 Unspecified
    /// error, 0x83 Implementation specific error, 0x87 Not authorized, 0x90 Topic Name
    /// invalid, 0x91 Packet Identifier in use, 0x97 Quota exceeded, 0x99 Payload format
    /// invalid). Like [`Session::ack`], it goes out in the order the messages arrived.
    ///
    /// A refused message is done with: the server does not send it again, and for QoS 2 no
    /// PUBREL follows; a later PUBLISH with the same Packet Identifier is a new message
    /// [MQTT-4.3.3-9]. A QoS 2 message refused while the connection is down is answered
    /// with that PUBREC when the server sends it again on the next one.
    ///
    /// Fails with [`Error::NotAvailable`] on v3.1.1, which has no way to refuse a message,
    /// and with [`Error::RejectReason`] for a reason that is not one of those errors.
    pub fn reject(&mut self, _now: I, token: AckToken, reason: ReasonCode) -> Result<(), Error> {
        if self.config.protocol_version != ProtocolVersion::V5 {
            return Err(Error::NotAvailable(
                "refusing a message needs MQTT v5 (v3.1.1 acknowledgements carry no reason)",
            ));
        }
        if !reason.refuses_publish() {
            return Err(Error::RejectReason(reason));
        }
        self.settle(token, reason)
    }

    /// [`Session::ack`] and [`Session::reject`]: records the application's answer and queues
    /// the acknowledgements it releases, in arrival order.
    fn settle(&mut self, token: AckToken, reason: ReasonCode) -> Result<(), Error> {
        if !self.inbound.ack(token, reason) {
            return Err(Error::UnknownAckToken);
        }
        let connected = self.state == State::Connected;
        while let Some(r) = self.inbound.pop_released() {
            let kind = match r.qos {
                QoS::ExactlyOnce => {
                    let state = if r.reason.is_error() {
                        Qos2::Rejected(r.reason)
                    } else {
                        Qos2::Received
                    };
                    // The entry is there (AwaitingApp) unless the server released it early.
                    let _ = self.inbound.set_qos2(r.packet_id, state);
                    PacketType::PubRec
                }
                _ => PacketType::PubAck,
            };
            // Disconnected, a QoS 1 message comes again (its token goes stale); a QoS 2 one
            // is answered with this PUBREC when it does.
            if connected {
                self.control
                    .push_back(Control::Ack(kind, r.packet_id, r.reason));
            }
        }
        Ok(())
    }
}
