//! The README's run command: `quickstart` with its embedded broker (no broker installed), and
//! with `--url` against a mosquitto the test starts itself.
#![allow(clippy::unwrap_used, clippy::panic)]

use mqtt_test_support::Mosquitto;
use std::time::Duration;

fn run(args: &[&str]) -> (bool, String) {
    // The program gives up by itself after 20 s; this bounds the wait if it does not.
    mqtt_test_support::program::run(
        env!("CARGO_BIN_EXE_quickstart"),
        args,
        Duration::from_secs(40),
    )
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
    // Each message arrives at the QoS it was published with, whatever the broker.
    for qos in 0..3 {
        assert!(
            output.contains(&format!("received on quickstart/qos{qos} at QoS {qos}")),
            "{output}"
        );
    }
    assert!(output.contains("maximum QoS:"), "{output}");
    assert!(!output.contains("ServerLimits"), "{output}");
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
