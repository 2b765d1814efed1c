//! How a server broke the protocol: either its bytes are not a packet a server may send (the
//! decoder's finding), or the packet is well-formed but breaks a rule of the conversation
//! that only the session can see (what was asked, what is in flight, what the connection
//! set up). Each has its own text, so a report names the rule that was broken.

use mqtt_proto::{MqttString, PacketType, ReasonCode};

/// The rule a server broke; carried by
/// [`DisconnectReason::ProtocolError`](crate::DisconnectReason::ProtocolError).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolViolation {
    /// The bytes are not a valid packet, or not one a server ever sends.
    #[error("{0}")]
    Packet(#[from] mqtt_proto::Error),
    /// A packet other than CONNACK (or AUTH, v5) came first on the connection
    /// (v5 and v3.1.1 [MQTT-3.2.0-1]).
    #[error("{0} before CONNACK: a server's first packet is CONNACK (or AUTH in v5)")]
    BeforeConnAck(PacketType),
    /// A second CONNACK on one connection ([MQTT-3.2.0-2]).
    #[error("a second CONNACK on one connection")]
    SecondConnAck,
    /// CONNACK said Session Present 1 to a CONNECT with Clean Start 1 (v5 [MQTT-3.2.2-4];
    /// v3.1.1 [MQTT-3.2.2-1]).
    #[error("CONNACK with Session Present 1 answered a CONNECT with Clean Start 1")]
    SessionPresentAfterCleanStart,
    /// The server sent AUTH although our CONNECT had no Authentication Method
    /// ([MQTT-4.12.0-6]).
    #[error("AUTH from the server, but CONNECT asked for no enhanced authentication")]
    UnrequestedAuth,
    /// The server's AUTH carries a reason code the server may not send at this point: 0x18
    /// Continue authentication, or 0x00 Success once connected ([MQTT-4.12.0-2]; 0x19 is the
    /// client's, 3.15.2.1).
    #[error("AUTH with reason {0}, which a server may not send here")]
    AuthReason(ReasonCode),
    /// AUTH or CONNACK names another Authentication Method than our CONNECT
    /// ([MQTT-4.12.0-5]).
    #[error("{packet} with authentication method {got:?}, not the {sent} of our CONNECT")]
    AuthenticationMethod {
        /// The packet (AUTH or CONNACK).
        packet: PacketType,
        /// The method it carried, if any.
        got: Option<MqttString>,
        /// The method CONNECT sent.
        sent: MqttString,
    },
    /// A QoS 1/2 PUBLISH arrived while as many as our Receive Maximum were unacknowledged
    /// ([MQTT-3.3.4-9]); answered with DISCONNECT 0x93.
    #[error("QoS 1/2 PUBLISH beyond our Receive Maximum of {0} unacknowledged messages")]
    ReceiveMaximumExceeded(u16),
    /// A PUBLISH with an empty topic and a Topic Alias that was not set on this connection
    /// (3.3.2.3.4, [MQTT-3.3.2-7]).
    #[error("topic alias {0} with an empty topic name was never set on this connection")]
    UnknownTopicAlias(u16),
    /// A SUBACK or UNSUBACK whose reason codes do not match our request's filters one to one
    /// ([MQTT-3.8.4-6], [MQTT-3.9.3-1], [MQTT-3.11.3-1]).
    #[error("{packet} with {got} reason codes for a request of {expected} topic filters")]
    ReasonCodeCount {
        /// SUBACK or UNSUBACK.
        packet: PacketType,
        /// Filters in our request.
        expected: usize,
        /// Reason codes in the answer.
        got: usize,
    },
}
