//! `manual-acks`: acknowledge a message only once it is processed. With `manual_acks(true)`
//! the PUBACK (QoS 1) or PUBREC (QoS 2) goes out when the application calls `Client::ack`, so
//! a message whose processing never finished (a crash, say) is sent again by the broker.
//! Acknowledgements leave in the order the messages arrived, whatever order they are acked in.
//!
//! ```text
//! cargo run --bin manual-acks -- mqtt://127.0.0.1:1883      # or MQTT_URL=...
//! ```

use mqtt_tokio::{Options, QoS};
use std::process::ExitCode;

fn main() -> ExitCode {
    mqtt_examples::tokio_main("manual-acks", run)
}

async fn run(url: String) -> mqtt_examples::ExampleResult {
    let options = Options::new(&url, "manual-acks-demo")?.manual_acks(true);
    let client = mqtt_tokio::spawn(options)?;
    let mut jobs = client.subscribe("examples/jobs", QoS::AtLeastOnce).await?;
    for n in 1..=3 {
        client
            .publish("examples/jobs", format!("job {n}"), QoS::AtLeastOnce)
            .await?;
    }
    for _ in 0..3 {
        let job = jobs.next_message().await.ok_or("subscription ended")?;
        println!("processing {}", String::from_utf8_lossy(job.payload()));
        // ... the work; only then tell the broker it is done:
        client.ack(&job).await?;
        println!("acknowledged {}", String::from_utf8_lossy(job.payload()));
    }
    client.disconnect().await?;
    Ok(())
}
