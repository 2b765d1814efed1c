//! `mqtt pub`: one message, a file, stdin whole or line by line, repeated and paced. Publishes
//! are pipelined (a window of them in flight), so a QoS 1/2 stream is not one round trip per
//! message.

use crate::args::PubArgs;
use crate::connect::{self, qos};
use crate::progress::{pace, percentiles, Progress};
use crate::{props, Error};
use bytes::Bytes;
use mqtt_tokio::{Client, OutboundMessage, PublishHandle, TopicName};
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt};

/// Publishes in flight at once.
const WINDOW: usize = 64;

/// Runs `mqtt pub`.
pub async fn run(args: PubArgs) -> Result<(), Error> {
    let (_, url_topic) = args.connect.url_and_topic();
    let topic = args
        .topic
        .clone()
        .or(url_topic)
        .ok_or("a topic is needed: -t TOPIC (or -L mqtt://host/TOPIC)")?;
    let topic = TopicName::new(topic)?;
    let client = args.connect.connect().await?;
    let mut sender = Sender::new(&client, &args, topic);
    if args.lines {
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        while let Some(line) = lines.next_line().await? {
            sender.send(Bytes::from(line.into_bytes())).await?;
        }
    } else {
        let payload = payload(&args).await?;
        for _ in 0..args.repeat.max(1) {
            if sender.sent > 0 {
                if let Some(delay) = args.repeat_delay {
                    tokio::time::sleep(Duration::from_secs_f64(delay)).await;
                }
            }
            sender.send(payload.clone()).await?;
        }
    }
    let summary = sender.finish().await?;
    connect::disconnect(&client).await?;
    if args.json {
        println!("{summary}");
    }
    Ok(())
}

/// The one payload of `-m`, `-f`, `-s` or `-n`.
async fn payload(args: &PubArgs) -> Result<Bytes, Error> {
    if let Some(message) = &args.message {
        return Ok(Bytes::from(message.clone().into_bytes()));
    }
    if let Some(path) = &args.file {
        let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        return Ok(data.into());
    }
    if args.stdin {
        let mut data = Vec::new();
        tokio::io::stdin().read_to_end(&mut data).await?;
        return Ok(data.into());
    }
    if args.null {
        return Ok(Bytes::new());
    }
    Err("a message is needed: -m, -f, -l, -s or -n".into())
}

/// Sends messages with a window of publishes in flight, pacing them and counting latencies.
struct Sender<'a> {
    client: &'a Client,
    args: &'a PubArgs,
    topic: TopicName,
    start: Instant,
    sent: u64,
    inflight: VecDeque<(Instant, PublishHandle)>,
    progress: Progress,
    latencies: Vec<Duration>,
}

impl<'a> Sender<'a> {
    fn new(client: &'a Client, args: &'a PubArgs, topic: TopicName) -> Self {
        Sender {
            client,
            args,
            topic,
            start: Instant::now(),
            sent: 0,
            inflight: VecDeque::new(),
            progress: Progress::new("published"),
            latencies: Vec::new(),
        }
    }

    async fn send(&mut self, payload: Bytes) -> Result<(), Error> {
        pace(self.start, self.sent, self.args.rate).await;
        let mut message = OutboundMessage::new(self.topic.clone(), payload, qos(self.args.qos));
        message.retain = self.args.retain;
        props::apply_publish(&self.args.connect.properties, &mut message.properties)?;
        if self.inflight.len() >= WINDOW {
            self.complete_one().await?;
        }
        let completion = self.client.publish_message(message).await?;
        self.inflight.push_back((Instant::now(), completion));
        self.sent += 1;
        Ok(())
    }

    async fn complete_one(&mut self) -> Result<(), Error> {
        if let Some((sent_at, completion)) = self.inflight.pop_front() {
            let done = tokio::time::timeout(Duration::from_secs(60), completion)
                .await
                .map_err(|_| "a publish was not acknowledged within 60 s")??;
            if done.reason_code.is_error() {
                return Err(format!("the broker refused a publish: {}", done.reason_code).into());
            }
            let latency = sent_at.elapsed();
            self.latencies.push(latency);
            self.progress.tick(Some(latency));
        }
        Ok(())
    }

    /// Waits for every publish in flight; returns a JSON summary.
    async fn finish(mut self) -> Result<serde_json::Value, Error> {
        while !self.inflight.is_empty() {
            self.complete_one().await?;
        }
        self.progress.finish();
        let seconds = self.progress.elapsed().as_secs_f64();
        let (p50, p99) = percentiles(&mut self.latencies).unwrap_or_default();
        Ok(serde_json::json!({
            "published": self.progress.count(),
            "seconds": seconds,
            "rate": self.progress.count() as f64 / seconds.max(1e-9),
            "latency_p50_us": p50.as_micros() as u64,
            "latency_p99_us": p99.as_micros() as u64,
        }))
    }
}
