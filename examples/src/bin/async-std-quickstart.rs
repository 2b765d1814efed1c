//! `async-std-quickstart`: the quick start in an async-std program (mqtt-smol serves it:
//! async-std runs on the same async-io reactor). Without `--url` it starts an embedded broker.

use mqtt_proto::ProtocolVersion;
use std::process::ExitCode;

fn main() -> ExitCode {
    let url = match std::env::args().skip_while(|a| a != "--url").nth(1) {
        Some(url) => url,
        None => match mqtt_examples::embedded_broker(ProtocolVersion::V5) {
            Ok(addr) => format!("mqtt://{addr}"),
            Err(e) => {
                eprintln!("async-std-quickstart: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    match async_std::task::block_on(mqtt_examples::smol_quickstart(&url, "async-std")) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("async-std-quickstart: {e}");
            ExitCode::FAILURE
        }
    }
}
