//! A counting global allocator. A test binary installs it with
//!
//! ```text
//! #[global_allocator]
//! static GLOBAL: mqtt_test_support::alloc::Counting = mqtt_test_support::alloc::Counting;
//! ```
//!
//! and reads the counters with [`measure`]. The counters are global: measure in one test
//! function (or serialise the tests) so that other threads do not disturb them.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

/// Calls of `alloc`, `alloc_zeroed` and `realloc`.
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
/// The largest size requested by one call since the last reset.
static LARGEST: AtomicUsize = AtomicUsize::new(0);
/// Bytes currently allocated.
static CURRENT: AtomicUsize = AtomicUsize::new(0);
/// The most bytes allocated at once since the last reset.
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// The allocator: `System`, counted.
#[derive(Debug)]
pub struct Counting;

fn record(size: usize) {
    ALLOCATIONS.fetch_add(1, SeqCst);
    LARGEST.fetch_max(size, SeqCst);
    let now = CURRENT.fetch_add(size, SeqCst) + size;
    PEAK.fetch_max(now, SeqCst);
}

// The one unsafe item of the workspace: every call is passed to `System` unchanged, with the
// same arguments, so `System`'s contract is the caller's; the counters are plain atomics.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc(layout);
        if !ptr.is_null() {
            record(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc_zeroed(layout);
        if !ptr.is_null() {
            record(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        CURRENT.fetch_sub(layout.size(), SeqCst);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = System.realloc(ptr, layout, new_size);
        if !new.is_null() {
            CURRENT.fetch_sub(layout.size(), SeqCst);
            record(new_size);
        }
        new
    }
}

/// What a closure allocated.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    /// Calls of `alloc`, `alloc_zeroed` and `realloc`.
    pub allocations: usize,
    /// The largest single request.
    pub largest: usize,
    /// The most bytes allocated at once above what was allocated before the call.
    pub peak: usize,
}

/// Runs `f` and reports what it allocated (meaningful only where [`Counting`] is the global
/// allocator).
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, Usage) {
    let before = ALLOCATIONS.load(SeqCst);
    LARGEST.store(0, SeqCst);
    let base = CURRENT.load(SeqCst);
    PEAK.store(base, SeqCst);
    let result = f();
    let usage = Usage {
        allocations: ALLOCATIONS.load(SeqCst) - before,
        largest: LARGEST.load(SeqCst),
        peak: PEAK.load(SeqCst).saturating_sub(base),
    };
    (result, usage)
}

/// Bytes allocated now.
pub fn current() -> usize {
    CURRENT.load(SeqCst)
}

/// Starts measuring the peak from what is allocated now.
pub fn reset_peak() {
    PEAK.store(CURRENT.load(SeqCst), SeqCst);
}

/// The most bytes allocated at once since [`reset_peak`] (or [`measure`]).
pub fn peak() -> usize {
    PEAK.load(SeqCst)
}
