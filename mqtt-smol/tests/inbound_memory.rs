//! A subscriber that does not read, under a flood of 1 MiB QoS 1 messages, holds no more than
//! the inbound budget (see `mqtt_scenarios::a_reader_that_does_not_read_holds_no_more_than_the_budget`),
//! under smol's executor and under async-std's. One test in this binary: the allocator's
//! counters are the whole process's.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use common::{AsyncStd, OnAsyncIo, Smol};
use mqtt_scenarios::{ProtocolVersion, Runtime};
use mqtt_test_support::alloc;

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

#[test]
fn a_reader_that_does_not_read_holds_no_more_than_the_budget() {
    use mqtt_scenarios::a_reader_that_does_not_read_holds_no_more_than_the_budget as flood;
    for version in [ProtocolVersion::V5, ProtocolVersion::V311] {
        let smol = OnAsyncIo(Smol);
        smol.block_on(flood(&smol, version));
        let async_std = OnAsyncIo(AsyncStd);
        async_std.block_on(flood(&async_std, version));
    }
}
