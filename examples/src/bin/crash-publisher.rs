//! A publisher that keeps its session in a file, for crash tests: it publishes the numbers
//! `first..=last` to `crash/t` and prints `accepted N` once message N is safe from a crash
//! (on disk), in order. Killed at any point and started again with `first` one past the last
//! number it printed, it loses nothing: what it had printed is in the store, and the store
//! sends it again. It also skips the numbers the store already holds (accepted, but killed
//! before it could print them), so that none is published twice.
//!
//! ```text
//! crash-publisher <tokio|smol|async-std> <url> <client id> <store file> <v311|v5> <1|2> <first> <last>
//! ```
//!
//! `MAX_INFLIGHT=<n>` sets the send window; `NO_STORE=1` runs without the store.

use mqtt_proto::{ProtocolVersion, TopicName};
use mqtt_session::{Journal, OutboundMessage};
use mqtt_tokio::{Client, FileStore, Options, QoS, Store};
use std::collections::VecDeque;
use std::io::Write;
use std::process::ExitCode;

/// How many publishes wait for their write at once: they share it.
const WINDOW: usize = 256;

struct Args {
    runtime: String,
    url: String,
    id: String,
    store: String,
    version: ProtocolVersion,
    qos: QoS,
    first: u64,
    last: u64,
}

fn parse() -> Result<Args, String> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let [runtime, url, id, store, version, qos, first, last] = a.as_slice() else {
        return Err("usage: crash-publisher <tokio|smol|async-std> <url> <client id> <store file> <v311|v5> <1|2> <first> <last>".into());
    };
    let number = |s: &str| s.parse::<u64>().map_err(|e| format!("{s}: {e}"));
    Ok(Args {
        runtime: runtime.clone(),
        url: url.clone(),
        id: id.clone(),
        store: store.clone(),
        version: match version.as_str() {
            "v311" => ProtocolVersion::V311,
            "v5" => ProtocolVersion::V5,
            other => return Err(format!("unknown version {other}")),
        },
        qos: match qos.as_str() {
            "1" => QoS::AtLeastOnce,
            "2" => QoS::ExactlyOnce,
            other => return Err(format!("QoS {other}: 1 or 2")),
        },
        first: number(first)?,
        last: number(last)?,
    })
}

/// The highest number the store holds a publish of (accepted before the last crash).
fn highest_stored(store: &FileStore) -> Result<Option<u64>, String> {
    let Some(bytes) = store.load().map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let snapshot = Journal::read(bytes.into()).map_err(|e| e.to_string())?;
    Ok(snapshot
        .outgoing
        .iter()
        .filter_map(|p| std::str::from_utf8(&p.publish.payload).ok()?.parse().ok())
        .max())
}

async fn publish(client: Client, args: &Args, first: u64) -> Result<(), String> {
    let topic = TopicName::new("crash/t".to_string()).map_err(|e| e.to_string())?;
    let mut waiting = VecDeque::new();
    let mut accepted = Vec::new();
    let mut out = std::io::stdout().lock();
    for n in first..=args.last {
        let message = OutboundMessage::new(topic.clone(), n.to_string(), args.qos);
        let completion = client
            .publish_message(message)
            .await
            .map_err(|e| e.to_string())?;
        waiting.push_back((n, completion));
        while waiting.len() >= WINDOW || (n == args.last && !waiting.is_empty()) {
            let Some((n, mut completion)) = waiting.pop_front() else {
                break;
            };
            completion.accepted().await.map_err(|e| e.to_string())?;
            writeln!(out, "accepted {n}").map_err(|e| e.to_string())?;
            out.flush().map_err(|e| e.to_string())?;
            accepted.push(completion);
        }
    }
    // The end: every flow complete (PUBACK / PUBCOMP) before the disconnect.
    for completion in accepted {
        completion.await.map_err(|e| e.to_string())?;
    }
    client.disconnect().await.map_err(|e| e.to_string())?;
    writeln!(out, "done").map_err(|e| e.to_string())?;
    Ok(())
}

fn main() -> ExitCode {
    let run = || -> Result<(), String> {
        let args = parse()?;
        let store = FileStore::new(&args.store);
        let first = match highest_stored(&store)? {
            Some(stored) => args.first.max(stored + 1),
            None => args.first,
        };
        let options = Options::new(&args.url, &args.id)
            .map_err(|e| e.to_string())?
            .protocol_version(args.version)
            .clean_start(false)
            .session_expiry(3600)
            .store(store);
        let mut options = options;
        // For measuring: `MAX_INFLIGHT` sets the send window, `NO_STORE` drops the store (then
        // `accepted` means taken by the session, not saved).
        if let Ok(n) = std::env::var("MAX_INFLIGHT") {
            options.session.max_inflight = n.parse().unwrap_or(20);
        }
        if std::env::var_os("NO_STORE").is_some() {
            options.store = None;
        }
        match args.runtime.as_str() {
            "tokio" => {
                let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
                rt.block_on(async {
                    let client = mqtt_tokio::spawn(options).map_err(|e| e.to_string())?;
                    publish(client, &args, first).await
                })
            }
            "smol" => smol::block_on(async {
                let client = mqtt_smol::spawn(options).map_err(|e| e.to_string())?;
                publish(client, &args, first).await
            }),
            "async-std" => async_std::task::block_on(async {
                let client = mqtt_smol::spawn(options).map_err(|e| e.to_string())?;
                publish(client, &args, first).await
            }),
            other => Err(format!("unknown runtime {other}")),
        }
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crash-publisher: {e}");
            ExitCode::FAILURE
        }
    }
}
