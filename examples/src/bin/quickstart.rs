//! `quickstart`: connect, print the server's limits, subscribe, publish at each QoS, print what
//! comes back, disconnect.
//!
//! ```text
//! quickstart [--url mqtt://host:1883] [--protocol 5|3.1.1]
//! ```
//!
//! Without `--url` it starts an embedded broker (rumqttd) in this process on a free loopback
//! port, so it runs on a machine with no broker installed. Exit status 0 on success.

use mqtt_proto::ProtocolVersion;
use mqtt_tokio::{
    ConnectionEvent, Delivery, Options, QoS, ServerLimits, SubscribeFilter, SubscribeProperties,
    TopicFilter,
};
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let mut url = None;
    let mut version = ProtocolVersion::V5;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--url", Some(u)) => url = Some(u),
            ("--protocol", Some(p)) if p == "3.1.1" => version = ProtocolVersion::V311,
            ("--protocol", Some(_)) => version = ProtocolVersion::V5,
            _ => {
                eprintln!("usage: quickstart [--url mqtt://host:port] [--protocol 5|3.1.1]");
                return ExitCode::from(2);
            }
        }
    }
    let url = match url {
        Some(u) => u,
        None => match mqtt_examples::embedded_broker(version) {
            Ok(addr) => {
                println!("started an embedded broker (rumqttd) on {addr}");
                format!("mqtt://{addr}")
            }
            Err(e) => {
                eprintln!("quickstart: embedded broker: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("quickstart: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(20), run(&url, version)).await
    });
    match outcome {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("quickstart: {e}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("quickstart: timed out");
            ExitCode::FAILURE
        }
    }
}

async fn run(url: &str, version: ProtocolVersion) -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::new(url, "quickstart")?.protocol_version(version);
    let client = mqtt_tokio::spawn(options)?;
    loop {
        match client.next_event().await {
            Some(ConnectionEvent::Connected { limits, .. }) => {
                println!("connected with MQTT {version}");
                print_limits(&limits);
                break;
            }
            Some(ConnectionEvent::ConnectFailed { error, .. }) => return Err(error.into()),
            Some(other) => println!("{other:?}"),
            None => return Err("connection task ended".into()),
        }
    }
    // One filter per QoS, subscribed at that QoS: a message is delivered at the lower of its
    // publish QoS and the subscription's ([MQTT-3.8.4-6] in v3.1.1, [MQTT-3.8.4-8] in v5), so
    // each arrives at the QoS it was published with, on any broker.
    let qos_levels = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce];
    let filters = qos_levels
        .iter()
        .map(|&qos| {
            let filter = TopicFilter::new(format!("quickstart/qos{}", qos as u8))?;
            Ok(SubscribeFilter::new(filter, qos))
        })
        .collect::<Result<Vec<_>, mqtt_proto::Error>>()?;
    let mut subscription = client
        .subscribe_many(filters, SubscribeProperties::default())
        .await?;
    let granted: Vec<u8> = subscription.granted().iter().map(|&q| q as u8).collect();
    println!("subscribed to quickstart/qos0, qos1, qos2 (granted QoS {granted:?})");
    for qos in qos_levels {
        let topic = format!("quickstart/qos{}", qos as u8);
        let done = client
            .publish(&topic, format!("hello at QoS {}", qos as u8), qos)
            .await? // queued, no round trip; the handle says the rest
            .await?; // the QoS flow completed: PUBACK, PUBCOMP, or written for QoS 0
        let id = done
            .packet_id
            .map_or("none".to_string(), |id| id.to_string());
        println!("published to {topic}: packet id {id}, {}", done.reason_code);
    }
    let mut received = 0;
    while received < 3 {
        match subscription.next().await {
            Some(Delivery::Message(m)) => {
                received += 1;
                println!(
                    "received on {} at QoS {}: {}",
                    m.topic(),
                    m.qos() as u8,
                    String::from_utf8_lossy(m.payload())
                );
            }
            Some(Delivery::Lagged(n)) => println!("missed {n} messages"),
            None => return Err("subscription ended".into()),
        }
    }
    client.disconnect().await?;
    println!("disconnected");
    Ok(())
}

/// The server's limits from its CONNACK, one per line.
fn print_limits(limits: &ServerLimits) {
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    println!("server limits:");
    println!("  maximum QoS:               {}", limits.maximum_qos as u8);
    println!("  receive maximum:           {}", limits.receive_maximum);
    match limits.maximum_packet_size {
        Some(size) => println!("  maximum packet size:       {size} bytes"),
        None => println!("  maximum packet size:       no limit"),
    }
    println!(
        "  topic alias maximum:       {}",
        limits.topic_alias_maximum
    );
    println!(
        "  retain:                    {}",
        yes_no(limits.retain_available)
    );
    println!(
        "  wildcard subscriptions:    {}",
        yes_no(limits.wildcard_subscription_available)
    );
    println!(
        "  subscription identifiers:  {}",
        yes_no(limits.subscription_identifier_available)
    );
    println!(
        "  shared subscriptions:      {}",
        yes_no(limits.shared_subscription_available)
    );
    println!(
        "  keep-alive:                {} s",
        limits.keep_alive.as_secs()
    );
    if let Some(expiry) = limits.session_expiry_interval {
        println!("  session expiry (server's): {expiry} s");
    }
}
