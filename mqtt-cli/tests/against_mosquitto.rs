//! The `mqtt` binary against a mosquitto each test starts, with mosquitto's own clients on the
//! other side: `mqtt pub` → `mosquitto_sub`, `mosquitto_pub` → `mqtt sub`, `mosquitto_rr` →
//! `mqtt rr --serve`, in MQTT 3.1.1 and 5. Every wait is bounded; nothing is timed.
#![allow(clippy::unwrap_used, clippy::panic)]

use mqtt_test_support::Mosquitto;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MQTT: &str = env!("CARGO_BIN_EXE_mqtt");
const VERSIONS: [&str; 2] = ["mqttv311", "mqttv5"];

/// A child killed when dropped, so that a failed test leaves nothing running.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `program` with `args`, its output piped. A missing mosquitto client is a failure
/// that says how to install it.
fn start(program: &str, args: &[&str]) -> Reaped {
    let child = Command::new(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "starting {program}: {e} (mosquitto's clients: apt-get install -y mosquitto-clients)"
            )
        });
    Reaped(child)
}

/// Runs `publish` (a fresh command each time) until `receiver` exits, at most 20 s: the
/// receiver's subscription may not be in place for the first publishes. Returns whether the
/// receiver succeeded and its stdout then stderr.
fn publish_until_received(mut receiver: Reaped, publish: impl Fn() -> Command) -> (bool, String) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if receiver.0.try_wait().unwrap().is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the receiver got nothing in 20 s"
        );
        let status = publish().status().unwrap();
        assert!(status.success(), "the publisher failed: {status}");
        // Give the receiver a moment before publishing again (a bound on retries, not a
        // measurement).
        std::thread::sleep(Duration::from_millis(200));
    }
    let child = std::mem::replace(&mut receiver.0, Command::new("true").spawn().unwrap());
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn mqtt(args: &[&str]) -> (bool, String) {
    mqtt_test_support::program::run(MQTT, args, Duration::from_secs(30))
}

fn port(broker: &Mosquitto) -> String {
    broker.port().to_string()
}

#[test]
fn mqtt_pub_reaches_mosquitto_sub() {
    let broker = Mosquitto::plain().unwrap();
    let p = port(&broker);
    for version in VERSIONS {
        for qos in ["0", "1", "2"] {
            let topic = format!("cli/pub/{version}/{qos}");
            let sub = start(
                "mosquitto_sub",
                &[
                    "-p",
                    &p,
                    "-V",
                    version,
                    "-t",
                    &topic,
                    "-q",
                    "2",
                    "-C",
                    "1",
                    "-F",
                    "%t %q %p %P",
                ],
            );
            let (ok, out) = publish_until_received(sub, || {
                let mut c = Command::new(MQTT);
                c.args(["pub", "-p", &p, "-V", version, "-t", &topic, "-q", qos]);
                c.args(["-m", "hello there"]);
                if version == "mqttv5" {
                    c.args(["-D", "publish", "user-property", "origin", "cli"]);
                }
                c
            });
            assert!(ok, "{out}");
            let expected = if version == "mqttv5" {
                format!("{topic} {qos} hello there origin:cli")
            } else {
                format!("{topic} {qos} hello there ")
            };
            assert_eq!(
                out.lines().next().map(str::trim_end),
                Some(expected.trim_end())
            );
        }
    }
}

#[test]
fn mosquitto_pub_reaches_mqtt_sub() {
    let broker = Mosquitto::plain().unwrap();
    let p = port(&broker);
    for version in VERSIONS {
        let topic = format!("cli/sub/{version}");
        let filter = format!("{topic}/#");
        let sub = start(
            MQTT,
            &[
                "sub", "-p", &p, "-V", version, "-t", &filter, "-C", "1", "-v",
            ],
        );
        let (ok, out) = publish_until_received(sub, || {
            let mut c = Command::new("mosquitto_pub");
            c.args([
                "-p",
                &p,
                "-V",
                version,
                "-t",
                &format!("{topic}/a"),
                "-m",
                "hi",
                "-q",
                "1",
            ]);
            c
        });
        assert!(ok, "{out}");
        assert_eq!(out.lines().next(), Some(format!("{topic}/a hi").as_str()));

        let sub = start(
            MQTT,
            &[
                "sub", "-p", &p, "-V", version, "-t", &filter, "-C", "1", "--json",
            ],
        );
        let (ok, out) = publish_until_received(sub, || {
            let mut c = Command::new("mosquitto_pub");
            c.args([
                "-p",
                &p,
                "-V",
                version,
                "-t",
                &format!("{topic}/j"),
                "-m",
                "{\"x\":1}",
            ]);
            if version == "mqttv5" {
                c.args(["-D", "publish", "content-type", "application/json"]);
            }
            c
        });
        assert!(ok, "{out}");
        let line = out.lines().next().unwrap();
        assert!(line.contains(&format!("\"topic\":\"{topic}/j\"")), "{line}");
        assert!(line.contains("\"payload\":\"{\\\"x\\\":1}\""), "{line}");
        if version == "mqttv5" {
            assert!(
                line.contains("\"content_type\":\"application/json\""),
                "{line}"
            );
        }
    }
}

#[test]
fn stdin_lines_go_out_one_message_each() {
    let broker = Mosquitto::plain().unwrap();
    let p = port(&broker);
    for version in VERSIONS {
        let topic = format!("cli/lines/{version}");
        let sub = start(
            "mosquitto_sub",
            &["-p", &p, "-V", version, "-t", &topic, "-C", "3"],
        );
        let (ok, out) = publish_until_received(sub, || {
            let mut c = Command::new("sh");
            let command = format!(
                "printf 'one\\ntwo\\nthree\\n' | {MQTT} pub -p {p} -V {version} -t {topic} -l -q 1 --rate 100"
            );
            c.args(["-c", &command]);
            c
        });
        assert!(ok, "{out}");
        // Retries may have sent the lines more than once; the first three arrive in order.
        let lines: Vec<&str> = out.lines().take(3).collect();
        assert_eq!(lines, ["one", "two", "three"], "{out}");
    }
}

#[test]
fn mosquitto_rr_gets_answers_from_mqtt_rr_serve() {
    let broker = Mosquitto::plain().unwrap();
    let p = port(&broker);
    let _server = start(
        MQTT,
        &[
            "rr", "--serve", "-p", &p, "-t", "cli/rr/#", "-m", "pong", "-W", "30",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    // The responder's subscription may not be in place yet: ask again until it answers.
    loop {
        let out = Command::new("mosquitto_rr")
            .args([
                "-p",
                &p,
                "-t",
                "cli/rr/1",
                "-e",
                "cli/answers",
                "-m",
                "ping",
                "-W",
                "1",
            ])
            .output()
            .unwrap_or_else(|e| panic!("mosquitto_rr: {e} (apt-get install -y mosquitto-clients)"));
        if out.status.success() {
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "pong");
            break;
        }
        assert!(Instant::now() < deadline, "no answer in 20 s");
    }
    // And our own requester, through Client::request.
    let (ok, out) = mqtt(&["rr", "-p", &p, "-t", "cli/rr/2", "-m", "ping", "-W", "10"]);
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "pong");
}

#[test]
fn rr_on_mqtt_311_says_it_needs_v5() {
    let broker = Mosquitto::plain().unwrap();
    let (ok, out) = mqtt(&[
        "rr",
        "-p",
        &port(&broker),
        "-V",
        "mqttv311",
        "-t",
        "cli/x",
        "-m",
        "a",
    ]);
    assert!(!ok);
    assert!(out.contains("MQTT 5"), "{out}");
}

#[test]
fn sub_exits_27_when_w_runs_out() {
    let broker = Mosquitto::plain().unwrap();
    let out = Command::new(MQTT)
        .args(["sub", "-p", &port(&broker), "-t", "cli/silent", "-W", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(27));
}

#[test]
fn bench_counts_every_message() {
    let broker = Mosquitto::plain().unwrap();
    for version in VERSIONS {
        let (ok, out) = mqtt(&[
            "bench",
            "-p",
            &port(&broker),
            "-V",
            version,
            "-C",
            "200",
            "--publishers",
            "2",
            "-q",
            "1",
            "--json",
            "-W",
            "20",
        ]);
        assert!(ok, "{out}");
        assert!(out.contains("\"received\":400"), "{out}");
    }
}

#[test]
fn tls_with_a_ca_file() {
    let tls = mqtt_test_support::tls::tls_broker("cli").unwrap();
    let dir = mqtt_test_support::TempDir::new("cli-ca").unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &tls.pki.ca_pem).unwrap();
    let plain = tls.broker.port().to_string();
    let sub = start("mosquitto_sub", &["-p", &plain, "-t", "cli/tls", "-C", "1"]);
    let (ok, out) = publish_until_received(sub, || {
        let mut c = Command::new(MQTT);
        c.args(["pub", "-h", "127.0.0.1", "-p", &tls.tls_port.to_string()]);
        c.args([
            "--cafile",
            ca.to_str().unwrap(),
            "-t",
            "cli/tls",
            "-m",
            "secret",
        ]);
        c
    });
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "secret");
    // Without the CA the broker's certificate is not trusted.
    let (ok, out) = mqtt(&[
        "pub",
        "-L",
        &format!("mqtts://127.0.0.1:{}/cli/tls", tls.tls_port),
        "-m",
        "x",
    ]);
    assert!(!ok, "{out}");
}
