//! DISCONNECT (section 3.14) and AUTH (section 3.15).

use bytes::BufMut;

use super::{check_reason_to_send, encode_methods, expect_end, read_reason, Body, PacketType};
use crate::error::{EncodeError, Error};
use crate::property::{block_len, AuthProperties, DisconnectProperties};
use crate::wire::Reader;
use crate::{ProtocolVersion, ReasonCode};

/// DISCONNECT reason codes (section 3.14.2.1, [MQTT-3.14.2-1]).
const DISCONNECT_REASONS: &[u8] = &[
    0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95,
    0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
];

/// AUTH reason codes (section 3.15.2.1, [MQTT-3.15.2-1]).
const AUTH_REASONS: &[u8] = &[0x00, 0x18, 0x19];

/// DISCONNECT: the last packet of a connection; from a server only in v5 (section 3.14). In
/// v3.1.1 it has no body and `reason_code` is Normal disconnection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disconnect {
    /// Disconnect Reason Code (v5).
    pub reason_code: ReasonCode,
    /// Properties (v5).
    pub properties: DisconnectProperties,
}

impl Disconnect {
    /// A DISCONNECT with `reason_code` and no properties.
    pub fn new(reason_code: ReasonCode) -> Self {
        Disconnect {
            reason_code,
            properties: DisconnectProperties::default(),
        }
    }

    pub(crate) fn read_body(
        r: &mut Reader,
        _: u8,
        version: ProtocolVersion,
        from: crate::Role,
    ) -> Result<Self, Error> {
        let mut packet = Disconnect::default();
        // v5: "If the Remaining Length is less than 1 the value of 0x00 is used"; "if less than
        // 2, a Property Length of 0 is used" (3.14.2.1, 3.14.2.2.1).
        if version == ProtocolVersion::V5 && !r.is_empty() {
            packet.reason_code = read_reason(r, PacketType::Disconnect, DISCONNECT_REASONS)?;
            if !r.is_empty() {
                packet.properties = DisconnectProperties::read(r)?;
            }
        }
        expect_end(r, PacketType::Disconnect)?;
        // [MQTT-3.14.2-2]: a server's DISCONNECT carries no Session Expiry Interval. The
        // identifier is valid for DISCONNECT, so this is no Malformed Packet (2.2.2.2) but a
        // Protocol Error.
        if from == crate::Role::Server && packet.properties.session_expiry_interval.is_some() {
            return Err(Error::PropertyNotAllowedFrom {
                packet: PacketType::Disconnect,
                from,
                property: crate::PropertyId::SessionExpiryInterval,
            });
        }
        Ok(packet)
    }
}

encode_methods!(Disconnect);

impl Body for Disconnect {
    fn packet_type(&self) -> PacketType {
        PacketType::Disconnect
    }

    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if version == ProtocolVersion::V311 {
            return Ok(0);
        }
        check_reason_to_send(self.reason_code, PacketType::Disconnect, DISCONNECT_REASONS)?;
        Ok(if !self.properties.is_empty() {
            1 + block_len(self.properties.encoded_len()?)
        } else if self.reason_code != ReasonCode::Success {
            1
        } else {
            0
        })
    }

    fn write_body<B: BufMut>(&self, version: ProtocolVersion, len: usize, buf: &mut B) {
        if version == ProtocolVersion::V311 || len == 0 {
            return;
        }
        buf.put_u8(self.reason_code.value());
        if len > 1 {
            let props = self.properties.encoded_len().unwrap_or(0);
            self.properties.write(props, buf);
        }
    }
}

/// AUTH: a step of enhanced authentication (v5 only, section 3.15).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Auth {
    /// Authenticate Reason Code.
    pub reason_code: ReasonCode,
    /// Properties: the Authentication Method and Data.
    pub properties: AuthProperties,
}

impl Auth {
    pub(crate) fn read_body(
        r: &mut Reader,
        _: u8,
        version: ProtocolVersion,
    ) -> Result<Self, Error> {
        if version == ProtocolVersion::V311 {
            return Err(Error::ReservedPacketType(PacketType::Auth as u8));
        }
        let mut packet = Auth::default();
        // "The Reason Code and Property Length can be omitted if the Reason Code is 0x00 and
        // there are no Properties. In this case the AUTH has a Remaining Length of 0" (3.15.2.1).
        // Such an AUTH has no Authentication Method, which every AUTH carries [MQTT-4.12.0-5]:
        // refused below with the rest.
        if !r.is_empty() {
            packet.reason_code = read_reason(r, PacketType::Auth, AUTH_REASONS)?;
            packet.properties = AuthProperties::read(r)?;
        }
        expect_end(r, PacketType::Auth)?;
        packet.check()?;
        Ok(packet)
    }

    /// v5 3.15.2.2.2: "It is a Protocol Error to omit the Authentication Method".
    fn check(&self) -> Result<(), Error> {
        if self.properties.authentication_method.is_none() {
            return Err(Error::MissingAuthenticationMethod(PacketType::Auth));
        }
        Ok(())
    }
}

encode_methods!(Auth);

impl Body for Auth {
    fn packet_type(&self) -> PacketType {
        PacketType::Auth
    }

    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if version == ProtocolVersion::V311 {
            return Err(EncodeError::NotInVersion {
                what: "AUTH",
                version,
            });
        }
        check_reason_to_send(self.reason_code, PacketType::Auth, AUTH_REASONS)?;
        // With its Authentication Method an AUTH always has properties: the short form of
        // 3.15.2.1 (no Reason Code, no properties) is never written.
        self.check()?;
        Ok(1 + block_len(self.properties.encoded_len()?))
    }

    fn write_body<B: BufMut>(&self, _: ProtocolVersion, _: usize, buf: &mut B) {
        buf.put_u8(self.reason_code.value());
        let props = self.properties.encoded_len().unwrap_or(0);
        self.properties.write(props, buf);
    }
}
