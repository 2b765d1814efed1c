//! `smol-quickstart`: the quick start on smol. Without `--url` it starts an embedded broker.

use std::process::ExitCode;

fn main() -> ExitCode {
    mqtt_examples::smol_quickstart_main("smol-quickstart", "smol", |f| smol::block_on(f))
}
