//! Runs the `custom-event-loop` example against a mosquitto the test starts itself, in both
//! protocol versions: the sans-IO core talking to a real broker over a blocking socket.
#![allow(clippy::unwrap_used, clippy::panic)]

use mqtt_test_support::Mosquitto;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn run(port: u16, protocol: &str) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_custom-event-loop"))
        .args(["--port", &port.to_string(), "--protocol", protocol])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The example stops itself after 10 s; this bounds the wait in case it does not.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            return (status.success(), text);
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("custom-event-loop did not finish");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn publishes_and_receives_qos_1_and_2_through_mosquitto() {
    let broker = Mosquitto::plain().unwrap();
    for protocol in ["5", "3.1.1"] {
        let (ok, output) = run(broker.port(), protocol);
        assert!(ok, "protocol {protocol}:\n{output}");
        assert!(
            output.contains("done: 2 messages received, 2 publishes completed"),
            "{output}"
        );
        assert!(output.contains("Connected("), "{output}");
        assert_eq!(output.matches("Message(").count(), 2, "{output}");
    }
}
