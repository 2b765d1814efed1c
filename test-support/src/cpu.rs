//! CPU time of this process's threads, for benchmarks (Linux `schedstat`).

/// CPU time of one thread so far, nanoseconds, from its `schedstat` file.
fn schedstat_ns(path: impl AsRef<std::path::Path>) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// CPU time so far, nanoseconds: of the calling thread, and of all this process's threads
/// (those alive now: a thread that ended takes its time with it).
pub fn cpu_ns() -> (u64, u64) {
    let main = schedstat_ns("/proc/thread-self/schedstat");
    let all = std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(|t| Some(schedstat_ns(t.ok()?.path().join("schedstat"))))
                .sum()
        })
        .unwrap_or(main);
    (main, all)
}

/// The CPU time of all this process's threads since `before` (from [`cpu_ns`]), and the part
/// of it spent off the calling thread, nanoseconds.
pub fn cpu_since(before: (u64, u64)) -> (u64, u64) {
    let (main, all) = cpu_ns();
    let all = all.saturating_sub(before.1);
    (all, all.saturating_sub(main - before.0))
}
