//! `mqtt`: a command-line MQTT v3.1.1 / v5.0 client on mqtt-tokio, with mosquitto_pub and
//! mosquitto_sub's flags: `mqtt pub`, `mqtt sub`, `mqtt rr` (request/response) and `mqtt bench`.
#![forbid(unsafe_code)]

mod args;
mod bench;
mod connect;
mod output;
mod progress;
mod props;
mod publish;
mod rr;
mod subscribe;

use clap::Parser;
use std::process::ExitCode;

/// Every failure, as a message for stderr.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let quiet = match &cli.command {
        args::Command::Pub(a) => a.connect.quiet,
        args::Command::Sub(a) => a.connect.quiet,
        args::Command::Rr(a) => a.connect.quiet,
        args::Command::Bench(a) => a.connect.quiet,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("mqtt: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            args::Command::Pub(a) => publish::run(a).await.map(|()| ExitCode::SUCCESS),
            args::Command::Sub(a) => subscribe::run(a).await,
            args::Command::Rr(a) => rr::run(a).await.map(|()| ExitCode::SUCCESS),
            args::Command::Bench(a) => bench::run(a).await.map(|()| ExitCode::SUCCESS),
        }
    });
    match outcome {
        Ok(code) => code,
        Err(e) => {
            if !quiet {
                eprintln!("mqtt: {e}");
            }
            ExitCode::FAILURE
        }
    }
}
