//! `mqtt bench`: a quick load test. Publisher clients and one subscriber run in this process
//! against the broker; each payload carries its send time, so the subscriber measures the
//! latency through the broker. Prints throughput and latency percentiles.

use crate::args::BenchArgs;
use crate::connect::{self, qos};
use crate::progress::{pace, percentiles, Progress};
use crate::Error;
use bytes::{BufMut, Bytes, BytesMut};
use mqtt_tokio::{Client, Delivery, OutboundMessage, PublishHandle, TopicName};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Publishes in flight per publisher.
const WINDOW: usize = 256;

/// Runs `mqtt bench`.
pub async fn run(args: BenchArgs) -> Result<(), Error> {
    let size = args.size.max(8);
    let expected = args.count * u64::from(args.publishers);
    let id = args.connect.client_id();
    let subscriber = connect::connect(
        args.connect.options_with_id(&format!("{id}-sub"))?,
        args.connect.debug,
    )
    .await?;
    let mut subscription = subscriber
        .subscribe(&format!("{}/#", args.topic), qos(args.qos))
        .await?;
    let mut publishers = Vec::new();
    for n in 0..args.publishers {
        let options = args.connect.options_with_id(&format!("{id}-pub{n}"))?;
        publishers.push(connect::connect(options, args.connect.debug).await?);
    }
    let base = Instant::now();
    let mut tasks = Vec::new();
    for (n, client) in publishers.iter().enumerate() {
        let topic = TopicName::new(format!("{}/{n}", args.topic))?;
        let client = client.clone();
        let (count, qos, rate) = (args.count, qos(args.qos), args.rate);
        tasks.push(tokio::spawn(async move {
            publish(client, topic, count, size, qos, rate, base).await
        }));
    }
    let mut progress = Progress::new("received");
    let mut latencies = Vec::with_capacity(expected as usize);
    let receive = async {
        while progress.count() < expected {
            match subscription.next().await {
                Some(Delivery::Message(m)) => {
                    let mut stamp = [0u8; 8];
                    stamp.copy_from_slice(&m.payload()[..8.min(m.payload().len())]);
                    let sent = Duration::from_nanos(u64::from_be_bytes(stamp));
                    let latency = base.elapsed().saturating_sub(sent);
                    latencies.push(latency);
                    progress.tick(Some(latency));
                }
                Some(Delivery::Lagged(_)) => {}
                None => break,
            }
        }
    };
    let finished = tokio::time::timeout(Duration::from_secs(args.timeout), receive)
        .await
        .is_ok();
    progress.finish();
    let seconds = base.elapsed().as_secs_f64();
    let mut published = 0;
    for task in tasks {
        if let Ok(Ok(Ok(n))) = tokio::time::timeout(Duration::from_secs(10), task).await {
            published += n;
        }
    }
    for client in publishers.iter().chain([&subscriber]) {
        let _ = connect::disconnect(client).await;
    }
    let received = latencies.len() as u64;
    let (p50, p99) = percentiles(&mut latencies).unwrap_or_default();
    let max = latencies.last().copied().unwrap_or_default();
    let rate = received as f64 / seconds.max(1e-9);
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "publishers": args.publishers, "qos": args.qos, "size": size,
                "published": published, "received": received, "seconds": seconds,
                "rate": rate, "latency_p50_us": p50.as_micros() as u64,
                "latency_p99_us": p99.as_micros() as u64, "latency_max_us": max.as_micros() as u64,
            })
        );
    } else {
        println!(
            "{published} published, {received} received in {seconds:.2} s: {rate:.0} msg/s; \
             latency p50 {p50:.2?}, p99 {p99:.2?}, max {max:.2?}"
        );
    }
    if !finished {
        return Err(format!(
            "{received} of {expected} messages arrived within -W {} s",
            args.timeout
        )
        .into());
    }
    Ok(())
}

/// One publisher: `count` messages with the send time (nanoseconds since `base`) in front.
async fn publish(
    client: Client,
    topic: TopicName,
    count: u64,
    size: usize,
    qos: mqtt_tokio::QoS,
    rate: Option<f64>,
    base: Instant,
) -> Result<u64, Error> {
    let mut inflight: VecDeque<PublishHandle> = VecDeque::new();
    let start = Instant::now();
    for n in 0..count {
        pace(start, n, rate).await;
        let mut payload = BytesMut::with_capacity(size);
        payload.put_u64(base.elapsed().as_nanos() as u64);
        payload.resize(size, b'x');
        let message = OutboundMessage::new(topic.clone(), Bytes::from(payload), qos);
        if inflight.len() >= WINDOW {
            if let Some(done) = inflight.pop_front() {
                done.await?;
            }
        }
        inflight.push_back(client.publish_message(message).await?);
    }
    for done in inflight {
        done.await?;
    }
    Ok(count)
}
