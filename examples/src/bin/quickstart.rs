//! `quickstart`: connect, subscribe, publish at each QoS, print what comes back, disconnect.
//!
//! ```text
//! quickstart [--url mqtt://host:1883] [--protocol 5|3.1.1]
//! ```
//!
//! Without `--url` it starts an embedded broker (rumqttd) in this process on a free loopback
//! port, so it runs on a machine with no broker installed. Exit status 0 on success.

use mqtt_proto::ProtocolVersion;
use mqtt_tokio::{ConnectionEvent, Delivery, Options, QoS};
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
                println!("connected with MQTT {version}; server limits: {limits:?}");
                break;
            }
            Some(ConnectionEvent::ConnectFailed { error, .. }) => return Err(error.into()),
            Some(other) => println!("{other:?}"),
            None => return Err("connection task ended".into()),
        }
    }
    let mut subscription = client.subscribe("quickstart/#", QoS::ExactlyOnce).await?;
    println!(
        "subscribed to quickstart/# (granted {:?})",
        subscription.granted()
    );
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let topic = format!("quickstart/qos{}", qos as u8);
        let done = client
            .publish(&topic, format!("hello at QoS {}", qos as u8), qos)
            .await?;
        println!(
            "published to {topic}: packet id {:?}, {}",
            done.packet_id, done.reason_code
        );
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
