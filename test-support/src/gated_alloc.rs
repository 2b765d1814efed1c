//! A global allocator that counts allocations only while [`count_allocations`] runs. Switched
//! off it costs one relaxed load per call, so a benchmark can install it and still time other
//! code fairly ([`crate::alloc::Counting`] updates four sequentially consistent atomics on every
//! allocation, which would inflate the time of whatever allocates):
//!
//! ```text
//! #[global_allocator]
//! static GLOBAL: mqtt_test_support::gated_alloc::Gated = mqtt_test_support::gated_alloc::Gated;
//! ```
//!
//! The counter is global: count in one thread at a time.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{
    AtomicBool, AtomicIsize, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst,
};

/// Whether calls are being counted.
static ON: AtomicBool = AtomicBool::new(false);
/// Calls of `alloc`, `alloc_zeroed` and `realloc` while counting.
static CALLS: AtomicUsize = AtomicUsize::new(0);
/// Bytes allocated minus bytes freed while counting.
static NET: AtomicIsize = AtomicIsize::new(0);

/// The allocator: `System`, with calls counted while [`count_allocations`] runs.
#[derive(Debug)]
pub struct Gated;

fn note(grown: isize) {
    if ON.load(Relaxed) {
        CALLS.fetch_add(1, Relaxed);
        NET.fetch_add(grown, Relaxed);
    }
}

// Every call is passed to `System` unchanged, with the same arguments, so `System`'s contract
// is the caller's; the counter is a plain atomic.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Gated {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size() as isize);
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size() as isize);
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ON.load(Relaxed) {
            NET.fetch_sub(layout.size() as isize, Relaxed);
        }
        System.dealloc(ptr, layout);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size as isize - layout.size() as isize);
        System.realloc(ptr, layout, new_size)
    }
}

/// Runs `f` and returns its result with the number of `alloc`, `alloc_zeroed` and `realloc`
/// calls made meanwhile (by any thread; meaningful only where [`Gated`] is the global
/// allocator).
pub fn count_allocations<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = CALLS.load(SeqCst);
    ON.store(true, SeqCst);
    let result = f();
    ON.store(false, SeqCst);
    (result, CALLS.load(SeqCst) - before)
}

/// Starts counting, for code that cannot run inside [`count_allocations`]'s closure (an
/// `async` region); returns what [`stop_counting`] needs.
pub fn start_counting() -> usize {
    let before = CALLS.load(SeqCst);
    ON.store(true, SeqCst);
    before
}

/// Stops counting started by [`start_counting`] (which returned `since`): the number of
/// `alloc`, `alloc_zeroed` and `realloc` calls made meanwhile, by any thread.
pub fn stop_counting(since: usize) -> usize {
    ON.store(false, SeqCst);
    CALLS.load(SeqCst) - since
}

/// Runs `f` and returns its result with the bytes it left allocated: allocated minus freed
/// while it ran (so what `f` allocated and returned or stored, if it freed nothing older).
pub fn net_bytes<R>(f: impl FnOnce() -> R) -> (R, isize) {
    let before = NET.load(SeqCst);
    ON.store(true, SeqCst);
    let result = f();
    ON.store(false, SeqCst);
    (result, NET.load(SeqCst) - before)
}
