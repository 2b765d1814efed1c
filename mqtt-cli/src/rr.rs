//! `mqtt rr`: one request and its response through
//! [`Client::request`](mqtt_tokio::Client::request) (MQTT v5, section 4.10), or, with
//! `--serve`, a responder that answers each request on a filter.

use crate::args::RrArgs;
use crate::connect::{self, qos};
use crate::{output, props, Error};
use bytes::Bytes;
use mqtt_tokio::{Delivery, OutboundMessage, TopicName};
use std::time::Duration;

/// Runs `mqtt rr`.
pub async fn run(args: RrArgs) -> Result<(), Error> {
    let client = args.connect.connect().await?;
    let result = if args.serve {
        serve(&args, &client).await
    } else {
        request(&args, &client).await
    };
    connect::disconnect(&client).await?;
    result
}

async fn request(args: &RrArgs, client: &mqtt_tokio::Client) -> Result<(), Error> {
    let payload = match (&args.message, &args.file) {
        (Some(m), _) => Bytes::from(m.clone().into_bytes()),
        (None, Some(path)) => std::fs::read(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .into(),
        (None, None) => Bytes::new(),
    };
    let mut message =
        OutboundMessage::new(TopicName::new(args.topic.clone())?, payload, qos(args.qos));
    props::apply_publish(&args.connect.properties, &mut message.properties)?;
    let timeout = Duration::from_secs(args.timeout.unwrap_or(10));
    let response = client.request(message, timeout).await?;
    if args.json {
        println!("{}", output::json(&response));
    } else {
        println!("{}", String::from_utf8_lossy(response.payload()));
    }
    Ok(())
}

async fn serve(args: &RrArgs, client: &mqtt_tokio::Client) -> Result<(), Error> {
    let mut requests = client.subscribe(&args.topic, qos(args.qos)).await?;
    let answer = async {
        let mut answered = 0u64;
        while args.count.is_none_or(|c| answered < c) {
            let request = match requests.next().await {
                Some(Delivery::Message(m)) => m,
                Some(Delivery::Lagged(_)) => continue,
                None => return Err::<(), Error>("the connection ended".into()),
            };
            let payload = match &args.message {
                Some(m) => Bytes::from(m.clone().into_bytes()),
                None => request.payload().clone(),
            };
            let Some(mut response) = request.response(payload, qos(args.qos)) else {
                eprintln!(
                    "mqtt rr: a message on {} without a Response Topic",
                    request.topic()
                );
                continue;
            };
            props::apply_publish(&args.connect.properties, &mut response.properties)?;
            client.publish_message(response).await?.await?;
            answered += 1;
            if args.json {
                println!("{}", output::json(&request));
            }
        }
        Ok(())
    };
    let limit = args.timeout.map_or(Duration::MAX, Duration::from_secs);
    tokio::select! {
        r = tokio::time::timeout(limit, answer) => r.unwrap_or(Ok(())),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
