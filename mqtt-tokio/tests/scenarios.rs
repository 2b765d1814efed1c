//! The shared integration scenarios (mqtt-scenarios) on tokio: one test per scenario and
//! protocol version, each on a runtime of its own, against brokers the scenarios start.
#![allow(clippy::unwrap_used, clippy::panic)]

use mqtt_scenarios::{CallbackHandle, Runtime, SpawnError, Task};
use mqtt_tokio::{Client, ClientError, Message, Options, QoS};
use std::future::Future;
use std::pin::Pin;

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

    fn spawn(&self, options: Options) -> Result<Client, SpawnError> {
        Ok(mqtt_tokio::spawn(options)?)
    }

    fn connection(&self, options: Options) -> Result<(Client, Task), SpawnError> {
        let (client, connection) = mqtt_tokio::new(options)?;
        Ok((client, Box::pin(connection.run())))
    }

    fn spawn_task(&self, task: Task) {
        tokio::spawn(task);
    }

    fn subscribe_with<'a>(
        &'a self,
        client: &'a Client,
        filter: &'a str,
        qos: QoS,
        on_message: Box<dyn FnMut(Message) + Send>,
        on_lagged: Box<dyn FnMut(u64) + Send>,
    ) -> Pin<Box<dyn Future<Output = Result<CallbackHandle, ClientError>> + 'a>> {
        Box::pin(async move {
            let handle =
                mqtt_tokio::subscribe_with(client, filter, qos, on_message, on_lagged).await?;
            Ok(Box::new(handle) as CallbackHandle)
        })
    }
}

mqtt_scenarios::scenarios!(on_tokio, Tokio);
