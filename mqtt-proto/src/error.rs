//! The errors of decoding and encoding, each naming the rule it enforces.

use crate::{PacketType, PropertyId, ProtocolVersion, ReasonCode, Role};

/// Why bytes are not a valid MQTT packet (or a value is not a valid MQTT field).
///
/// Each variant is one rule of the specifications; [`Error::reason_code`] gives the v5 reason code
/// a receiver sends in its DISCONNECT (or CONNACK) when it meets the error. Errors compare with
/// `==`, so tests assert the exact rule that fired.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A Variable Byte Integer runs over four bytes, or does not use the fewest bytes possible
    /// (sections 1.5.5 and 2.2.3, [MQTT-1.5.5-1]).
    #[error("malformed variable byte integer (over four bytes or not minimally encoded)")]
    MalformedVariableByteInteger,
    /// The packet's remaining length ends before its fields do.
    #[error("packet ends before its fields do")]
    UnexpectedEnd,
    /// Bytes remain after the last field of a packet.
    #[error("{extra} bytes after the last field of {packet}")]
    TrailingBytes {
        /// The packet.
        packet: PacketType,
        /// How many bytes were left over.
        extra: usize,
    },
    /// Packet type 0, or 15 (AUTH) in v3.1.1, is reserved (section 2.1.2).
    #[error("reserved control packet type {0}")]
    ReservedPacketType(u8),
    /// The flag bits of the fixed header are not the ones the packet type requires (v5
    /// [MQTT-2.1.3-1]; v3.1.1 [MQTT-2.2.2-1], [MQTT-2.2.2-2]).
    #[error("invalid fixed header flags {flags:#06b} for {packet}")]
    InvalidHeaderFlags {
        /// The packet.
        packet: PacketType,
        /// The low four bits of the first byte.
        flags: u8,
    },
    /// The packet is larger than the Maximum Packet Size the receiver allows (v5 3.1.2.11.4;
    /// [MQTT-3.2.2-15] / [MQTT-3.1.2-24]). Reported from the fixed header alone, before the body is
    /// buffered.
    #[error("packet of {size} bytes exceeds the maximum packet size of {max} bytes")]
    PacketTooLarge {
        /// The size of the whole packet, fixed header included.
        size: u64,
        /// The limit.
        max: u32,
    },
    /// This side of the connection never sends this packet (e.g. a CONNECT from a server, a
    /// DISCONNECT from a v3.1.1 server).
    #[error("{packet} is never sent by a {from}")]
    UnexpectedPacket {
        /// The packet.
        packet: PacketType,
        /// Who sent it.
        from: Role,
    },
    /// QoS 3 in a PUBLISH [MQTT-3.3.1-4] or a will (v5 [MQTT-3.1.2-12]; v3.1.1 [MQTT-3.1.2-14]),
    /// both Malformed Packets in v5 (3.3.1.2, 3.1.2.6), or in a v3.1.1 SUBSCRIBE's options,
    /// which v3.1.1 [MQTT-3.8.3-4] treats as malformed. (A v5 SUBSCRIBE's Maximum QoS 3 is
    /// [`Error::InvalidSubscriptionQoS`].)
    #[error("QoS value 3 is reserved")]
    InvalidQoS,
    /// DUP set on a QoS 0 PUBLISH [MQTT-3.3.1-2].
    #[error("DUP flag set on a QoS 0 PUBLISH")]
    DupWithQoS0,
    /// A Packet Identifier of zero [MQTT-2.2.1-3] (v3.1.1: [MQTT-2.3.1-1]).
    #[error("packet identifier 0")]
    PacketIdZero,
    /// A UTF-8 Encoded String (or either string of a pair, [MQTT-1.5.7-1]) that is not
    /// well-formed UTF-8, including encoded surrogates [MQTT-1.5.4-1] (v3.1.1: [MQTT-1.5.3-1]).
    #[error("string is not well-formed UTF-8")]
    InvalidUtf8,
    /// A UTF-8 Encoded String containing U+0000 [MQTT-1.5.4-2] (v3.1.1: [MQTT-1.5.3-2]).
    #[error("string contains the null character U+0000")]
    NullCharacter,
    /// A string longer than 65,535 bytes cannot be encoded (section 1.5.4).
    #[error("string of {0} bytes is longer than 65,535 bytes")]
    StringTooLong(usize),
    /// CONNECT's Protocol Name is not "MQTT" [MQTT-3.1.2-1].
    #[error("protocol name is not \"MQTT\"")]
    InvalidProtocolName,
    /// CONNECT's Protocol Level is not 4 (v3.1.1) or 5 (v5.0), or differs from the version this
    /// decoder speaks [MQTT-3.1.2-2].
    #[error("unsupported protocol level {0}")]
    UnsupportedProtocolLevel(u8),
    /// CONNECT's reserved flag is set [MQTT-3.1.2-3].
    #[error("reserved bit of the connect flags is set")]
    ReservedConnectFlag,
    /// Will QoS or Will Retain set without the Will Flag (v5 [MQTT-3.1.2-11], [MQTT-3.1.2-13];
    /// v3.1.1 [MQTT-3.1.2-11], [MQTT-3.1.2-13], [MQTT-3.1.2-15]).
    #[error("will QoS or will retain set without the will flag")]
    InvalidWillFlags,
    /// A password without a user name in v3.1.1 [MQTT-3.1.2-22].
    #[error("password flag set without the user name flag")]
    PasswordWithoutUsername,
    /// A v3.1.1 CONNECT with an empty Client Identifier must ask for a clean session
    /// [MQTT-3.1.3-7]; a server answers it with return code 2 [MQTT-3.1.3-8].
    #[error("empty client identifier without clean session")]
    EmptyClientIdWithoutCleanSession,
    /// CONNACK's reserved flag bits are set [MQTT-3.2.2-1] (v3.1.1 section 3.2.2.1).
    #[error("reserved connect acknowledge flags {0:#010b}")]
    ReservedConnAckFlags(u8),
    /// Session Present set in a CONNACK that refuses the connection [MQTT-3.2.2-6]
    /// (v3.1.1: [MQTT-3.2.2-4]).
    #[error("session present set on a refused connection")]
    SessionPresentWithError,
    /// A reason code (or v3.1.1 return code) that this packet may not carry
    /// (section 2.4; [MQTT-3.2.2-8], [MQTT-3.4.2-1], [MQTT-3.9.3-2] ...).
    #[error("reason code {code:#04x} is not valid in {packet}")]
    InvalidReasonCode {
        /// The packet.
        packet: PacketType,
        /// The code as received.
        code: u8,
    },
    /// A property identifier that MQTT v5.0 does not define (section 2.2.2.2).
    #[error("unknown property identifier {0:#04x}")]
    UnknownProperty(u32),
    /// A property that may appear once appears twice (section 2.2.2.2 and each property's text).
    #[error("property {0:?} appears more than once")]
    DuplicateProperty(PropertyId),
    /// A property identifier that is not valid for this packet type (or for the Will
    /// Properties): v5 section 2.2.2.2 makes it a Malformed Packet.
    #[error("property {property:?} is not allowed in {context}")]
    PropertyNotAllowed {
        /// What carried it: a packet name or "will properties".
        context: &'static str,
        /// The property.
        property: PropertyId,
    },
    /// A property valid for the packet type that this side may not send in it: a Subscription
    /// Identifier in a client's PUBLISH ([MQTT-3.3.4-6], a Protocol Error by section 3.3.4), a
    /// Session Expiry Interval in a server's DISCONNECT [MQTT-3.14.2-2].
    #[error("property {property:?} is not allowed in a {packet} from a {from}")]
    PropertyNotAllowedFrom {
        /// The packet.
        packet: PacketType,
        /// Who sent it.
        from: Role,
        /// The property.
        property: PropertyId,
    },
    /// An Authentication Method is missing where the packet needs one: Authentication Data in a
    /// CONNECT without it (section 3.1.2.11.10), or an AUTH without it (section 3.15.2.2.2).
    /// Both are Protocol Errors.
    #[error("{0} without an authentication method")]
    MissingAuthenticationMethod(PacketType),
    /// A property value outside what the specification allows (e.g. Receive Maximum 0, a
    /// Payload Format Indicator of 2, Maximum QoS 2).
    #[error("invalid value for property {0:?}")]
    InvalidPropertyValue(PropertyId),
    /// Topic Alias 0 [MQTT-3.3.2-8].
    #[error("topic alias 0")]
    TopicAliasZero,
    /// A wildcard character in a Topic Name [MQTT-3.3.2-2]
    /// (v3.1.1: [MQTT-3.3.2-2]).
    #[error("topic name contains a wildcard character")]
    WildcardInTopicName,
    /// An empty Topic Name where no Topic Alias stands in for it [MQTT-4.7.3-1], [MQTT-3.3.2-1].
    #[error("empty topic name")]
    EmptyTopicName,
    /// An empty Topic Filter [MQTT-4.7.3-1].
    #[error("empty topic filter")]
    EmptyTopicFilter,
    /// A `#` that is not last and alone in its level, or a `+` not alone in its level
    /// [MQTT-4.7.1-1], [MQTT-4.7.1-2] (v3.1.1: [MQTT-4.7.1-2], [MQTT-4.7.1-3]).
    #[error("wildcard character in the wrong place of a topic filter")]
    InvalidWildcard,
    /// A `$share/` filter whose ShareName is empty or holds `/`, `+` or `#`, or with no filter
    /// after it [MQTT-4.8.2-1], [MQTT-4.8.2-2].
    #[error("invalid shared subscription")]
    InvalidSharedSubscription,
    /// SUBSCRIBE or UNSUBSCRIBE without any topic filter [MQTT-3.8.3-2], [MQTT-3.10.3-2]
    /// (v3.1.1: [MQTT-3.8.3-3], [MQTT-3.10.3-2]).
    #[error("{0} without any topic filter")]
    NoTopicFilters(PacketType),
    /// Reserved bits of the subscription options set: a Malformed Packet [MQTT-3.8.3-5]
    /// (v3.1.1: [MQTT-3.8.3-4]).
    #[error("invalid subscription options byte {0:#010b}")]
    InvalidSubscriptionOptions(u8),
    /// Maximum QoS 3 in a v5 SUBSCRIBE's options byte: a Protocol Error (section 3.8.3.1).
    #[error("maximum QoS 3 in subscription options {0:#010b}")]
    InvalidSubscriptionQoS(u8),
    /// Retain Handling 3 in a v5 SUBSCRIBE's options byte: a Protocol Error (section 3.8.3.1).
    #[error("retain handling 3 in subscription options {0:#010b}")]
    InvalidRetainHandling(u8),
    /// No Local on a shared subscription [MQTT-3.8.3-4].
    #[error("no local set on a shared subscription")]
    NoLocalOnSharedSubscription,
    /// A Subscription Identifier of 0, or above 268,435,455 (section 3.8.2.1.2).
    #[error("subscription identifier out of range")]
    InvalidSubscriptionIdentifier,
}

impl Error {
    /// The v5 reason code that a receiver of the offending packet reports: 0x81 Malformed Packet
    /// when the bytes cannot be parsed, 0x82 Protocol Error when they parse but break a rule,
    /// and the specific codes (0x84, 0x8F, 0x90, 0x94, 0x95) where the specification names one.
    /// Where the specification names the class ("is a Malformed Packet", "is a Protocol
    /// Error"), this is that class; `docs/error-classes.tsv` lists every such statement of
    /// sections 1 to 3 with its test. v3.1.1 has no reason codes (the receiver closes the
    /// connection); its "malformed" errors map to 0x81 and its "protocol violations" to 0x82.
    pub const fn reason_code(&self) -> ReasonCode {
        use Error::*;
        match self {
            PacketTooLarge { .. } => ReasonCode::PacketTooLarge,
            UnsupportedProtocolLevel(_) => ReasonCode::UnsupportedProtocolVersion,
            EmptyClientIdWithoutCleanSession => ReasonCode::ClientIdentifierNotValid,
            TopicAliasZero => ReasonCode::TopicAliasInvalid,
            WildcardInTopicName => ReasonCode::TopicNameInvalid,
            EmptyTopicFilter | InvalidWildcard | InvalidSharedSubscription => {
                ReasonCode::TopicFilterInvalid
            }
            UnexpectedPacket { .. }
            | PacketIdZero
            | SessionPresentWithError
            | DuplicateProperty(_)
            | PropertyNotAllowedFrom { .. }
            | MissingAuthenticationMethod(_)
            | InvalidSubscriptionQoS(_)
            | InvalidRetainHandling(_)
            | InvalidPropertyValue(_)
            | EmptyTopicName
            | NoTopicFilters(_)
            | NoLocalOnSharedSubscription
            | InvalidSubscriptionIdentifier => ReasonCode::ProtocolError,
            MalformedVariableByteInteger
            | UnexpectedEnd
            | TrailingBytes { .. }
            | ReservedPacketType(_)
            | InvalidHeaderFlags { .. }
            | InvalidQoS
            | DupWithQoS0
            | InvalidUtf8
            | NullCharacter
            | StringTooLong(_)
            | InvalidProtocolName
            | ReservedConnectFlag
            | InvalidWillFlags
            | PasswordWithoutUsername
            | ReservedConnAckFlags(_)
            | InvalidReasonCode { .. }
            | UnknownProperty(_)
            | PropertyNotAllowed { .. }
            | InvalidSubscriptionOptions(_) => ReasonCode::MalformedPacket,
        }
    }
}

/// Why a packet could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The caller's buffer has room for fewer bytes than the packet needs; nothing was written.
    /// Retry with a buffer of at least `required` bytes.
    #[error("buffer too small: the packet needs {required} bytes, {available} are free")]
    BufferTooSmall {
        /// The whole encoded size of the packet.
        required: usize,
        /// What the buffer had room for.
        available: usize,
    },
    /// A Binary Data field (password, payload of a will, correlation or authentication data)
    /// longer than 65,535 bytes (section 1.5.6).
    #[error("binary data of {0} bytes is longer than 65,535 bytes")]
    BinaryTooLong(usize),
    /// The remaining length would exceed 268,435,455 bytes (section 2.2.3).
    #[error("packet body of {0} bytes exceeds the largest remaining length")]
    PacketTooLarge(usize),
    /// The packet or value does not exist in this protocol version (AUTH in v3.1.1, a v5-only
    /// reason code in a v3.1.1 CONNACK or SUBACK).
    #[error("{what} cannot be sent in MQTT {version}")]
    NotInVersion {
        /// What could not be represented.
        what: &'static str,
        /// The version it was encoded for.
        version: ProtocolVersion,
    },
    /// The packet breaks a rule that a receiver would reject it for; the same [`Error`] that
    /// decoding such bytes reports.
    #[error("invalid packet: {0}")]
    Invalid(#[from] Error),
}
