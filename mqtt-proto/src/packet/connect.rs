//! CONNECT (section 3.1) and CONNACK (section 3.2).

use bytes::{BufMut, Bytes};

use super::{check_reason, check_reason_to_send, encode_methods, expect_end, Body, PacketType};
use crate::error::{EncodeError, Error};
use crate::property::{block_len, ConnAckProperties, ConnectProperties, WillProperties};
use crate::string::MqttString;
use crate::topic::TopicName;
use crate::wire::{check_binary, put_binary, Reader};
use crate::{ProtocolVersion, QoS, ReasonCode};

const PROTOCOL_NAME: &[u8] = b"MQTT";

/// A will: the message the server publishes when the connection ends without a DISCONNECT
/// (section 3.1.2.5 and 3.1.3.2-3.1.3.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    /// Will Topic.
    pub topic: TopicName,
    /// Will Payload.
    pub payload: Bytes,
    /// Will QoS.
    pub qos: QoS,
    /// Will Retain.
    pub retain: bool,
    /// Will Properties (v5).
    pub properties: WillProperties,
}

impl Will {
    /// A will with QoS 0, not retained, without properties.
    pub fn new(topic: TopicName, payload: impl Into<Bytes>) -> Self {
        Will {
            topic,
            payload: payload.into(),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: WillProperties::default(),
        }
    }
}

/// CONNECT: the first packet a client sends (section 3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// The protocol version, from the Protocol Level byte.
    pub protocol_version: ProtocolVersion,
    /// Clean Start (v5) / Clean Session (v3.1.1).
    pub clean_start: bool,
    /// Keep Alive in seconds; 0 turns it off (section 3.1.2.10).
    pub keep_alive: u16,
    /// Client Identifier; may be empty, asking the server to assign one.
    pub client_id: MqttString,
    /// The will, if any.
    pub will: Option<Will>,
    /// User Name.
    pub username: Option<MqttString>,
    /// Password (binary data).
    pub password: Option<Bytes>,
    /// Properties (v5).
    pub properties: ConnectProperties,
}

impl Connect {
    /// A CONNECT for `version` with clean start, a 60-second keep-alive and no will or
    /// credentials.
    pub fn new(protocol_version: ProtocolVersion, client_id: MqttString) -> Self {
        Connect {
            protocol_version,
            clean_start: true,
            keep_alive: 60,
            client_id,
            will: None,
            username: None,
            password: None,
            properties: ConnectProperties::default(),
        }
    }
}

encode_methods!(Connect);

impl Body for Connect {
    fn packet_type(&self) -> PacketType {
        PacketType::Connect
    }

    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if self.protocol_version != version {
            return Err(Error::UnsupportedProtocolLevel(self.protocol_version.level()).into());
        }
        let v5 = version == ProtocolVersion::V5;
        // Protocol Name, Level, Connect Flags, Keep Alive.
        let mut len = 2 + PROTOCOL_NAME.len() + 1 + 1 + 2;
        if v5 {
            check_authentication(&self.properties)?;
            len += block_len(self.properties.encoded_len()?);
        }
        len += self.client_id.encoded_len();
        if let Some(will) = &self.will {
            if v5 {
                len += block_len(will.properties.encoded_len()?);
            }
            if will.topic.is_empty() {
                return Err(Error::EmptyTopicName.into());
            }
            check_binary(&will.payload)?;
            len += will.topic.as_mqtt_str().encoded_len() + 2 + will.payload.len();
        }
        if let Some(username) = &self.username {
            len += username.encoded_len();
        }
        // [MQTT-3.1.3-7] (v3.1.1): an empty Client Identifier needs a clean session.
        if !v5 && self.client_id.is_empty() && !self.clean_start {
            return Err(Error::EmptyClientIdWithoutCleanSession.into());
        }
        if let Some(password) = &self.password {
            // [MQTT-3.1.2-22]: v3.1.1 has no password without a user name.
            if !v5 && self.username.is_none() {
                return Err(Error::PasswordWithoutUsername.into());
            }
            check_binary(password)?;
            len += 2 + password.len();
        }
        Ok(len)
    }

    fn write_body<B: BufMut>(&self, version: ProtocolVersion, _: usize, buf: &mut B) {
        put_binary(buf, PROTOCOL_NAME);
        buf.put_u8(version.level());
        let mut flags = 0u8;
        if self.clean_start {
            flags |= 0x02;
        }
        if let Some(will) = &self.will {
            flags |= 0x04 | ((will.qos as u8) << 3);
            if will.retain {
                flags |= 0x20;
            }
        }
        if self.password.is_some() {
            flags |= 0x40;
        }
        if self.username.is_some() {
            flags |= 0x80;
        }
        buf.put_u8(flags);
        buf.put_u16(self.keep_alive);
        let v5 = version == ProtocolVersion::V5;
        if v5 {
            // The lengths were checked by body_len; a failure here cannot happen.
            let len = self.properties.encoded_len().unwrap_or(0);
            self.properties.write(len, buf);
        }
        put_binary(buf, self.client_id.as_bytes());
        if let Some(will) = &self.will {
            if v5 {
                let len = will.properties.encoded_len().unwrap_or(0);
                will.properties.write(len, buf);
            }
            put_binary(buf, will.topic.as_bytes());
            put_binary(buf, &will.payload);
        }
        if let Some(username) = &self.username {
            put_binary(buf, username.as_bytes());
        }
        if let Some(password) = &self.password {
            put_binary(buf, password);
        }
    }
}

impl Connect {
    pub(crate) fn read_body(
        r: &mut Reader,
        _: u8,
        version: ProtocolVersion,
    ) -> Result<Self, Error> {
        // [MQTT-3.1.2-1]
        if r.binary()? != PROTOCOL_NAME {
            return Err(Error::InvalidProtocolName);
        }
        // [MQTT-3.1.2-2]
        let level = r.u8()?;
        if ProtocolVersion::from_level(level) != Some(version) {
            return Err(Error::UnsupportedProtocolLevel(level));
        }
        let flags = r.u8()?;
        // [MQTT-3.1.2-3]
        if flags & 0x01 != 0 {
            return Err(Error::ReservedConnectFlag);
        }
        let clean_start = flags & 0x02 != 0;
        let will_flag = flags & 0x04 != 0;
        let will_qos = (flags >> 3) & 0x03;
        let will_retain = flags & 0x20 != 0;
        let password_flag = flags & 0x40 != 0;
        let username_flag = flags & 0x80 != 0;
        // [MQTT-3.1.2-11], [MQTT-3.1.2-13] (and v3.1.1 [MQTT-3.1.2-15])
        if !will_flag && (will_qos != 0 || will_retain) {
            return Err(Error::InvalidWillFlags);
        }
        // v5 [MQTT-3.1.2-12]; v3.1.1 [MQTT-3.1.2-14]
        let will_qos = QoS::from_u8(will_qos).ok_or(Error::InvalidQoS)?;
        // [MQTT-3.1.2-22] (v3.1.1 only; v5 allows a password alone)
        let v5 = version == ProtocolVersion::V5;
        if !v5 && password_flag && !username_flag {
            return Err(Error::PasswordWithoutUsername);
        }
        let keep_alive = r.u16()?;
        let properties = if v5 {
            let properties = ConnectProperties::read(r)?;
            check_authentication(&properties)?;
            properties
        } else {
            ConnectProperties::default()
        };
        // [MQTT-3.1.3-1], [MQTT-3.1.3-3]: the payload fields appear in this order, the Client
        // Identifier first; the flags say which are present (v5 [MQTT-3.1.2-9],
        // [MQTT-3.1.2-16], [MQTT-3.1.2-17], [MQTT-3.1.2-18], [MQTT-3.1.2-19]; v3.1.1
        // [MQTT-3.1.2-9], [MQTT-3.1.2-18], [MQTT-3.1.2-19], [MQTT-3.1.2-20], [MQTT-3.1.2-21]). Client Identifier, Will Topic and User Name are UTF-8 Encoded
        // Strings ([MQTT-3.1.3-4]; v5 [MQTT-3.1.3-11], [MQTT-3.1.3-12]; v3.1.1 [MQTT-3.1.3-10],
        // [MQTT-3.1.3-11]).
        let client_id = r.string()?;
        // [MQTT-3.1.3-7] (v3.1.1): refused as the encoder refuses it; the server answers with
        // `reason_code()`, Client Identifier not valid = return code 2 [MQTT-3.1.3-8].
        if !v5 && client_id.is_empty() && !clean_start {
            return Err(Error::EmptyClientIdWithoutCleanSession);
        }
        let will = if will_flag {
            let properties = if v5 {
                WillProperties::read(r)?
            } else {
                WillProperties::default()
            };
            let topic = r.topic_name()?;
            if topic.is_empty() {
                return Err(Error::EmptyTopicName);
            }
            Some(Will {
                topic,
                payload: r.binary()?,
                qos: will_qos,
                retain: will_retain,
                properties,
            })
        } else {
            None
        };
        let username = if username_flag {
            Some(r.string()?)
        } else {
            None
        };
        let password = if password_flag {
            Some(r.binary()?)
        } else {
            None
        };
        expect_end(r, PacketType::Connect)?;
        Ok(Connect {
            protocol_version: version,
            clean_start,
            keep_alive,
            client_id,
            will,
            username,
            password,
            properties,
        })
    }
}

/// v5 3.1.2.11.10: "It is a Protocol Error to include Authentication Data if there is no
/// Authentication Method."
fn check_authentication(properties: &ConnectProperties) -> Result<(), Error> {
    if properties.authentication_data.is_some() && properties.authentication_method.is_none() {
        return Err(Error::MissingAuthenticationMethod(PacketType::Connect));
    }
    Ok(())
}

/// CONNACK reason codes (section 3.2.2.2).
const CONNACK_REASONS: &[u8] = &[
    0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
    0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
];

/// CONNACK: the server's answer to CONNECT (section 3.2). A v3.1.1 return code is carried as
/// the matching [`ReasonCode`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnAck {
    /// Session Present.
    pub session_present: bool,
    /// Connect Reason Code (v3.1.1 return codes map onto these).
    pub reason_code: ReasonCode,
    /// Properties (v5).
    pub properties: ConnAckProperties,
}

encode_methods!(ConnAck);

impl Body for ConnAck {
    fn packet_type(&self) -> PacketType {
        PacketType::ConnAck
    }

    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        // [MQTT-3.2.2-6] (v3.1.1: [MQTT-3.2.2-4])
        if self.session_present && self.reason_code.is_error() {
            return Err(Error::SessionPresentWithError.into());
        }
        match version {
            ProtocolVersion::V311 => {
                if self.reason_code.to_v311_connack().is_none() {
                    return Err(EncodeError::NotInVersion {
                        what: "this CONNACK reason code",
                        version,
                    });
                }
                Ok(2)
            }
            ProtocolVersion::V5 => {
                check_reason_to_send(self.reason_code, PacketType::ConnAck, CONNACK_REASONS)?;
                Ok(2 + block_len(self.properties.encoded_len()?))
            }
        }
    }

    fn write_body<B: BufMut>(&self, version: ProtocolVersion, _: usize, buf: &mut B) {
        buf.put_u8(u8::from(self.session_present));
        match version {
            ProtocolVersion::V311 => buf.put_u8(self.reason_code.to_v311_connack().unwrap_or(0)),
            ProtocolVersion::V5 => {
                buf.put_u8(self.reason_code.value());
                let len = self.properties.encoded_len().unwrap_or(0);
                self.properties.write(len, buf);
            }
        }
    }
}

impl ConnAck {
    pub(crate) fn read_body(
        r: &mut Reader,
        _: u8,
        version: ProtocolVersion,
    ) -> Result<Self, Error> {
        let flags = r.u8()?;
        // [MQTT-3.2.2-1] (v5; v3.1.1 section 3.2.2.1)
        if flags & 0xFE != 0 {
            return Err(Error::ReservedConnAckFlags(flags));
        }
        let session_present = flags & 0x01 != 0;
        let code = r.u8()?;
        let (reason_code, properties) = match version {
            ProtocolVersion::V311 => (
                ReasonCode::from_v311_connack(code).ok_or(Error::InvalidReasonCode {
                    packet: PacketType::ConnAck,
                    code,
                })?,
                ConnAckProperties::default(),
            ),
            // [MQTT-3.2.2-8]
            ProtocolVersion::V5 => (
                check_reason(code, PacketType::ConnAck, CONNACK_REASONS)?,
                ConnAckProperties::read(r)?,
            ),
        };
        // [MQTT-3.2.2-6] (v3.1.1: [MQTT-3.2.2-4])
        if session_present && reason_code.is_error() {
            return Err(Error::SessionPresentWithError);
        }
        expect_end(r, PacketType::ConnAck)?;
        Ok(ConnAck {
            session_present,
            reason_code,
            properties,
        })
    }
}
