//! The shared integration scenarios (mqtt-scenarios) under smol's executor and under
//! async-std's: one test per scenario, protocol version and executor, against brokers the
//! scenarios start. `mqtt_smol::spawn` runs each connection task on a thread of its own (an
//! async-io executor); the scenario itself, and the connection task it cuts in the will
//! scenario, run on the executor under test.
#![allow(clippy::unwrap_used, clippy::panic)]

use mqtt_scenarios::{Runtime, SpawnError, Task};
use mqtt_smol::{Client, Options};
use std::future::Future;

/// smol's executor.
struct Smol;

impl Runtime for Smol {
    const NAME: &'static str = "smol";

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        smol::block_on(future)
    }

    fn spawn(&self, options: Options) -> Result<Client, SpawnError> {
        Ok(mqtt_smol::spawn(options)?)
    }

    fn connection(&self, options: Options) -> Result<(Client, Task), SpawnError> {
        let (client, connection) = mqtt_smol::new(options)?;
        Ok((client, Box::pin(connection.run())))
    }

    fn spawn_task(&self, task: Task) {
        smol::spawn(task).detach();
    }
}

/// async-std's executor.
struct AsyncStd;

impl Runtime for AsyncStd {
    const NAME: &'static str = "async-std";

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        async_std::task::block_on(future)
    }

    fn spawn(&self, options: Options) -> Result<Client, SpawnError> {
        Ok(mqtt_smol::spawn(options)?)
    }

    fn connection(&self, options: Options) -> Result<(Client, Task), SpawnError> {
        let (client, connection) = mqtt_smol::new(options)?;
        Ok((client, Box::pin(connection.run())))
    }

    fn spawn_task(&self, task: Task) {
        // Dropping the handle detaches the task.
        drop(async_std::task::spawn(task));
    }
}

mqtt_scenarios::scenarios!(on_smol, Smol);
mqtt_scenarios::scenarios!(on_async_std, AsyncStd);
