//! The rows as measured (docs/interop.md shows them): every cell is "ok" unless a finding
//! below says what the broker does instead.

use mqtt_proto::ProtocolVersion;

use super::{Broker, Cell};

/// What a broker does instead of "ok", on one version (`None`: both).
type Finding = (Broker, Option<ProtocolVersion>, Cell, &'static str);

const FINDINGS: &[Finding] = &[
    // Their own defects, seen on the wire.
    (
        Broker::Rumqttd,
        None,
        Cell::Downgrade,
        "delivers at subscription QoS",
    ),
    (
        Broker::Rumqttd,
        None,
        Cell::Aliases,
        "topics came as [\"alias/t\", \"alias/t\", \"alias/t\", \"alias/t\"] (broker allows 4096)",
    ),
    (
        Broker::Rumqttd,
        None,
        Cell::FlowControl,
        "exceeds our Receive Maximum (broker); the client closes with 0x93",
    ),
    (
        Broker::Mosquitto,
        None,
        Cell::FlowControl,
        "exceeds our Receive Maximum (broker); the client closes with 0x93",
    ),
    (
        Broker::Amqtt,
        None,
        Cell::Downgrade,
        "delivers at subscription QoS",
    ),
    (
        Broker::Amqtt,
        None,
        Cell::Resume,
        "session kept, messages lost",
    ),
    (
        Broker::Amqtt,
        None,
        Cell::Resubscribe,
        "a takeover leaves the first connection open (broker)",
    ),
    (
        Broker::Mqtt5,
        None,
        Cell::Properties,
        "ok, adds user property x-mqtt-client-id",
    ),
    // What the broker allows, as its CONNACK says.
    (
        Broker::Mosquitto,
        None,
        Cell::Aliases,
        "ok (broker allows 10)",
    ),
    (
        Broker::Mqtt5,
        None,
        Cell::Aliases,
        "ok (broker allows 65535)",
    ),
    (
        Broker::Rmqtt,
        None,
        Cell::Aliases,
        "ok (broker allows none)",
    ),
];

/// The expected row of `broker` on `version`: the cells that version has, in order.
pub(super) fn row(broker: Broker, version: ProtocolVersion) -> Vec<(&'static str, &'static str)> {
    Cell::ALL
        .iter()
        .filter(|c| version == ProtocolVersion::V5 || !c.v5_only())
        .map(|&cell| {
            let note = FINDINGS
                .iter()
                .find(|(b, v, c, _)| *b == broker && *c == cell && v.is_none_or(|v| v == version))
                .map_or("ok", |f| f.3);
            (cell.name(), note)
        })
        .collect()
}
