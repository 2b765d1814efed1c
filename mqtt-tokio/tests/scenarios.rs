//! The shared integration scenarios (mqtt-scenarios) on tokio: one test per scenario and
//! protocol version, each on a runtime of its own, against brokers the scenarios start.
#![allow(clippy::unwrap_used, clippy::panic)]

use mqtt_scenarios::{Runtime, Task};
use std::future::Future;

/// A multi-threaded tokio runtime per test: a scenario's blocking steps (starting and
/// restarting brokers) hold one worker while the connection tasks run on the other.
struct Tokio;

impl Runtime for Tokio {
    const NAME: &'static str = "tokio";

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    }

    mqtt_scenarios::driver_methods!(mqtt_tokio);

    fn spawn_task(&self, task: Task) {
        tokio::spawn(task);
    }
}

mqtt_scenarios::scenarios!(on_tokio, Tokio);
mqtt_scenarios::websocket_scenarios!(websocket_on_tokio, Tokio);
mqtt_scenarios::interop_matrix!(interop_on_tokio, Tokio);
