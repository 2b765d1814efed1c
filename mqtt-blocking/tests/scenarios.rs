//! The shared integration scenarios (mqtt-scenarios) on the blocking client: its connection
//! loop on a thread of its own, the scenario's own steps run by `mqtt_blocking::block_on`
//! on the test thread, against brokers the scenarios start. (The WebSocket scenarios are not
//! run: this driver does not speak WebSocket.)
#![allow(clippy::unwrap_used, clippy::panic)]

use mqtt_blocking::{Client, ClientError, Message, Options, QoS};
use mqtt_scenarios::{CallbackHandle, Runtime, SpawnError, Task};
use std::future::Future;
use std::pin::Pin;

/// std threads: the blocking driver.
struct Threads;

impl Runtime for Threads {
    const NAME: &'static str = "blocking";

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        mqtt_blocking::block_on(future)
    }

    fn spawn(&self, options: Options) -> Result<mqtt_blocking::AsyncClient, SpawnError> {
        Ok(Client::connect(options)?.as_async().clone())
    }

    fn connection(
        &self,
        options: Options,
    ) -> Result<(mqtt_blocking::AsyncClient, Task), SpawnError> {
        let (client, connection) = mqtt_blocking::new(options)?;
        Ok((client, Box::pin(connection.run())))
    }

    fn spawn_task(&self, task: Task) {
        std::thread::spawn(move || mqtt_blocking::block_on(task));
    }

    fn subscribe_with<'a>(
        &'a self,
        client: &'a mqtt_blocking::AsyncClient,
        filter: &'a str,
        qos: QoS,
        on_message: Box<dyn FnMut(Message) + Send>,
        on_lagged: Box<dyn FnMut(u64) + Send>,
    ) -> Pin<Box<dyn Future<Output = Result<CallbackHandle, ClientError>> + 'a>> {
        let client = Client::from_async(client.clone());
        let filter = filter.to_string();
        Box::pin(async move {
            let handle =
                mqtt_blocking::subscribe_with(&client, &filter, qos, on_message, on_lagged)?;
            Ok(Box::new(handle) as CallbackHandle)
        })
    }
}

mqtt_scenarios::scenarios!(on_blocking, Threads);
