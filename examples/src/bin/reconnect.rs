//! `reconnect`: connection events and automatic reconnection. The client prints every
//! `ConnectionEvent`; then a second client takes over its client id, the broker closes the
//! first one's connection ("session taken over"), and the first reconnects by itself after a
//! short backoff, its subscription made again. Nothing in the application has to react.
//!
//! ```text
//! cargo run --bin reconnect -- mqtt://127.0.0.1:1883      # or MQTT_URL=...
//! ```

use mqtt_tokio::{ConnectionEvent, Options, QoS};
use std::process::ExitCode;

fn main() -> ExitCode {
    mqtt_examples::tokio_main("reconnect", run)
}

async fn run(url: String) -> mqtt_examples::ExampleResult {
    let client = mqtt_tokio::spawn(Options::new(&url, "reconnect-demo")?)?;
    // `events()` is a second receiver of the same events: read them in a task of their own.
    let events = client.events();
    let (connected_tx, mut connected) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            match &event {
                ConnectionEvent::Connected {
                    session_present, ..
                } => {
                    println!("event: connected (session present: {session_present})");
                    let _ = connected_tx.send(());
                }
                ConnectionEvent::Disconnected(reason) => println!("event: disconnected: {reason}"),
                ConnectionEvent::Reconnecting { delay, attempt } => {
                    println!("event: reconnecting in {delay:?} (attempt {attempt})")
                }
                other => println!("event: {other:?}"),
            }
        }
    });
    connected.recv().await.ok_or("no connection")?;
    let mut sub = client
        .subscribe("examples/reconnect", QoS::AtLeastOnce)
        .await?;

    // Another client with the same id: the broker drops our connection in its favour.
    let intruder = mqtt_tokio::spawn(Options::new(&url, "reconnect-demo")?)?;
    mqtt_examples::connected(&intruder).await?;
    intruder.disconnect().await?;

    // Our client comes back by itself, and its subscription works again.
    connected.recv().await.ok_or("did not reconnect")?;
    client
        .publish("examples/reconnect", "back again", QoS::AtLeastOnce)
        .await?;
    let message = sub.next_message().await.ok_or("subscription ended")?;
    println!("received: {}", String::from_utf8_lossy(message.payload()));
    client.disconnect().await?;
    Ok(())
}
