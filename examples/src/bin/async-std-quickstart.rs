//! `async-std-quickstart`: the quick start in an async-std program (mqtt-smol serves it:
//! async-std runs on the same async-io reactor). Without `--url` it starts an embedded broker.

use std::process::ExitCode;

fn main() -> ExitCode {
    mqtt_examples::smol_quickstart_main("async-std-quickstart", "async-std", |f| {
        async_std::task::block_on(f)
    })
}
