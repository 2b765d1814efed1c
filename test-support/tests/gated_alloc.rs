#![allow(clippy::unwrap_used, missing_docs)]
//! The gated allocator counts every thread's calls with `count_allocations`, and only the
//! calling thread's with `count_allocations_here`.

use std::hint::black_box;
use std::sync::{Arc, Barrier};

use mqtt_test_support::gated_alloc::{count_allocations, count_allocations_here, Gated};

#[global_allocator]
static GLOBAL: Gated = Gated;

/// What a counting function does: runs the closure, returns the calls it counted.
type Count = fn(Box<dyn FnOnce()>) -> ((), usize);

/// Counts, with `count`, while another thread makes 100 allocations and this one makes 3.
fn count_while_another_thread_allocates(count: Count) -> usize {
    let barrier = Arc::new(Barrier::new(2));
    let other = {
        let barrier = barrier.clone();
        std::thread::spawn(move || {
            barrier.wait();
            for i in 0..100u64 {
                black_box(Box::new(i));
            }
            barrier.wait();
        })
    };
    let (_, calls) = count(Box::new(move || {
        barrier.wait();
        barrier.wait();
        for i in 0..3u64 {
            black_box(Box::new(i));
        }
    }));
    other.join().unwrap();
    calls
}

#[test]
fn counting_here_leaves_out_other_threads() {
    // The only test in this file: nothing else counts meanwhile.
    let everywhere = count_while_another_thread_allocates(count_allocations);
    assert!(
        everywhere >= 103,
        "{everywhere} calls counted on both threads"
    );
    let here = count_while_another_thread_allocates(count_allocations_here);
    assert_eq!(here, 3, "calls counted on this thread");
}
