//! `will`: a last will. A "sensor" client connects with a will on `examples/will/status`; a
//! "monitor" client subscribed to that topic receives it when the sensor dies without saying
//! goodbye (here its connection task is killed, as a crash would; a graceful `disconnect`
//! would discard the will).
//!
//! ```text
//! cargo run --bin will -- mqtt://127.0.0.1:1883      # or MQTT_URL=...
//! ```

use mqtt_tokio::{Options, QoS, TopicName, Will};
use std::process::ExitCode;

fn main() -> ExitCode {
    mqtt_examples::tokio_main("will", run)
}

async fn run(url: String) -> mqtt_examples::ExampleResult {
    let monitor = mqtt_tokio::spawn(Options::new(&url, "will-monitor")?)?;
    let mut status = monitor
        .subscribe("examples/will/status", QoS::AtLeastOnce)
        .await?;

    // The will: the broker publishes it if the sensor's connection ends without DISCONNECT.
    let mut will = Will::new(
        TopicName::new("examples/will/status")?,
        "sensor-1 went offline",
    );
    will.qos = QoS::AtLeastOnce;
    let options = Options::new(&url, "will-sensor")?.will(will);

    // `new` instead of `spawn` hands us the connection task, so that we can kill it.
    let (sensor, connection) = mqtt_tokio::new(options)?;
    let task = tokio::spawn(connection.run());
    mqtt_examples::connected(&sensor).await?;
    sensor
        .publish("examples/will/status", "sensor-1 online", QoS::AtLeastOnce)
        .await?;
    println!("{}", text(status.next_message().await));

    // The crash: the task and its socket go away without a DISCONNECT, and the broker
    // publishes the will.
    task.abort();
    println!("{}", text(status.next_message().await));
    monitor.disconnect().await?;
    Ok(())
}

fn text(message: Option<mqtt_tokio::Message>) -> String {
    message.map_or("(subscription ended)".into(), |m| {
        format!("{}: {}", m.topic(), String::from_utf8_lossy(m.payload()))
    })
}
