//! The floor: not a client (see below).

use std::time::Instant;

use mqtt_proto::{ProtocolVersion, QoS};

use crate::common::{payloads, seq_of, wait, Meter, Order, Run};

// ---------------------------------------------------------------------------------------------
// The floor: what moving these messages through mosquitto costs with the least any client can
// do. No session, no queues, no tasks: each side is one loop over one socket that encodes
// (publisher) or decodes (subscriber) with mqtt-proto, answers what the QoS flow asks, and
// writes up to 64 KiB at a time, without an in-flight window at QoS 1 (at QoS 2 with the
// broker's, 100). It is not a usable client (it keeps no state for a reconnect, and at QoS 1
// it has every message in flight at once); its CPU per message, against rumqttc's, bounds the
// ratio any client can reach here.

/// One MQTT connection of the floor client: a v3.1.1 CONNECT and its CONNACK.
pub(crate) async fn floor_connect(port: u16, id: &str) -> tokio::net::TcpStream {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream.set_nodelay(true).unwrap();
    let mut connect = mqtt_proto::Connect::new(
        ProtocolVersion::V311,
        mqtt_proto::MqttString::new(id.to_string()).unwrap(),
    );
    connect.keep_alive = 60;
    let mut out = bytes::BytesMut::new();
    mqtt_proto::Packet::from(connect)
        .encode(ProtocolVersion::V311, &mut out)
        .unwrap();
    let mut inbuf = bytes::BytesMut::new();
    floor_pump(
        &stream,
        &mut out,
        &mut inbuf,
        |_| {},
        |p, _| matches!(p, mqtt_proto::Packet::ConnAck(_)),
    )
    .await;
    stream
}

/// Drives one socket: writes `out` (topped up by `refill` whenever it runs low), reads and
/// decodes into `inbuf`, and hands each packet to `on_packet`, which may queue answers in
/// `out` and says when the run is over. Ends early, returning false, after [`wait`] without
/// any progress.
pub(crate) async fn floor_pump(
    stream: &tokio::net::TcpStream,
    out: &mut bytes::BytesMut,
    inbuf: &mut bytes::BytesMut,
    mut refill: impl FnMut(&mut bytes::BytesMut),
    mut on_packet: impl FnMut(mqtt_proto::Packet, &mut bytes::BytesMut) -> bool,
) -> bool {
    use bytes::Buf;
    use tokio::io::Interest;
    const CHUNK: usize = 64 * 1024;
    let decoder = mqtt_proto::Decoder::new(ProtocolVersion::V311, mqtt_proto::Role::Server);
    loop {
        if out.len() < CHUNK {
            refill(out);
        }
        let interest = if out.is_empty() {
            Interest::READABLE
        } else {
            Interest::READABLE | Interest::WRITABLE
        };
        let Ok(ready) = tokio::time::timeout(wait(), stream.ready(interest)).await else {
            return false;
        };
        let ready = ready.unwrap();
        if ready.is_writable() && !out.is_empty() {
            match stream.try_write(&out[..out.len().min(CHUNK)]) {
                Ok(n) => out.advance(n),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("floor client: {e}"),
            }
        }
        if ready.is_readable() {
            inbuf.reserve(CHUNK);
            match stream.try_read_buf(inbuf) {
                Ok(0) => panic!("floor client: the broker closed the connection"),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("floor client: {e}"),
            }
            let mut done = false;
            loop {
                match decoder.decode(inbuf) {
                    Ok(mqtt_proto::Decoded::Packet(p)) => done |= on_packet(p, out),
                    Ok(mqtt_proto::Decoded::Incomplete { .. }) => break,
                    Err(e) => panic!("floor client: {e}"),
                }
            }
            if done {
                // What `on_packet` queued last (the final acknowledgement) goes out too.
                while !out.is_empty() {
                    stream.writable().await.unwrap();
                    match stream.try_write(out) {
                        Ok(n) => out.advance(n),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(e) => panic!("floor client: {e}"),
                    }
                }
                return true;
            }
        }
    }
}

pub(crate) fn floor_ack(
    ty: mqtt_proto::PacketType,
    id: mqtt_proto::PacketId,
    out: &mut bytes::BytesMut,
) {
    mqtt_proto::PubResponse::new(id)
        .encode(ty, ProtocolVersion::V311, out)
        .unwrap();
}

/// The floor of a throughput scenario (see the comment above [`floor_connect`]).
pub(crate) async fn throughput(port: u16, qos: QoS, size: usize, n: u64, tag: &str) -> Run {
    use mqtt_proto::{Packet, PacketType, QosPid};
    let topic = format!("bench/floor/{tag}");
    let sub = floor_connect(port, &format!("f-sub-{tag}")).await;
    let publisher = floor_connect(port, &format!("f-pub-{tag}")).await;
    let (mut sub_out, mut sub_in) = (bytes::BytesMut::new(), bytes::BytesMut::new());
    let filter = mqtt_proto::TopicFilter::new(topic.clone()).unwrap();
    let id = |n: u64| mqtt_proto::PacketId::new((n % 65_535) as u16 + 1).unwrap();
    Packet::Subscribe(mqtt_proto::Subscribe::new(
        id(0),
        vec![mqtt_proto::SubscribeFilter::new(filter, qos)],
    ))
    .encode(ProtocolVersion::V311, &mut sub_out)
    .unwrap();
    floor_pump(
        &sub,
        &mut sub_out,
        &mut sub_in,
        |_| {},
        |p, _| matches!(p, Packet::SubAck(_)),
    )
    .await;

    let payloads = payloads(n, size);
    let meter = Meter::start();
    let start = Instant::now();
    let name = mqtt_proto::TopicName::new(topic).unwrap();
    let mut next = 0u64;
    // Shared by the two closures of the producer (atomic only to be `Sync`: one thread).
    let completed = std::sync::atomic::AtomicU64::new(0);
    let done = || completed.load(std::sync::atomic::Ordering::Relaxed);
    // mosquitto takes at most `max_inflight_messages` (100 here) QoS 2 messages from one client
    // at a time and drops what comes beyond (v3.1.1 has no Receive Maximum to tell clients).
    let window = if qos == QoS::ExactlyOnce {
        100
    } else {
        u64::MAX
    };
    let producer = async {
        let (mut out, mut inbuf) = (bytes::BytesMut::new(), bytes::BytesMut::new());
        let mut pinged = false;
        let refill = |out: &mut bytes::BytesMut| {
            while next < n && out.len() < 128 * 1024 && next - done() < window {
                let qos_pid = match qos {
                    QoS::AtMostOnce => QosPid::AtMostOnce,
                    QoS::AtLeastOnce => QosPid::AtLeastOnce(id(next)),
                    QoS::ExactlyOnce => QosPid::ExactlyOnce(id(next)),
                };
                Packet::Publish(mqtt_proto::Publish::new(
                    name.clone(),
                    payloads[next as usize].clone(),
                    qos_pid,
                ))
                .encode(ProtocolVersion::V311, out)
                .unwrap();
                next += 1;
            }
            // Nothing answers a QoS 0 PUBLISH: the answer to a PINGREQ after the last one
            // says the broker has read them all.
            if qos == QoS::AtMostOnce && next == n && !pinged {
                pinged = true;
                Packet::PingReq.encode(ProtocolVersion::V311, out).unwrap();
            }
        };
        floor_pump(&publisher, &mut out, &mut inbuf, refill, |p, out| {
            match p {
                Packet::PingResp => return true,
                Packet::PubAck(_) | Packet::PubComp(_) => {
                    completed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Packet::PubRec(r) => floor_ack(PacketType::PubRel, r.packet_id, out),
                _ => {}
            }
            done() == n
        })
        .await;
    };
    let mut order = Order::new(n as usize);
    let mut released = 0u64;
    let consumer = async {
        floor_pump(
            &sub,
            &mut sub_out,
            &mut sub_in,
            |_| {},
            |p, out| {
                match p {
                    Packet::Publish(m) => {
                        order.note(seq_of(&m.payload));
                        match m.qos_pid {
                            QosPid::AtMostOnce => {}
                            QosPid::AtLeastOnce(id) => floor_ack(PacketType::PubAck, id, out),
                            QosPid::ExactlyOnce(id) => floor_ack(PacketType::PubRec, id, out),
                        }
                    }
                    Packet::PubRel(r) => {
                        released += 1;
                        floor_ack(PacketType::PubComp, r.packet_id, out);
                    }
                    _ => {}
                }
                // At QoS 2 the flow ends with the broker's PUBREL of the last message.
                order.received() == n && (qos != QoS::ExactlyOnce || released == n)
            },
        )
        .await;
    };
    tokio::join!(producer, consumer);
    let elapsed = start.elapsed();
    let metered = meter.stop();
    Run::new(&order, n, 0, elapsed, metered)
}
