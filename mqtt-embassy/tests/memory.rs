//! The RAM the sensor needs, measured: the size of the [`Client`] value with the sensor
//! example's capacities and the most heap the session and the client hold while a device
//! connects and publishes QoS 1 readings. The crate's README states both figures; this test
//! fails when they no longer hold. Needs root (a network namespace of its own, see `support`).

#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use embassy_net::{IpEndpoint, Stack};
use mqtt_embassy::{Bounded, Client, Config, QoS};
use mqtt_proto::{MqttString, ProtocolVersion};
use mqtt_test_support::alloc::{self, Counting};
use mqtt_test_support::mosquitto::{Mosquitto, Options};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use support::{BROKER_ADDRESS, BROKER_PORT};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The most heap held above what was allocated before the client was made.
static HEAP_PEAK: AtomicUsize = AtomicUsize::new(0);

/// The heap held after this many readings and after the last one, measured in the steady
/// state: a sensor whose heap grows reading after reading would run out of it.
static HELD_AFTER_WARM_UP: AtomicUsize = AtomicUsize::new(0);
static HELD_AT_THE_END: AtomicUsize = AtomicUsize::new(0);
const WARM_UP: u32 = 10;
const READINGS: u32 = 50;

/// The README's heap bound for the sensor, in bytes.
const README_HEAP_BOUND: usize = 4 * 1024;

/// The client of `examples/sensor.rs`, with its capacities.
type SensorClient = Client<'static, Bounded<2, 1, 1, 1>, 1>;

async fn sensor(stack: Stack<'static>) -> Result<(), String> {
    let rx: &'static mut [u8] = Box::leak(vec![0; 1024].into_boxed_slice());
    let tx: &'static mut [u8] = Box::leak(vec![0; 1024].into_boxed_slice());
    let broker = IpEndpoint::new(BROKER_ADDRESS.into(), BROKER_PORT);
    let mut config = Config::new(
        ProtocolVersion::V5,
        MqttString::try_from("sensor-1").unwrap(),
    );
    config.keep_alive = core::time::Duration::from_secs(30);
    config.maximum_packet_size = 1024;
    let base = alloc::current();
    alloc::reset_peak();
    let mut client = SensorClient::new(stack, rx, tx, broker, config).map_err(|e| e.to_string())?;
    client
        .connect()
        .await
        .map_err(|e| format!("connect: {e}"))?;
    for n in 0..READINGS {
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
        let held = alloc::current().saturating_sub(base);
        if n + 1 == WARM_UP {
            HELD_AFTER_WARM_UP.store(held, SeqCst);
        }
        if n + 1 == READINGS {
            HELD_AT_THE_END.store(held, SeqCst);
        }
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
        let client = core::mem::size_of::<SensorClient>();
        let heap = HEAP_PEAK.load(SeqCst);
        let (warm, end) = (
            HELD_AFTER_WARM_UP.load(SeqCst),
            HELD_AT_THE_END.load(SeqCst),
        );
        println!(
            "size_of::<SensorClient>() = {client} bytes (of which the session {} bytes, the \
             inbox's message {} bytes, the TCP socket handle {} bytes); heap peak while \
             publishing {READINGS} QoS 1 readings = {heap} bytes; heap held after {WARM_UP} \
             readings = {warm} bytes, after {READINGS} = {end} bytes",
            core::mem::size_of::<mqtt_embassy::Session<mqtt_embassy::Instant, Bounded<2, 1, 1, 1>>>(
            ),
            core::mem::size_of::<mqtt_embassy::Message>(),
            core::mem::size_of::<embassy_net::tcp::TcpSocket<'static>>(),
        );
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        assert!(
            readme.contains(&format!("`Client` value: {client} bytes")),
            "README.md must state \"`Client` value: {client} bytes\""
        );
        let bound = format!("at most {README_HEAP_BOUND} bytes of heap");
        assert!(readme.contains(&bound), "README.md must state \"{bound}\"");
        assert!(
            heap > 0 && heap <= README_HEAP_BOUND,
            "the heap peak {heap} is not within the README's {README_HEAP_BOUND} bytes"
        );
        assert!(
            end <= warm,
            "the heap held grew from {warm} bytes after {WARM_UP} readings to {end} after {READINGS}"
        );
    });
}
