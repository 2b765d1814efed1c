//! The connection task logs through `tracing`, never by printing: connecting, the CONNACK and the
//! end of the connection are events inside a span named `mqtt` that carries the client id. A
//! subscriber installed for the whole test binary (the connection task runs on a thread of its
//! own) collects them; one test per binary for that reason.
#![allow(clippy::unwrap_used, clippy::panic)]

use mqtt_scenarios::{disconnect, options, sleep, url, wait_connected, within};
use mqtt_test_support::Mosquitto;
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_connection_logs_through_tracing_in_a_span_with_the_client_id() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    let broker = Mosquitto::plain().unwrap();
    smol::block_on(async {
        let o = options(
            &url(broker.port()),
            "traced-client",
            mqtt_proto::ProtocolVersion::V5,
        );
        let client = mqtt_smol::spawn(o).unwrap();
        wait_connected(&client).await;
        disconnect(&client).await;
        // The connection thread may log the end of the connection just after `disconnect`
        // returned: wait for it (bounded).
        within("the log line of the disconnect", async {
            while !String::from_utf8_lossy(&captured.0.lock().unwrap()).contains("disconnected") {
                sleep(std::time::Duration::from_millis(10)).await;
            }
        })
        .await;
    });
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    let in_span = |needle: &str| {
        lines
            .iter()
            .any(|l| l.contains("mqtt{client_id=traced-client}") && l.contains(needle))
    };
    assert!(in_span("transport up, sending CONNECT"), "{log}");
    assert!(in_span("connected"), "{log}");
    assert!(in_span("session_present=false"), "{log}");
    assert!(in_span("disconnected"), "{log}");
}
