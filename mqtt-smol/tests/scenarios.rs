//! The shared integration scenarios (mqtt-scenarios) under smol's executor and under
//! async-std's: one test per scenario, protocol version and executor, against brokers the
//! scenarios start. `mqtt_smol::spawn` runs each connection task on a thread of its own (an
//! async-io executor); the scenario itself, and the connection task it cuts in the will
//! scenario, run on the executor under test.
#![allow(clippy::unwrap_used, clippy::panic)]

use mqtt_scenarios::{CallbackHandle, Runtime, SpawnError, Task};
use mqtt_smol::{Client, ClientError, Message, Options, QoS};
use std::future::Future;
use std::pin::Pin;

/// What differs between the executors: running a future to completion, and detaching a task.
/// The driver is mqtt-smol's under both.
trait Executor {
    const NAME: &'static str;
    fn block_on<F: Future>(future: F) -> F::Output;
    fn spawn_task(task: Task);
}

/// smol's executor.
struct Smol;

impl Executor for Smol {
    const NAME: &'static str = "smol";

    fn block_on<F: Future>(future: F) -> F::Output {
        smol::block_on(future)
    }

    fn spawn_task(task: Task) {
        smol::spawn(task).detach();
    }
}

/// async-std's executor.
struct AsyncStd;

impl Executor for AsyncStd {
    const NAME: &'static str = "async-std";

    fn block_on<F: Future>(future: F) -> F::Output {
        async_std::task::block_on(future)
    }

    fn spawn_task(task: Task) {
        // Dropping the handle detaches the task.
        drop(async_std::task::spawn(task));
    }
}

/// mqtt-smol on an executor.
struct OnAsyncIo<E>(E);

impl<E: Executor> Runtime for OnAsyncIo<E> {
    const NAME: &'static str = E::NAME;

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        E::block_on(future)
    }

    fn spawn(&self, options: Options) -> Result<Client, SpawnError> {
        Ok(mqtt_smol::spawn(options)?)
    }

    fn connection(&self, options: Options) -> Result<(Client, Task), SpawnError> {
        let (client, connection) = mqtt_smol::new(options)?;
        Ok((client, Box::pin(connection.run())))
    }

    fn spawn_task(&self, task: Task) {
        E::spawn_task(task);
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
                mqtt_smol::subscribe_with(client, filter, qos, on_message, on_lagged).await?;
            Ok(Box::new(handle) as CallbackHandle)
        })
    }
}

mqtt_scenarios::scenarios!(on_smol, OnAsyncIo(Smol));
mqtt_scenarios::scenarios!(on_async_std, OnAsyncIo(AsyncStd));
