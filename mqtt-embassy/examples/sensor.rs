//! `sensor`: a device publishing a temperature reading at QoS 1 every interval, with a fixed
//! memory budget: the socket buffers are statics sized at compile time, the session's tables
//! and the inbox are fixed-capacity arrays inside the [`SensorClient`] (its capacities are
//! type parameters), and the client lives in the task's future.
//!
//! ```text
//! sensor [--tap tap0] [--address 10.42.0.2/24] [--broker 10.42.0.1:1883] [--count 10] [--interval-ms 2000]
//! ```
//!
//! On the host it runs over a Linux TAP device (embassy-net-tuntap) on embassy's std executor
//! and clock; as root:
//!
//! ```text
//! ip tuntap add dev tap0 mode tap && ip addr add 10.42.0.1/24 dev tap0 && ip link set tap0 up
//! mosquitto -p 1883 &   # listening on 10.42.0.1 too
//! cargo run -p mqtt-embassy --example sensor
//! ```
//!
//! On a device, `sensor` (the task below) stays as it is: only `main`, which makes the network
//! driver and the stack, is the board's. It exits 0 once every reading was acknowledged.

use embassy_executor::Spawner;
use embassy_net::{IpEndpoint, Ipv4Address, Ipv4Cidr, Runner, Stack, StackResources};
use embassy_net_tuntap::TunTapDevice;
use embassy_time::Duration;
use mqtt_embassy::{Bounded, Client, Config, QoS};
use mqtt_proto::{MqttString, ProtocolVersion};
use static_cell::StaticCell;

/// The TCP receive window: the largest burst the broker can send before we read.
const SOCKET_RX: usize = 1024;
/// The TCP transmit window.
const SOCKET_TX: usize = 1024;

/// The client with the sensor's capacities: 2 publishes out (each reading is awaited until its
/// PUBACK, so one is in flight), 1 unacknowledged message in (Receive Maximum 1: the sensor
/// subscribes to nothing), 1 topic alias each way (the reading's topic goes out once, then as
/// a 2-byte alias), 1 subscribe request; an inbox of 1 message.
type SensorClient = Client<'static, Bounded<2, 1, 1, 1>, 1>;

/// The largest packet the broker may send (announced in CONNECT): it bounds the read buffer.
const MAXIMUM_PACKET_SIZE: u32 = 1024;

static RX: StaticCell<[u8; SOCKET_RX]> = StaticCell::new();
static TX: StaticCell<[u8; SOCKET_TX]> = StaticCell::new();
static RESOURCES: StaticCell<StackResources<2>> = StaticCell::new();

/// What the command line says.
struct Args {
    tap: String,
    address: Ipv4Cidr,
    broker: IpEndpoint,
    count: u32,
    interval: Duration,
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("sensor: {e}");
            std::process::exit(2);
        }
    };
    let device = match TunTapDevice::new(&args.tap) {
        Ok(device) => device,
        Err(e) => {
            eprintln!(
                "sensor: cannot open TAP device {}: {e} (root and /dev/net/tun needed)",
                args.tap
            );
            std::process::exit(1);
        }
    };
    let config = embassy_net::Config::ipv4_static(embassy_net::StaticConfigV4 {
        address: args.address,
        gateway: None,
        dns_servers: Default::default(),
    });
    let (stack, runner) =
        embassy_net::new(device, config, RESOURCES.init(StackResources::new()), 7);
    spawner.spawn(net_task(runner).expect("the network task is spawned once"));
    stack.wait_config_up().await;
    let code = match sensor(stack, args.broker, args.count, args.interval).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("sensor: {e}");
            1
        }
    };
    std::process::exit(code);
}

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, TunTapDevice>) -> ! {
    runner.run().await
}

/// The device's work: connect, then one QoS 1 reading per interval, each awaited until the
/// broker's PUBACK; keep-alive and reconnecting happen while it waits.
async fn sensor(
    stack: Stack<'static>,
    broker: IpEndpoint,
    count: u32,
    interval: Duration,
) -> Result<(), mqtt_embassy::Error> {
    let mut config = Config::new(ProtocolVersion::V5, MqttString::try_from("sensor-1")?);
    config.keep_alive = core::time::Duration::from_secs(30);
    config.maximum_packet_size = MAXIMUM_PACKET_SIZE;
    let (rx, tx) = (RX.init([0; SOCKET_RX]), TX.init([0; SOCKET_TX]));
    let mut client = SensorClient::new(stack, rx, tx, broker, config)?;
    client.connect().await?;
    for n in 0..count {
        let reading = read_temperature(n);
        let mut text = [0u8; 16];
        let payload = format_centi(reading, &mut text);
        client
            .publish("sensors/sensor-1/temperature", payload, QoS::AtLeastOnce)
            .await?;
        println!(
            "published reading {n}: {}",
            core::str::from_utf8(payload).unwrap_or("?")
        );
        client.run_for(interval).await?;
    }
    client.disconnect().await
}

/// A stand-in for the sensor: hundredths of a degree.
fn read_temperature(n: u32) -> i32 {
    2150 + (n % 10) as i32 * 3
}

/// `centi` as text with two decimals (`21.53`), without an allocation.
fn format_centi(centi: i32, out: &mut [u8; 16]) -> &[u8] {
    use core::fmt::Write;
    struct Cursor<'a>(&'a mut [u8], usize);
    impl Write for Cursor<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let end = self.1 + s.len();
            let slot = self.0.get_mut(self.1..end).ok_or(core::fmt::Error)?;
            slot.copy_from_slice(s.as_bytes());
            self.1 = end;
            Ok(())
        }
    }
    let mut cursor = Cursor(out, 0);
    let sign = if centi < 0 { "-" } else { "" };
    let abs = centi.unsigned_abs();
    let _ = write!(cursor, "{sign}{}.{:02}", abs / 100, abs % 100);
    let len = cursor.1;
    &out[..len]
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        tap: "tap0".into(),
        address: Ipv4Cidr::new(Ipv4Address::new(10, 42, 0, 2), 24),
        broker: IpEndpoint::new(Ipv4Address::new(10, 42, 0, 1).into(), 1883),
        count: 10,
        interval: Duration::from_secs(2),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--tap" => args.tap = value,
            "--address" => {
                let (ip, prefix) = value.split_once('/').ok_or("--address is IP/PREFIX")?;
                let ip: Ipv4Address = ip.parse().map_err(|e| format!("--address: {e}"))?;
                let prefix: u8 = prefix.parse().map_err(|e| format!("--address: {e}"))?;
                args.address = Ipv4Cidr::new(ip, prefix);
            }
            "--broker" => {
                let addr: std::net::SocketAddrV4 =
                    value.parse().map_err(|e| format!("--broker: {e}"))?;
                args.broker = IpEndpoint::new((*addr.ip()).into(), addr.port());
            }
            "--count" => args.count = value.parse().map_err(|e| format!("--count: {e}"))?,
            "--interval-ms" => {
                let ms: u64 = value.parse().map_err(|e| format!("--interval-ms: {e}"))?;
                args.interval = Duration::from_millis(ms);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}
