//! A subscriber that does not read, under a flood of 1 MiB QoS 1 messages, holds no more than
//! the inbound budget (see `mqtt_scenarios::a_reader_that_does_not_read_holds_no_more_than_the_budget`).
//! One test in this binary: the allocator's counters are the whole process's.
#![allow(clippy::unwrap_used, clippy::panic)]

use mqtt_scenarios::{ProtocolVersion, Runtime, Task};
use mqtt_test_support::alloc;

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

struct Tokio(tokio::runtime::Runtime);

impl Runtime for Tokio {
    const NAME: &'static str = "tokio";

    fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.0.block_on(future)
    }

    mqtt_scenarios::driver_methods!(mqtt_tokio);

    fn spawn_task(&self, task: Task) {
        self.0.spawn(task);
    }
}

#[test]
fn a_reader_that_does_not_read_holds_no_more_than_the_budget() {
    let rt = Tokio(tokio::runtime::Runtime::new().unwrap());
    for version in [ProtocolVersion::V5, ProtocolVersion::V311] {
        rt.block_on(
            mqtt_scenarios::a_reader_that_does_not_read_holds_no_more_than_the_budget(&rt, version),
        );
    }
}
