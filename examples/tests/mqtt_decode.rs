//! The `mqtt-decode` tool, run as a user runs it: bytes on stdin, lines on stdout, an exit code.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::io::Write;
use std::process::{Command, Stdio};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str], input: &[u8]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mqtt-decode"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn first_words(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .map(|l| l.split(' ').next().unwrap())
        .collect()
}

#[test]
fn every_client_packet_type_of_v5_in_hex() {
    let hex = "10 0d 00 04 4d 51 54 54 05 02 00 3c 00 00 00 \
               30 06 00 01 74 00 68 69 \
               40 02 00 01  50 02 00 02  62 02 00 02  70 02 00 03 \
               82 07 00 05 00 00 01 61 01 \
               a2 06 00 06 00 00 01 61 \
               c0 00 \
               f0 06 18 04 15 00 01 61 \
               e0 01 04";
    let r = run(
        &["--hex", "--protocol", "5", "--from", "client"],
        hex.as_bytes(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        first_words(&r.stdout),
        [
            "CONNECT",
            "PUBLISH",
            "PUBACK",
            "PUBREC",
            "PUBREL",
            "PUBCOMP",
            "SUBSCRIBE",
            "UNSUBSCRIBE",
            "PINGREQ",
            "AUTH",
            "DISCONNECT"
        ]
    );
    assert!(
        r.stdout
            .contains(r#"PUBLISH topic="t" qos=0 retain=false dup=false payload="hi""#),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("DISCONNECT reason=Disconnect with Will Message (0x04)"),
        "{}",
        r.stdout
    );
}

#[test]
fn every_server_packet_type_of_v311_raw() {
    let bytes = [
        0x20, 2, 0, 0, // CONNACK
        0x90, 3, 0, 1, 0x80, // SUBACK failure
        0xb0, 2, 0, 2, // UNSUBACK
        0xd0, 0, // PINGRESP
        0x31, 5, 0, 1, b'x', b'o', b'k', // PUBLISH retained
    ];
    let r = run(&["--protocol", "3.1.1", "--from", "server"], &bytes);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        first_words(&r.stdout),
        ["CONNACK", "SUBACK", "UNSUBACK", "PINGRESP", "PUBLISH"]
    );
    assert!(
        r.stdout.contains("reasons=[Unspecified error (0x80)]"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_recorded_mosquitto_stream() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../mqtt-proto/tests/data/mosquitto/v5-pub-qos2.server.bin"
    );
    let r = run(
        &["--protocol", "5", "--from", "server"],
        &std::fs::read(path).unwrap(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(first_words(&r.stdout), ["CONNACK", "PUBREC", "PUBCOMP"]);
}

#[test]
fn malformed_packet_prints_reason_code_and_exits_1() {
    // A PUBLISH with QoS 3 after a good PINGREQ: the good packet is printed first.
    let r = run(
        &["--hex", "--protocol", "3.1.1"],
        b"c0 00 36 05 00 01 74 00 01",
    );
    assert_eq!(r.code, 1);
    assert_eq!(first_words(&r.stdout), ["PINGREQ"]);
    assert!(r.stderr.contains("Malformed Packet (0x81)"), "{}", r.stderr);
    assert!(r.stderr.contains("byte 2"), "{}", r.stderr);
}

#[test]
fn protocol_error_and_topic_name_invalid() {
    let r = run(&["--hex", "--from", "server"], b"30 06 00 03 61 2b 62 00");
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("Topic Name invalid (0x90)"),
        "{}",
        r.stderr
    );
    let r = run(&["--hex", "--from", "client"], b"20 03 00 00 00");
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("Protocol Error (0x82)"), "{}", r.stderr);
}

#[test]
fn input_ending_inside_a_packet_is_an_error() {
    let r = run(&["--hex"], b"c0 00 30 05 00");
    assert_eq!(r.code, 1);
    assert_eq!(first_words(&r.stdout), ["PINGREQ"]);
    assert!(r.stderr.contains("Malformed Packet (0x81)"), "{}", r.stderr);
    assert!(r.stderr.contains("ends inside a packet"), "{}", r.stderr);
}

#[test]
fn maximum_packet_size() {
    let r = run(
        &["--hex", "--max-packet-size", "8", "--from", "server"],
        b"30 07 00 01 74 00 61 62 63",
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("Packet too large (0x95)"), "{}", r.stderr);
    let r = run(
        &["--hex", "--max-packet-size", "9", "--from", "server"],
        b"30 07 00 01 74 00 61 62 63",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn bad_arguments_exit_2() {
    assert_eq!(run(&["--protocol", "4.0"], b"").code, 2);
    assert_eq!(run(&["--hex"], b"zz").code, 2);
}
