//! A network of the test's own for embassy-net: the test binary runs each scenario again in
//! a new network namespace (`unshare --net`), where a TAP device with the host side's address
//! stands for the device's Ethernet, mosquitto listens on that address, and the embassy stack
//! (static address, no DHCP) runs on embassy's std executor and clock.
//!
//! `unshare --net` rather than a named `ip netns`: the namespace ends with the process, so a
//! test that fails, hangs and is killed leaves nothing behind. It needs root (CAP_SYS_ADMIN);
//! without it the test fails and says so.

#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

use embassy_executor::{Executor, Spawner};
use embassy_net::{Ipv4Address, Ipv4Cidr, Runner, Stack, StackResources, StaticConfigV4};
use embassy_net_tuntap::TunTapDevice;
use std::future::Future;
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The TAP device in the test's namespace.
pub const TAP: &str = "tap0";
/// The host side of the TAP device: where mosquitto listens.
pub const BROKER_ADDRESS: Ipv4Address = Ipv4Address::new(10, 42, 0, 1);
/// The embassy stack's static address.
pub const DEVICE_ADDRESS: Ipv4Address = Ipv4Address::new(10, 42, 0, 2);
/// The port of mosquitto's listener on [`BROKER_ADDRESS`].
pub const BROKER_PORT: u16 = 1883;

/// Set in the re-executed test process: the name of the scenario to run in the namespace.
const INSIDE: &str = "MQTT_EMBASSY_SCENARIO";
/// How long one scenario's process may take before the test kills it and fails.
const PROCESS_LIMIT: Duration = Duration::from_secs(180);

/// Runs `scenario` in a network namespace of its own: outside it, re-executes this test
/// (`name`, its full path in the test binary) under `unshare --net` and fails unless that
/// process succeeds in time; inside, sets up the TAP network and runs `scenario`.
pub fn in_namespace(name: &str, scenario: impl FnOnce()) {
    if std::env::var(INSIDE).as_deref() == Ok(name) {
        set_up_network();
        scenario();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new("unshare")
        .args(["--net", "--"])
        .arg(&exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(INSIDE, name)
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run `unshare` ({e}): install util-linux (apt-get install -y util-linux)")
        });
    let deadline = Instant::now() + PROCESS_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("scenario {name} did not finish within {PROCESS_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "scenario {name} failed in its network namespace ({status}); it needs root to create \
         one (`unshare --net`) and /dev/net/tun: run the tests as root"
    );
}

/// Loopback up, and the TAP device with the broker's address.
fn set_up_network() {
    let commands: [&[&str]; 4] = [
        &["link", "set", "lo", "up"],
        &["tuntap", "add", "dev", TAP, "mode", "tap"],
        &["addr", "add", "10.42.0.1/24", "dev", TAP],
        &["link", "set", TAP, "up"],
    ];
    for args in commands {
        let status = Command::new("ip").args(args).status().unwrap_or_else(|e| {
            panic!("cannot run `ip` ({e}): install iproute2 (apt-get install -y iproute2)")
        });
        assert!(status.success(), "ip {args:?} failed: {status}");
    }
}

/// A scenario's body, run as a task on the embassy executor.
pub type Body = Pin<Box<dyn Future<Output = Result<(), String>>>>;

/// Runs `body(stack)` on an embassy std executor with an embassy-net stack over the TAP
/// device, bounded by `limit` of embassy time, and returns its result.
pub fn run_embassy(limit: embassy_time::Duration, body: impl FnOnce(Stack<'static>) -> Body) {
    let device = TunTapDevice::new(TAP).unwrap();
    let config = embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(DEVICE_ADDRESS, 24),
        gateway: None,
        dns_servers: Default::default(),
    });
    let resources: &'static mut StackResources<4> = Box::leak(Box::new(StackResources::new()));
    let (stack, runner) = embassy_net::new(device, config, resources, 0x5eed);
    let result: &'static Mutex<Option<Result<(), String>>> = Box::leak(Box::new(Mutex::new(None)));
    let body = body(stack);
    let executor: &'static mut Executor = Box::leak(Box::new(Executor::new()));
    executor.run_until(
        |spawner: Spawner| {
            spawner.spawn(net_task(runner).unwrap());
            spawner.spawn(scenario_task(stack, limit, body, result).unwrap());
        },
        || result.lock().unwrap().is_some(),
    );
    let outcome = result.lock().unwrap().take().unwrap();
    if let Err(e) = outcome {
        panic!("{e}");
    }
}

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, TunTapDevice>) -> ! {
    runner.run().await
}

#[embassy_executor::task]
async fn scenario_task(
    stack: Stack<'static>,
    limit: embassy_time::Duration,
    body: Body,
    result: &'static Mutex<Option<Result<(), String>>>,
) {
    stack.wait_config_up().await;
    let outcome = embassy_time::with_timeout(limit, body)
        .await
        .unwrap_or_else(|_| Err(format!("the scenario did not finish within {limit:?}")));
    *result.lock().unwrap() = Some(outcome);
}

/// Runs a mosquitto client tool (`mosquitto_sub`, `mosquitto_pub`) to completion; its own
/// `-W` bounds it.
pub fn mosquitto_tool(tool: &str, args: &[&str]) -> String {
    let output = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!(
            "cannot run {tool} ({e}): apt-get install -y mosquitto-clients (scripts/test.sh does)"
        )
    });
    assert!(
        output.status.success(),
        "{tool} {args:?} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
