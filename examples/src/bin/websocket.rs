//! `websocket`: MQTT over WebSocket (`ws://`, or `wss://` for WebSocket over TLS), as browsers
//! and many proxies need. The URL's path is the WebSocket path (default `/mqtt`); the
//! subprotocol is `mqtt`. Pass `3.1.1` after the URL for a broker that speaks only MQTT 3.1.1.
//!
//! ```text
//! cargo run --bin websocket -- ws://127.0.0.1:8080/mqtt [3.1.1]      # or MQTT_URL=...
//! ```

use mqtt_tokio::{Options, ProtocolVersion, QoS};
use std::process::ExitCode;

fn main() -> ExitCode {
    mqtt_examples::tokio_main("websocket", run)
}

async fn run(url: String) -> mqtt_examples::ExampleResult {
    let version = match std::env::args().nth(2).as_deref() {
        Some("3.1.1") => ProtocolVersion::V311,
        _ => ProtocolVersion::V5,
    };
    let options = Options::new(&url, "websocket-demo")?.protocol_version(version);
    let client = mqtt_tokio::spawn(options)?;
    mqtt_examples::connected(&client).await?;
    println!("connected over WebSocket to {url} with MQTT {version}");

    let mut sub = client.subscribe("examples/ws", QoS::AtLeastOnce).await?;
    client
        .publish("examples/ws", "hello through a WebSocket", QoS::AtLeastOnce)
        .await?;
    let message = sub.next_message().await.ok_or("subscription ended")?;
    println!("received: {}", String::from_utf8_lossy(message.payload()));
    client.disconnect().await?;
    Ok(())
}
