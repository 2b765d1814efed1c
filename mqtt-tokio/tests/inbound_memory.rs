//! A subscriber that does not read, under a flood of 1 MiB QoS 1 messages from another
//! process (`mosquitto_pub`): the client's heap stays under what it held idle, plus the inbound
//! budget, plus one read buffer. Then it reads, and every message arrives in order. One test in
//! this binary: the allocator's counters are the whole process's.
#![allow(clippy::unwrap_used, clippy::panic)]

use mqtt_scenarios::{options, subscribe, text, url, wait_connected, within};
use mqtt_test_support::{alloc, Mosquitto, TempDir};
use std::process::Command;
use std::time::Duration;

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

const MIB: usize = 1024 * 1024;
const MESSAGES: usize = 40;

#[test]
fn a_reader_that_does_not_read_holds_no_more_than_the_budget() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let broker = Mosquitto::plain().unwrap_or_else(|e| panic!("{e}"));
        let dir = TempDir::new("flood").unwrap_or_else(|e| panic!("{e}"));
        let payload = dir.path().join("payload");
        std::fs::write(&payload, vec![b'x'; MIB - 64]).unwrap();
        let mut o = options(&url(broker.port()), "flood-sub", mqtt_proto::ProtocolVersion::V5);
        o.session.maximum_packet_size = 2 * MIB as u32;
        let budget = o.inbound_budget;
        let client = mqtt_tokio::spawn(o).unwrap();
        wait_connected(&client).await;
        let mut sub = subscribe(&client, "flood/t", mqtt_tokio::QoS::AtLeastOnce).await;
        let idle = alloc::current();
        alloc::reset_peak();
        let status = tokio::task::spawn_blocking(move || {
            Command::new("mosquitto_pub")
                .args(["-h", "127.0.0.1", "-p", &broker.port().to_string()])
                .args(["-t", "flood/t", "-q", "1", "-f"])
                .arg(&payload)
                .args(["--repeat", &MESSAGES.to_string()])
                .status()
                .unwrap_or_else(|e| {
                    panic!("mosquitto_pub: {e} (install it: apt-get install mosquitto-clients)")
                })
        });
        let status = within("mosquitto_pub", status).await.unwrap();
        assert!(status.success());
        // The broker has every message; let it push what it may (it stops when our reads do).
        tokio::time::sleep(Duration::from_secs(2)).await;
        let peak = alloc::peak();
        let bound = idle + budget + 2 * MIB;
        println!(
            "idle {idle} B, peak {peak} B, over idle {} KiB, budget {} KiB",
            (peak - idle) / 1024,
            budget / 1024
        );
        assert!(
            peak <= bound,
            "peak heap {peak} B over idle {idle} + budget {budget} + one read buffer"
        );
        // Nothing was lost: the reader now gets them all, in order.
        for n in 0..MESSAGES {
            let m = within("a flood message", sub.next_message()).await.unwrap();
            assert_eq!(m.payload().len(), MIB - 64, "message {n}: {}", text(&m).len());
        }
        client.disconnect().await.unwrap();
    });
}
