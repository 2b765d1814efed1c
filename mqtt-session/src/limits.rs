//! Whether a PUBLISH may be sent at all: the client's own size limit and the limits the
//! server announced in CONNACK.

use mqtt_proto::{Publish, QoS};

use crate::event::{Error, PublishFailure, ServerLimits};

/// The limit a PUBLISH is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exceeded {
    /// The configured maximum outgoing packet size.
    OwnSize { size: usize, max: u32 },
    /// The server's Maximum Packet Size [MQTT-3.2.2-15].
    ServerSize { size: usize, max: u32 },
    /// The server's Maximum QoS [MQTT-3.2.2-11].
    QoS(QoS),
    /// Retain Available 0 [MQTT-3.2.2-14].
    Retain,
}

impl Exceeded {
    /// The refusal of a publish that was not accepted.
    pub(crate) fn error(self) -> Error {
        match self {
            Exceeded::OwnSize { size, max } => Error::ExceedsOutgoingLimit { size, max },
            Exceeded::ServerSize { size, max } => Error::PacketTooLarge { size, max },
            Exceeded::QoS(q) => Error::QoSNotSupported(q),
            Exceeded::Retain => Error::RetainNotSupported,
        }
    }

    /// The failure of a publish that was accepted and can no longer be sent.
    pub(crate) fn failure(self) -> PublishFailure {
        match self {
            Exceeded::OwnSize { size, max } => PublishFailure::ExceedsOutgoingLimit { size, max },
            Exceeded::ServerSize { size, max } => PublishFailure::PacketTooLarge { size, max },
            Exceeded::QoS(q) => PublishFailure::QoSNotSupported(q),
            Exceeded::Retain => PublishFailure::RetainNotSupported,
        }
    }
}

/// Checks a PUBLISH of `size` bytes against `own_max` and, when a connection told them, the
/// server's limits. Of two size limits the lower one is reported, the one that binds.
pub(crate) fn check(
    publish: &Publish,
    size: usize,
    own_max: Option<u32>,
    server: Option<&ServerLimits>,
) -> Result<(), Exceeded> {
    let server_max = server.and_then(|s| s.maximum_packet_size);
    if let Some(max) = own_max {
        if size > max as usize && server_max.is_none_or(|m| m >= max) {
            return Err(Exceeded::OwnSize { size, max });
        }
    }
    let Some(server) = server else {
        return Ok(());
    };
    if let Some(max) = server_max {
        if size > max as usize {
            return Err(Exceeded::ServerSize { size, max });
        }
    }
    if publish.qos() > server.maximum_qos {
        return Err(Exceeded::QoS(publish.qos()));
    }
    if publish.retain && !server.retain_available {
        return Err(Exceeded::Retain);
    }
    Ok(())
}
