//! The executors the mqtt-smol tests run on: smol's and async-std's, each with mqtt-smol's
//! driver.
#![allow(dead_code)]

use mqtt_scenarios::{Runtime, Task};
use std::future::Future;

/// What differs between the executors: running a future to completion, and detaching a task.
/// The driver is mqtt-smol's under both.
pub trait Executor {
    const NAME: &'static str;
    fn block_on<F: Future>(future: F) -> F::Output;
    fn spawn_task(task: Task);
}

/// smol's executor.
pub struct Smol;

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
pub struct AsyncStd;

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
pub struct OnAsyncIo<E>(pub E);

impl<E: Executor> Runtime for OnAsyncIo<E> {
    const NAME: &'static str = E::NAME;

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        E::block_on(future)
    }

    mqtt_scenarios::driver_methods!(mqtt_smol);

    fn spawn_task(&self, task: Task) {
        E::spawn_task(task);
    }
}
