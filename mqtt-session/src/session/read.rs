//! Bytes in: decoding what the server sent and handing each packet to the part that owns it.

use bytes::BytesMut;
use mqtt_proto::{Decoded, Packet, PacketType, ReasonCode, Role};

use super::{Session, State};
use crate::tables::Tables;
use crate::time::{Instant, Timer};
use crate::violation::ProtocolViolation;

impl<I: Instant, T: Tables> Session<I, T> {
    /// Bytes arrived. Every whole packet is taken off the front of `buf` and handled; a partial
    /// packet stays for the next call. After a protocol error the rest of the connection's
    /// input is ignored.
    pub fn handle_read(&mut self, now: I, buf: &mut BytesMut) {
        if self.state == State::Connecting
            && self
                .negotiation
                .refuses_v5(self.config.protocol_version, buf)
        {
            self.v5_not_supported(now);
        }
        while matches!(self.state, State::Connecting | State::Connected) {
            match self.decoder.decode(buf) {
                Ok(Decoded::Packet(packet)) => self.on_packet(now, packet),
                Ok(Decoded::Incomplete { .. }) => return,
                Err(e) => {
                    self.protocol_error(now, e.reason_code(), e.into());
                }
            }
        }
        // Not connected: nothing more is read on this connection.
        buf.clear();
    }

    /// A packet from the server.
    fn on_packet(&mut self, now: I, packet: Packet) {
        // Any packet shows the server is alive.
        self.timers.stop(Timer::PingResponse);
        self.ping_outstanding = false;
        if self.state == State::Connecting {
            match packet {
                Packet::ConnAck(ack) => self.on_connack(now, *ack),
                Packet::Auth(auth) => self.on_auth(now, auth),
                Packet::Disconnect(d) => self.on_server_disconnect(now, d),
                // [MQTT-3.2.0-1]: the server's first packet is CONNACK (or AUTH in v5).
                other => self.protocol_error(
                    now,
                    ReasonCode::ProtocolError,
                    ProtocolViolation::BeforeConnAck(other.packet_type()),
                ),
            }
            return;
        }
        match packet {
            Packet::Publish(p) => self.on_publish(now, p),
            Packet::PubAck(a) => self.on_puback(a),
            Packet::PubRec(a) => self.on_pubrec(a),
            Packet::PubRel(a) => self.on_pubrel(a),
            Packet::PubComp(a) => self.on_pubcomp(a),
            Packet::SubAck(a) => self.on_suback(now, a),
            Packet::UnsubAck(a) => self.on_unsuback(now, a),
            Packet::PingResp => {}
            Packet::Disconnect(d) => self.on_server_disconnect(now, d),
            Packet::Auth(a) => self.on_auth(now, a),
            // [MQTT-3.2.0-2]: one CONNACK per connection. The decoder lets through only what a
            // server sends, so a second CONNACK is all that can arrive here.
            Packet::ConnAck(_) => self.protocol_error(
                now,
                ReasonCode::ProtocolError,
                ProtocolViolation::SecondConnAck,
            ),
            other => self.protocol_error(
                now,
                ReasonCode::ProtocolError,
                unexpected(other.packet_type()).into(),
            ),
        }
    }
}

fn unexpected(packet: PacketType) -> mqtt_proto::Error {
    mqtt_proto::Error::UnexpectedPacket {
        packet,
        from: Role::Server,
    }
}
