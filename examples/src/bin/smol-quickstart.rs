//! `smol-quickstart`: the quick start on smol. Without `--url` it starts an embedded broker.

use mqtt_proto::ProtocolVersion;
use std::process::ExitCode;

fn main() -> ExitCode {
    let url = match std::env::args().skip_while(|a| a != "--url").nth(1) {
        Some(url) => url,
        None => match mqtt_examples::embedded_broker(ProtocolVersion::V5) {
            Ok(addr) => format!("mqtt://{addr}"),
            Err(e) => {
                eprintln!("smol-quickstart: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    match smol::block_on(mqtt_examples::smol_quickstart(&url, "smol")) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("smol-quickstart: {e}");
            ExitCode::FAILURE
        }
    }
}
