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
//! The counter is global: count in one thread at a time. Tests count with
//! [`count_allocations_here`], which leaves out other threads: the test harness allocates on
//! its own threads (starting the next test, printing a result) whenever it likes, and a count
//! of every thread's calls made a test of "no allocation" fail now and then.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{
    AtomicBool, AtomicIsize, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst,
};

/// Whether calls are being counted.
static ON: AtomicBool = AtomicBool::new(false);
/// Calls of `alloc`, `alloc_zeroed` and `realloc` while counting.
static CALLS: AtomicUsize = AtomicUsize::new(0);
/// Bytes allocated minus bytes freed while counting.
static NET: AtomicIsize = AtomicIsize::new(0);
/// Whether only the threads that set [`HERE`] are counted.
static ONLY_HERE: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Whether this thread is counted while [`ONLY_HERE`] is set. A `const`-initialized
    /// `Cell<bool>` needs no allocation and no destructor, so the allocator may read it.
    static HERE: Cell<bool> = const { Cell::new(false) };
}

/// Whether a call on this thread counts now.
fn counted() -> bool {
    ON.load(Relaxed) && (!ONLY_HERE.load(Relaxed) || HERE.with(Cell::get))
}

/// The allocator: `System`, with calls counted while [`count_allocations`] runs.
#[derive(Debug)]
pub struct Gated;

fn note(grown: isize) {
    if counted() {
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
        if counted() {
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

/// Runs `f` and returns its result with the number of `alloc`, `alloc_zeroed` and `realloc`
/// calls this thread made meanwhile; other threads' calls are not counted.
pub fn count_allocations_here<R>(f: impl FnOnce() -> R) -> (R, usize) {
    only_here(|| count_allocations(f))
}

/// Runs `f` and returns its result with the bytes this thread left allocated (as
/// [`net_bytes`]); other threads' calls are not counted.
pub fn net_bytes_here<R>(f: impl FnOnce() -> R) -> (R, isize) {
    only_here(|| net_bytes(f))
}

/// Runs `f` (which counts) with only this thread's calls counted.
fn only_here<R>(f: impl FnOnce() -> R) -> R {
    HERE.with(|here| here.set(true));
    ONLY_HERE.store(true, SeqCst);
    let result = f();
    ONLY_HERE.store(false, SeqCst);
    HERE.with(|here| here.set(false));
    result
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
