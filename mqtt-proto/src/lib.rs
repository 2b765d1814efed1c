//! Every MQTT v3.1.1 and v5.0 control packet, both directions, with one type per packet shared by
//! both protocol versions.
//!
//! * **Decode** incrementally and without copies: [`Decoder::decode`] takes whole packets off the
//!   front of a [`BytesMut`](bytes::BytesMut) read buffer and leaves a partial tail in place. Topic
//!   names, payloads and binary properties of the result are [`Bytes`](bytes::Bytes) slices of that
//!   buffer. A packet whose fixed header announces more than the configured maximum packet size is
//!   refused before any of its body is buffered.
//! * **Encode** into a buffer the caller owns: [`Packet::encode`] writes into any
//!   [`BufMut`](bytes::BufMut) (a `BytesMut`, a `Vec<u8>` or a fixed `&mut [u8]`), and
//!   [`Packet::encoded_len`] tells the exact size first, so a no-alloc user can size the buffer.
//! * **Validate** everything the specifications say a receiver must check. Every failure is an
//!   [`Error`] that names the rule and maps onto the v5 [`ReasonCode`] to send back
//!   ([`Error::reason_code`]).
//!
//! ```
//! use bytes::BytesMut;
//! use mqtt_proto::{Decoded, Decoder, Packet, ProtocolVersion, Publish, QoS, QosPid, Role, TopicName};
//!
//! let publish = Publish::new(TopicName::new("sensors/1/temp")?, "21.5", QosPid::AtLeastOnce(7.try_into()?));
//! let mut wire = BytesMut::new();
//! Packet::Publish(publish.clone()).encode(ProtocolVersion::V5, &mut wire)?;
//!
//! let decoder = Decoder::new(ProtocolVersion::V5, Role::Client);
//! match decoder.decode(&mut wire)? {
//!     Decoded::Packet(Packet::Publish(p)) => {
//!         assert_eq!(p, publish);
//!         assert_eq!(p.qos(), QoS::AtLeastOnce);
//!     }
//!     other => panic!("unexpected {other:?}"),
//! }
//! # Ok::<(), Box<dyn core::error::Error>>(())
//! ```
//!
//! The crate is `#![no_std]` and needs only `alloc`; the default `std` feature exists for
//! downstream crates that want to say so.
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod decode;
mod error;
mod packet;
mod property;
mod reason;
mod string;
mod topic;
mod wire;

pub use decode::{Decoded, Decoder, MAX_REMAINING_LENGTH};
pub use error::{EncodeError, Error};
pub use packet::{
    Auth, ConnAck, Connect, Disconnect, Packet, PacketType, PubAck, PubComp, PubRec, PubRel,
    PubResponse, Publish, QosPid, RetainHandling, SubAck, Subscribe, SubscribeFilter,
    SubscriptionOptions, UnsubAck, Unsubscribe, Will,
};
pub use property::{
    AckProperties, AuthProperties, ConnAckProperties, ConnectProperties, DisconnectProperties,
    PayloadFormat, PropertyId, PropertyOrder, PublishProperties, SubscribeProperties,
    SubscriptionIdentifier, SubscriptionIdentifiers, UnsubscribeProperties, UserProperties,
    UserProperty, WillProperties,
};
pub use reason::ReasonCode;
pub use string::MqttString;
pub use topic::{TopicFilter, TopicName};
pub use wire::{varint_len, MAX_BINARY_LEN, MAX_STRING_LEN, MAX_VARINT};

use core::fmt;
use core::num::NonZeroU16;

/// The protocol version named in CONNECT's Protocol Level byte.
///
/// One API serves both: fields that only v5 carries (properties, most reason codes) are ignored
/// when encoding v3.1.1 and take their defaults when decoding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProtocolVersion {
    /// MQTT v3.1.1 (Protocol Level 4).
    V311,
    /// MQTT v5.0 (Protocol Level 5).
    V5,
}

impl ProtocolVersion {
    /// The Protocol Level byte of CONNECT.
    pub const fn level(self) -> u8 {
        match self {
            ProtocolVersion::V311 => 4,
            ProtocolVersion::V5 => 5,
        }
    }

    /// The version with this Protocol Level, if it is one this crate speaks.
    pub const fn from_level(level: u8) -> Option<Self> {
        match level {
            4 => Some(ProtocolVersion::V311),
            5 => Some(ProtocolVersion::V5),
            _ => None,
        }
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProtocolVersion::V311 => "3.1.1",
            ProtocolVersion::V5 => "5.0",
        })
    }
}

/// Quality of Service level of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum QoS {
    /// QoS 0: at most once, no acknowledgement.
    #[default]
    AtMostOnce = 0,
    /// QoS 1: at least once, acknowledged by PUBACK.
    AtLeastOnce = 1,
    /// QoS 2: exactly once, PUBREC / PUBREL / PUBCOMP.
    ExactlyOnce = 2,
}

impl QoS {
    /// The QoS with this numeric value; `None` for 3 and above, which are malformed
    /// [MQTT-3.3.1-4].
    pub const fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }
}

/// A Packet Identifier: never zero [MQTT-2.2.1-3] (v3.1.1: [MQTT-2.3.1-1]).
pub type PacketId = NonZeroU16;

/// Which end of a connection an endpoint is. The [`Decoder`] takes the role of the endpoint that
/// *sent* the bytes, so that it can refuse packets that side never sends (a CONNACK from a
/// client, a CONNECT from a server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The MQTT client.
    Client,
    /// The MQTT server (broker).
    Server,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Client => "client",
            Role::Server => "server",
        })
    }
}
