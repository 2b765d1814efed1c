//! Which protocol version the next connection speaks. A server that knows only MQTT 3.1.1
//! answers a v5 CONNECT with a v3.1.1 CONNACK refusing the protocol level (return code 0x01,
//! the four bytes `20 02 00 01`: v3.1.1 [MQTT-3.1.2-2]), which is not a valid v5 CONNACK (0x01
//! is no v5 reason code), or closes the connection without a word. The first is recognised
//! for what it is; with [`Config::v311_fallback`](crate::Config::v311_fallback) either one
//! makes the next connection speak 3.1.1, as paho's clients do.

use mqtt_proto::ProtocolVersion;

/// A v3.1.1 CONNACK with return code 0x01 Connection Refused, unacceptable protocol version
/// (Session Present 0, as v3.1.1 [MQTT-3.2.2-4] requires of a refusal).
const V311_UNACCEPTABLE_PROTOCOL_VERSION: [u8; 4] = [0x20, 0x02, 0x00, 0x01];

/// What the session learns about the server's protocol version while it connects.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Negotiation {
    /// Whether the server sent anything on this connection yet.
    heard: bool,
}

impl Negotiation {
    /// A new connection: nothing heard yet.
    pub(crate) fn connecting(&mut self) {
        self.heard = false;
    }

    /// Bytes from the server before its CONNACK was decoded (`buf` starts where the next
    /// packet does): whether they are the v3.1.1 refusal of the protocol level in answer to
    /// a CONNECT of `version` v5, which a v5 decoder cannot read.
    pub(crate) fn refuses_v5(&mut self, version: ProtocolVersion, buf: &[u8]) -> bool {
        self.heard |= !buf.is_empty();
        version == ProtocolVersion::V5 && buf.starts_with(&V311_UNACCEPTABLE_PROTOCOL_VERSION)
    }

    /// The connection closed before CONNACK: whether the server closed it without a word in
    /// answer to a v5 CONNECT (as some 3.1.1-only servers do).
    pub(crate) fn silent_close(&self, version: ProtocolVersion) -> bool {
        version == ProtocolVersion::V5 && !self.heard
    }
}
