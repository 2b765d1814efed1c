//! A user of smol or async-std needs `mqtt-smol` and nothing else: an exchange with mosquitto
//! in which every type is named by an `mqtt_smol::` path (see `mqtt_scenarios::public_face!`),
//! so a type this crate does not re-export fails to compile here. Run under smol's executor
//! and under async-std's.
#![allow(clippy::unwrap_used, clippy::panic)]

use mqtt_test_support::Mosquitto;

mqtt_scenarios::public_face!(mqtt_smol);

#[test]
fn every_type_of_the_api_is_reachable_from_mqtt_smol() {
    let broker = Mosquitto::plain().unwrap_or_else(|e| panic!("{e}"));
    let url = format!("mqtt://127.0.0.1:{}", broker.port());
    for version in [
        mqtt_smol::ProtocolVersion::V5,
        mqtt_smol::ProtocolVersion::V311,
    ] {
        smol::block_on(exchange(&url, version));
        async_std::task::block_on(exchange(&url, version));
    }
}
