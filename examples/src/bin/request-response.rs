//! `request-response`: MQTT 5 request/response (section 4.10). A responder answers requests on
//! `examples/rr/square` with `Message::response`, which sends the answer to the request's
//! Response Topic with its Correlation Data; a requester asks with `Client::request`, which
//! sets both and waits (with a timeout) for the matching answer.
//!
//! ```text
//! cargo run --bin request-response -- mqtt://127.0.0.1:1883      # or MQTT_URL=...
//! ```

use mqtt_tokio::{Options, OutboundMessage, QoS, TopicName};
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    mqtt_examples::tokio_main("request-response", run)
}

async fn run(url: String) -> mqtt_examples::ExampleResult {
    // The responder: squares the number it is sent.
    let responder = mqtt_tokio::spawn(Options::new(&url, "rr-responder")?)?;
    let mut requests = responder
        .subscribe("examples/rr/square", QoS::AtLeastOnce)
        .await?;
    let answering = responder.clone();
    tokio::spawn(async move {
        while let Some(request) = requests.next_message().await {
            let n: i64 = String::from_utf8_lossy(request.payload())
                .parse()
                .unwrap_or(0);
            // `None` when the message carries no Response Topic: nothing to answer.
            if let Some(response) = request.response((n * n).to_string(), QoS::AtLeastOnce) {
                let _ = answering.publish_message(response).await;
            }
        }
    });

    // The requester.
    let requester = mqtt_tokio::spawn(Options::new(&url, "rr-requester")?)?;
    for n in [3, 12] {
        let topic = TopicName::new("examples/rr/square")?;
        let request = OutboundMessage::new(topic, n.to_string(), QoS::AtLeastOnce);
        let answer = requester.request(request, Duration::from_secs(5)).await?;
        println!(
            "{n} squared is {}",
            String::from_utf8_lossy(answer.payload())
        );
    }
    requester.disconnect().await?;
    responder.disconnect().await?;
    Ok(())
}
