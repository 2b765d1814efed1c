//! `mqtt sub`: subscribe to filters and print each message as asked, until `-C` messages,
//! `-W` seconds, or Ctrl-C.

use crate::args::SubArgs;
use crate::connect::{self, qos};
use crate::output;
use crate::progress::Progress;
use crate::Error;
use mqtt_tokio::{Delivery, Message, SubscribeFilter, SubscribeProperties, TopicFilter};
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

/// mosquitto_sub's exit status when `-W` ran out (ETIMEDOUT on Linux).
const TIMED_OUT: u8 = 27;

/// Runs `mqtt sub`.
pub async fn run(args: SubArgs) -> Result<ExitCode, Error> {
    let (_, url_topic) = args.connect.url_and_topic();
    let mut topics = args.topics.clone();
    topics.extend(url_topic);
    if topics.is_empty() {
        return Err("a topic filter is needed: -t FILTER".into());
    }
    let filters = topics
        .iter()
        .map(|t| {
            Ok(SubscribeFilter::new(
                TopicFilter::new(t.clone())?,
                qos(args.qos),
            ))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let hidden = args
        .filter_out
        .iter()
        .map(|t| TopicFilter::new(t.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let client = args.connect.connect().await?;
    let mut subscription = tokio::time::timeout(
        Duration::from_secs(30),
        client.subscribe_many(filters, SubscribeProperties::default()),
    )
    .await
    .map_err(|_| "no SUBACK within 30 s")??;
    for (filter, result) in topics.iter().zip(subscription.results()) {
        if let Err(code) = result {
            eprintln!("mqtt sub: {filter}: refused ({code})");
        }
    }
    let mut progress = Progress::new("received");
    let mut printed = 0u64;
    let receive = async {
        loop {
            let message = match subscription.next().await {
                Some(Delivery::Message(m)) => m,
                Some(Delivery::Lagged(n)) => {
                    eprintln!("mqtt sub: fell behind; {n} messages dropped");
                    continue;
                }
                None => return Err::<(), Error>("the connection ended".into()),
            };
            progress.tick(None);
            if args.retained_only && !message.retain() {
                return Ok(());
            }
            if (args.no_stale && message.retain())
                || hidden.iter().any(|f| f.matches(message.topic().as_str()))
            {
                continue;
            }
            print(&args, &message)?;
            printed += 1;
            if args.count.is_some_and(|c| printed >= c) {
                return Ok(());
            }
        }
    };
    let limit = args.timeout.map_or(Duration::MAX, Duration::from_secs);
    let outcome = tokio::select! {
        r = tokio::time::timeout(limit, receive) => r,
        _ = tokio::signal::ctrl_c() => Ok(Ok(())),
    };
    progress.finish();
    let status = match outcome {
        Ok(result) => {
            result?;
            ExitCode::SUCCESS
        }
        Err(_) => ExitCode::from(TIMED_OUT),
    };
    connect::disconnect(&client).await?;
    Ok(status)
}

fn print(args: &SubArgs, message: &Message) -> Result<(), Error> {
    let mut line = if args.json {
        output::json(message).to_string().into_bytes()
    } else if let Some(format) = &args.format {
        output::format(format, message)
    } else {
        output::plain(message, args.verbose)
    };
    if !args.no_newline {
        line.push(b'\n');
    }
    let mut out = std::io::stdout().lock();
    out.write_all(&line)?;
    out.flush()?;
    Ok(())
}
