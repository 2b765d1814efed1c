//! The smol and async-std example programs, run as a user runs them (embedded broker).
#![allow(clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

#[test]
fn the_smol_and_async_std_quick_starts_run() {
    for (binary, prefix) in [
        (env!("CARGO_BIN_EXE_smol-quickstart"), "smol"),
        (env!("CARGO_BIN_EXE_async-std-quickstart"), "async-std"),
    ] {
        let (ok, output) = mqtt_test_support::program::run(binary, &[], Duration::from_secs(30));
        assert!(ok, "{output}");
        assert_eq!(
            output.matches(&format!("received on {prefix}/")).count(),
            3,
            "{output}"
        );
        assert!(output.contains("disconnected"), "{output}");
    }
}
