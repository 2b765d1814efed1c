//! Push delivery with a callback (`subscribe_with`, tokio's alone: it runs the callback on a
//! tokio task), against a mosquitto the test starts. Every wait is bounded. The scenarios every
//! runtime shares (manual acknowledgements, fail-over, redirects, ...) are in mqtt-scenarios
//! and run from tests/scenarios.rs.
#![allow(clippy::unwrap_used, clippy::panic)]

use mqtt_scenarios::{disconnect, options, publish, url, wait_connected, within};
use mqtt_test_support::Mosquitto;
use mqtt_tokio::QoS;

#[tokio::test]
async fn callbacks_receive_every_message() {
    let broker = Mosquitto::plain().unwrap();
    let o = options(&url(broker.port()), "cb", mqtt_proto::ProtocolVersion::V5);
    let client = mqtt_tokio::spawn(o).unwrap();
    wait_connected(&client).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let handle = within(
        "the callback subscription",
        mqtt_tokio::subscribe_with(
            &client,
            "cb/#",
            QoS::AtLeastOnce,
            move |m| {
                let _ = tx.send(m.payload().clone());
            },
            |_| {},
        ),
    )
    .await
    .unwrap();
    for n in 0..5 {
        publish(&client, "cb/t", format!("{n}"), QoS::AtLeastOnce).await;
    }
    for n in 0..5 {
        let got = within("a message through the callback", rx.recv())
            .await
            .unwrap();
        assert_eq!(got, format!("{n}").into_bytes());
    }
    handle.stop();
    disconnect(&client).await;
}
