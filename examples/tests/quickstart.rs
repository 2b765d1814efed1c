//! The README's run command: `quickstart` with its embedded broker (no broker installed), and
//! with `--url` against a mosquitto the test starts itself.
#![allow(clippy::unwrap_used, clippy::panic)]

use mqtt_test_support::Mosquitto;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn run(args: &[&str]) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_quickstart"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The program gives up by itself after 20 s; this bounds the wait if it does not.
    let deadline = Instant::now() + Duration::from_secs(40);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("quickstart did not finish");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn check(output: &str) {
    for qos in 0..3 {
        assert!(
            output.contains(&format!("published to quickstart/qos{qos}")),
            "{output}"
        );
        assert!(output.contains(&format!("hello at QoS {qos}")), "{output}");
    }
    assert_eq!(
        output.matches("received on quickstart/").count(),
        3,
        "{output}"
    );
    assert!(output.contains("disconnected"), "{output}");
}

#[test]
fn runs_with_its_embedded_broker_in_both_versions() {
    for protocol in ["5", "3.1.1"] {
        let (ok, output) = run(&["--protocol", protocol]);
        assert!(ok, "{output}");
        assert!(output.contains("embedded broker"), "{output}");
        check(&output);
    }
}

#[test]
fn runs_against_a_given_broker() {
    let broker = Mosquitto::plain().unwrap();
    let url = format!("mqtt://127.0.0.1:{}", broker.port());
    for protocol in ["5", "3.1.1"] {
        let (ok, output) = run(&["--url", &url, "--protocol", protocol]);
        assert!(ok, "{output}");
        assert!(!output.contains("embedded broker"), "{output}");
        check(&output);
        // mosquitto delivers at the lower of the publish and subscription QoS.
        assert!(
            output.contains("received on quickstart/qos0 at QoS 0"),
            "{output}"
        );
    }
}
