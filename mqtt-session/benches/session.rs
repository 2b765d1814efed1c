//! The Session in an in-memory loop: publish, `poll_transmit`, feed the acknowledgement back,
//! drain the events. Prints messages per second for QoS 0, 1 and 2, heap allocations per
//! message in steady state, and the heap an idle connected session holds.
//!
//! Run: `cargo bench -p mqtt-session --bench session`
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use bytes::{Bytes, BytesMut};
use mqtt_proto::*;
use mqtt_session::{Config, Event, OutboundMessage, Session};
use mqtt_test_support::gated_alloc::{count_allocations, net_bytes, Gated};
use std::hint::black_box;
use std::time::{Duration, Instant};

// Counts only inside `count_allocations` / `net_bytes`, so the timed loops run at full speed.
#[global_allocator]
static GLOBAL: Gated = Gated;

fn connected(version: ProtocolVersion) -> Session<Instant> {
    let mut config = Config::new(version, MqttString::try_from("bench").unwrap());
    config.max_queued = 1 << 16;
    let mut session = Session::new(config).unwrap();
    let now = Instant::now();
    session.handle_connected(now);
    let mut out = BytesMut::new();
    while session.poll_transmit(now, &mut out) > 0 {}
    let mut connack = BytesMut::new();
    ConnAck::default().encode(version, &mut connack).unwrap();
    session.handle_read(now, &mut connack);
    while session.poll_event().is_some() {}
    session
}

/// One message through the session: returns the events seen.
fn round(
    session: &mut Session<Instant>,
    now: Instant,
    message: &OutboundMessage,
    out: &mut BytesMut,
    ack: &mut BytesMut,
) -> usize {
    let ticket = session.publish(now, message.clone()).unwrap();
    out.clear();
    session.poll_transmit(now, out);
    black_box(&out[..]);
    if let Some(id) = ticket.packet_id {
        let [hi, lo] = id.get().to_be_bytes();
        match message.qos {
            QoS::AtLeastOnce => ack.extend_from_slice(&[0x40, 2, hi, lo]),
            _ => ack.extend_from_slice(&[0x50, 2, hi, lo]),
        }
        session.handle_read(now, ack);
        if message.qos == QoS::ExactlyOnce {
            out.clear();
            session.poll_transmit(now, out); // PUBREL
            ack.extend_from_slice(&[0x70, 2, hi, lo]);
            session.handle_read(now, ack);
        }
    }
    let mut events = 0;
    while let Some(e) = session.poll_event() {
        debug_assert!(matches!(e, Event::PublishCompleted { .. }));
        events += 1;
    }
    events
}

fn throughput(version: ProtocolVersion, qos: QoS, n: u32) -> (f64, f64) {
    let mut session = connected(version);
    let message = OutboundMessage::new(
        TopicName::new("sensors/building-1/temp").unwrap(),
        Bytes::from_static(&[0x5A; 64]),
        qos,
    );
    let (mut out, mut ack) = (BytesMut::with_capacity(4096), BytesMut::with_capacity(64));
    let now = Instant::now();
    // Warm up: buffers and queues reach their steady capacity.
    for _ in 0..10_000 {
        round(&mut session, now, &message, &mut out, &mut ack);
    }
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..n {
            round(&mut session, now, &message, &mut out, &mut ack);
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    let ((), allocs) = count_allocations(|| {
        for _ in 0..n {
            round(&mut session, now, &message, &mut out, &mut ack);
        }
    });
    (f64::from(n) / best, allocs as f64 / f64::from(n))
}

fn idle_heap(version: ProtocolVersion) -> isize {
    let (kept, bytes) = net_bytes(|| {
        let mut session = connected(version);
        let now = Instant::now();
        let filters = ["sensors/+/temp", "alerts/#", "cmd/bench/+"]
            .into_iter()
            .map(|f| SubscribeFilter::new(TopicFilter::try_from(f).unwrap(), QoS::AtLeastOnce))
            .collect();
        session.subscribe(now, filters, Default::default()).unwrap();
        let mut out = BytesMut::new();
        session.poll_transmit(now, &mut out);
        let mut suback = BytesMut::new();
        let ack = SubAck {
            packet_id: PacketId::new(1).unwrap(),
            reason_codes: vec![ReasonCode::GrantedQoS1; 3],
            properties: Default::default(),
        };
        ack.encode(version, &mut suback).unwrap();
        session.handle_read(now, &mut suback);
        while session.poll_event().is_some() {}
        drop(out);
        session
    });
    black_box(&kept);
    bytes
}

fn main() {
    // `cargo test --benches` runs this once in test mode: keep it short there.
    let quick = std::env::args().any(|a| a == "--test" || a == "--quick");
    let n = if quick { 1_000 } else { 1_000_000 };
    println!(
        "{:<8} {:<4} {:>14} {:>16}",
        "version", "qos", "msgs/s", "allocs/msg"
    );
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let (rate, allocs) = throughput(version, qos, n);
            println!(
                "{:<8} {:<4} {:>14.0} {:>16.3}",
                version.to_string(),
                qos as u8,
                rate,
                allocs
            );
        }
    }
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        println!(
            "idle connected session, 3 subscriptions, {version}: {} bytes of heap",
            idle_heap(version)
        );
    }
    let _ = Duration::ZERO;
}
