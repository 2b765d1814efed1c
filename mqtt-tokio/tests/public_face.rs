//! A user of tokio needs `mqtt-tokio` and nothing else: an exchange with mosquitto in which
//! every type is named by an `mqtt_tokio::` path (see `mqtt_scenarios::public_face!`), so a
//! type this crate does not re-export fails to compile here.
#![allow(clippy::unwrap_used, clippy::panic)]

use mqtt_test_support::Mosquitto;

mqtt_scenarios::public_face!(mqtt_tokio);

#[test]
fn every_type_of_the_api_is_reachable_from_mqtt_tokio() {
    let broker = Mosquitto::plain().unwrap_or_else(|e| panic!("{e}"));
    let url = format!("mqtt://127.0.0.1:{}", broker.port());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for version in [
        mqtt_tokio::ProtocolVersion::V5,
        mqtt_tokio::ProtocolVersion::V311,
    ] {
        runtime.block_on(exchange(&url, version));
    }
}
