//! A subscriber that keeps its session in a file, for crash tests: it subscribes to `crash/s`
//! (automatic acknowledgements), prints `ready`, then prints the payload of every message it
//! takes, one per line, until it is killed. Started again from the same file, it subscribes
//! again and goes on: what it had not taken when it died comes again.
//!
//! ```text
//! crash-subscriber <tokio|smol|async-std> <url> <client id> <store file> <v311|v5> <1|2> [takes ahead of the store]
//! ```

use mqtt_tokio::{Client, FileStore, Options, ProtocolVersion, QoS};
use std::io::Write;
use std::process::ExitCode;

async fn receive(client: Client, qos: QoS) -> Result<(), String> {
    let mut sub = client
        .subscribe("crash/s", qos)
        .await
        .map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready").map_err(|e| e.to_string())?;
    while let Some(message) = sub.next_message().await {
        out.write_all(message.payload())
            .map_err(|e| e.to_string())?;
        writeln!(out).map_err(|e| e.to_string())?;
    }
    Err("the subscription ended".into())
}

fn main() -> ExitCode {
    let run = || -> Result<(), String> {
        let a: Vec<String> = std::env::args().skip(1).collect();
        let (runtime, url, id, store, version, qos, ahead) = match a.as_slice() {
            [r, u, i, s, v, q] => (r, u, i, s, v, q, None),
            [r, u, i, s, v, q, n] => (r, u, i, s, v, q, Some(n)),
            _ => return Err("usage: crash-subscriber <tokio|smol|async-std> <url> <client id> <store file> <v311|v5> <1|2> [takes ahead of the store]".into()),
        };
        let version = match version.as_str() {
            "v311" => ProtocolVersion::V311,
            "v5" => ProtocolVersion::V5,
            other => return Err(format!("unknown version {other}")),
        };
        let qos = match qos.as_str() {
            "1" => QoS::AtLeastOnce,
            "2" => QoS::ExactlyOnce,
            other => return Err(format!("QoS {other}: 1 or 2")),
        };
        let mut options = Options::new(url, id)
            .map_err(|e| e.to_string())?
            .protocol_version(version)
            .clean_start(false)
            .session_expiry(3600)
            .store(FileStore::new(store));
        if let Some(n) = ahead {
            options.takes_ahead_of_store = n.parse().map_err(|e| format!("{n}: {e}"))?;
        }
        match runtime.as_str() {
            "tokio" => {
                let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
                rt.block_on(async {
                    let client = mqtt_tokio::spawn(options).map_err(|e| e.to_string())?;
                    receive(client, qos).await
                })
            }
            "smol" => smol::block_on(async {
                let client = mqtt_smol::spawn(options).map_err(|e| e.to_string())?;
                receive(client, qos).await
            }),
            "async-std" => async_std::task::block_on(async {
                let client = mqtt_smol::spawn(options).map_err(|e| e.to_string())?;
                receive(client, qos).await
            }),
            other => Err(format!("unknown runtime {other}")),
        }
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crash-subscriber: {e}");
            ExitCode::FAILURE
        }
    }
}
