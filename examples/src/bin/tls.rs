//! `tls`: MQTT over TLS, verifying the broker with a CA of your own (rustls; verification is
//! always on unless you turn it off). The CA is a PEM file; a client certificate would be
//! added with `TlsOptions::client_certificate_pem`.
//!
//! ```text
//! cargo run --bin tls -- mqtts://127.0.0.1:8883 ca.pem      # or MQTT_URL=... MQTT_CAFILE=...
//! ```

use mqtt_tokio::{Options, QoS, TlsOptions};
use std::process::ExitCode;

fn main() -> ExitCode {
    mqtt_examples::tokio_main("tls", run)
}

async fn run(url: String) -> mqtt_examples::ExampleResult {
    let ca_file = std::env::args()
        .nth(2)
        .or_else(|| std::env::var("MQTT_CAFILE").ok())
        .ok_or("the CA file is needed: tls <mqtts://host:port> <ca.pem>")?;
    let ca = std::fs::read(&ca_file).map_err(|e| format!("{ca_file}: {e}"))?;
    // The broker's certificate must chain to this CA and name the URL's host.
    let tls = TlsOptions::new().ca_pem(&ca)?;
    let client = mqtt_tokio::spawn(Options::new(&url, "tls-demo")?.tls(tls)?)?;
    mqtt_examples::connected(&client).await?;
    println!("connected over TLS to {url}");

    let mut sub = client.subscribe("examples/tls", QoS::AtLeastOnce).await?;
    client
        .publish("examples/tls", "encrypted hello", QoS::AtLeastOnce)
        .await?;
    let message = sub.next_message().await.ok_or("subscription ended")?;
    println!("received: {}", String::from_utf8_lossy(message.payload()));
    client.disconnect().await?;
    Ok(())
}
