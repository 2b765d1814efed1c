//! The RAM the sensor needs, measured: the size of the [`Client`] value and the most heap the
//! session and the client hold while a device connects and publishes QoS 1 readings. The
//! crate's README states both figures; this test fails when they no longer hold. Needs root
//! (a network namespace of its own, see `support`).

#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use embassy_net::{IpEndpoint, Stack};
use mqtt_embassy::{Client, Config, QoS};
use mqtt_proto::{MqttString, ProtocolVersion};
use mqtt_test_support::alloc::{self, Counting};
use mqtt_test_support::mosquitto::{Mosquitto, Options};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use support::{BROKER_ADDRESS, BROKER_PORT};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The most heap held above what was allocated before the client was made.
static HEAP_PEAK: AtomicUsize = AtomicUsize::new(0);

/// The README's heap bound for the sensor, in bytes.
const README_HEAP_BOUND: usize = 8 * 1024;

async fn sensor(stack: Stack<'static>) -> Result<(), String> {
    let rx: &'static mut [u8] = Box::leak(vec![0; 1024].into_boxed_slice());
    let tx: &'static mut [u8] = Box::leak(vec![0; 1024].into_boxed_slice());
    let broker = IpEndpoint::new(BROKER_ADDRESS.into(), BROKER_PORT);
    let mut config = Config::new(
        ProtocolVersion::V5,
        MqttString::try_from("sensor-1").unwrap(),
    );
    config.keep_alive = core::time::Duration::from_secs(30);
    let base = alloc::current();
    alloc::reset_peak();
    let mut client = Client::new(stack, rx, tx, broker, config)
        .map_err(|e| e.to_string())?
        .with_inbox_capacity(1);
    client
        .connect()
        .await
        .map_err(|e| format!("connect: {e}"))?;
    for n in 0..50u32 {
        let reading = format!("{}.{:02}", 21 + n % 3, n % 100);
        client
            .publish(
                "sensors/sensor-1/temperature",
                reading.as_bytes(),
                QoS::AtLeastOnce,
            )
            .await
            .map_err(|e| format!("publish: {e}"))?;
        client
            .run_for(embassy_time::Duration::from_millis(5))
            .await
            .map_err(|e| format!("run_for: {e}"))?;
    }
    client
        .disconnect()
        .await
        .map_err(|e| format!("disconnect: {e}"))?;
    HEAP_PEAK.store(alloc::peak().saturating_sub(base), SeqCst);
    Ok(())
}

#[test]
fn the_readme_states_the_ram_the_sensor_needs() {
    support::in_namespace("the_readme_states_the_ram_the_sensor_needs", || {
        let _broker = Mosquitto::start(Options {
            extra_config: vec![format!("listener {BROKER_PORT} {BROKER_ADDRESS}")],
            persistence: false,
        })
        .unwrap();
        support::run_embassy(embassy_time::Duration::from_secs(60), |stack| {
            Box::pin(sensor(stack))
        });
        let client = core::mem::size_of::<Client<'static>>();
        let heap = HEAP_PEAK.load(SeqCst);
        println!("size_of::<Client>() = {client} bytes; heap peak while publishing 50 QoS 1 readings = {heap} bytes");
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        assert!(
            readme.contains(&format!("`Client` value: {client} bytes")),
            "README.md must state \"`Client` value: {client} bytes\""
        );
        assert!(
            heap > 0 && heap <= README_HEAP_BOUND,
            "the heap peak {heap} is not within the README's {README_HEAP_BOUND} bytes"
        );
    });
}
