//! Tests of a driver's turns, by what they prove.

use bytes::BytesMut;
use mqtt_proto::ReasonCode;

mod disconnect;
mod save;

/// A v3.1.1 CONNACK accepting a new session, for the tests of a driver's turns.
fn connack(buf: &mut BytesMut) {
    use mqtt_proto::{ConnAck, Packet, ProtocolVersion};
    Packet::ConnAck(Box::new(ConnAck {
        session_present: false,
        reason_code: ReasonCode::Success,
        properties: Default::default(),
    }))
    .encode(ProtocolVersion::V311, buf)
    .unwrap();
}
