//! Every example program run as a user runs it, against a broker this test starts: mosquitto
//! (plain and TLS), and the embedded rumqttd for WebSocket (Debian's mosquitto has no
//! websockets listener). The broker URL goes in as the first argument, or in `MQTT_URL`.
#![allow(clippy::unwrap_used, clippy::panic)]

use mqtt_test_support::Mosquitto;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs an example with `args` and `env`, at most 60 s (each gives up by itself after 30 s).
fn run(binary: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut child = Command::new(binary)
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {binary}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{binary} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{binary} failed:\n{text}");
    text
}

fn has(output: &str, line: &str) {
    assert!(
        output.lines().any(|l| l == line),
        "no line {line:?} in:\n{output}"
    );
}

#[test]
fn the_examples_run_against_mosquitto() {
    let broker = Mosquitto::plain().unwrap();
    let url = format!("mqtt://127.0.0.1:{}", broker.port());

    let out = run(env!("CARGO_BIN_EXE_will"), &[&url], &[]);
    has(&out, "examples/will/status: sensor-1 online");
    has(&out, "examples/will/status: sensor-1 went offline");

    // The URL from the environment this time.
    let out = run(env!("CARGO_BIN_EXE_reconnect"), &[], &[("MQTT_URL", &url)]);
    assert_eq!(out.matches("event: connected").count(), 2, "{out}");
    assert!(out.contains("event: reconnecting in"), "{out}");
    has(&out, "received: back again");

    let out = run(env!("CARGO_BIN_EXE_request-response"), &[&url], &[]);
    has(&out, "3 squared is 9");
    has(&out, "12 squared is 144");

    let out = run(env!("CARGO_BIN_EXE_manual-acks"), &[&url], &[]);
    for n in 1..=3 {
        has(&out, &format!("acknowledged job {n}"));
    }

    let dir = mqtt_test_support::TempDir::new("example-file-store").unwrap();
    let store = dir.path().join("demo.session");
    let out = run(
        env!("CARGO_BIN_EXE_file-store"),
        &[&url, store.to_str().unwrap()],
        &[],
    );
    has(&out, "all 5 messages arrived");

    for (binary, prefix) in [
        (env!("CARGO_BIN_EXE_smol-quickstart"), "smol"),
        (env!("CARGO_BIN_EXE_async-std-quickstart"), "async-std"),
    ] {
        let out = run(binary, &["--url", &url], &[]);
        assert_eq!(
            out.matches(&format!("received on {prefix}/")).count(),
            3,
            "{out}"
        );
    }
}

#[test]
fn the_tls_example_verifies_the_broker_with_its_ca() {
    let tls = mqtt_test_support::tls::tls_broker("example").unwrap();
    let dir = mqtt_test_support::TempDir::new("example-tls").unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &tls.pki.ca_pem).unwrap();
    let url = format!("mqtts://127.0.0.1:{}", tls.tls_port);
    let out = run(
        env!("CARGO_BIN_EXE_tls"),
        &[&url, ca.to_str().unwrap()],
        &[],
    );
    has(&out, "received: encrypted hello");
}

#[test]
fn the_websocket_example_runs_against_a_websocket_listener() {
    let addr = mqtt_test_support::embedded::rumqttd("ws").unwrap();
    let url = format!("ws://{addr}/mqtt");
    let out = run(env!("CARGO_BIN_EXE_websocket"), &[&url, "3.1.1"], &[]);
    has(&out, "received: hello through a WebSocket");
}
