//! `file-store`: a session kept in a file survives a process restart. A first client, with a
//! `FileStore`, publishes five QoS 1 messages and is stopped abruptly (its connection task
//! killed, as a crash would) as soon as they are *accepted*, that is on disk, whether or not the
//! broker has acknowledged them. A second client started from the same file sends whatever
//! was still pending, so a subscriber gets all five (at least once: QoS 1).
//!
//! ```text
//! cargo run --bin file-store -- mqtt://127.0.0.1:1883 [store file]      # or MQTT_URL=...
//! ```

use mqtt_tokio::{FileStore, Options, OutboundMessage, QoS, TopicName};
use std::collections::BTreeSet;
use std::process::ExitCode;

fn main() -> ExitCode {
    mqtt_examples::tokio_main("file-store", run)
}

async fn run(url: String) -> mqtt_examples::ExampleResult {
    let path = std::env::args().nth(2).map_or_else(
        || std::env::temp_dir().join(format!("file-store-demo-{}.session", std::process::id())),
        Into::into,
    );
    // A persistent session: the broker keeps it, and so does the file on our side.
    let options = |url: &str| -> Result<Options, mqtt_examples::Error> {
        Ok(Options::new(url, "file-store-demo")?
            .clean_start(false)
            .session_expiry(300)
            .store(FileStore::new(&path)))
    };
    let subscriber = mqtt_tokio::spawn(Options::new(&url, "file-store-reader")?)?;
    let mut sub = subscriber
        .subscribe("examples/store/#", QoS::AtLeastOnce)
        .await?;

    // First process: publish, wait only until each message is on disk, then "crash" (the
    // connection task is killed: no DISCONNECT, nothing more written).
    let (first, connection) = mqtt_tokio::new(options(&url)?)?;
    let task = tokio::spawn(connection.run());
    for n in 1..=5 {
        let topic = TopicName::new(format!("examples/store/{n}"))?;
        let message = OutboundMessage::new(topic, format!("reading {n}"), QoS::AtLeastOnce);
        first.publish_message(message).await?.accepted().await?;
    }
    println!("first client: 5 messages accepted (on disk); crashing now");
    task.abort();
    drop(first);

    // Second process: the same store; what was pending goes out again.
    let second = mqtt_tokio::spawn(options(&url)?)?;
    mqtt_examples::connected(&second).await?;
    println!("second client: started from {}", path.display());
    let mut seen = BTreeSet::new();
    while seen.len() < 5 {
        let message = sub.next_message().await.ok_or("subscription ended")?;
        let text = String::from_utf8_lossy(message.payload()).into_owned();
        println!("subscriber got {text}");
        seen.insert(text);
    }
    println!("all 5 messages arrived");
    second.disconnect().await?;
    subscriber.disconnect().await?;
    let _ = std::fs::remove_file(&path);
    Ok(())
}
