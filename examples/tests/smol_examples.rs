//! The smol and async-std example programs, run as a user runs them (embedded broker).
#![allow(clippy::unwrap_used, clippy::panic)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn run(binary: &str) -> (bool, String) {
    let mut child = Command::new(binary)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("{binary} did not finish");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn the_smol_and_async_std_quick_starts_run() {
    for (binary, prefix) in [
        (env!("CARGO_BIN_EXE_smol-quickstart"), "smol"),
        (env!("CARGO_BIN_EXE_async-std-quickstart"), "async-std"),
    ] {
        let (ok, output) = run(binary);
        assert!(ok, "{output}");
        assert_eq!(
            output.matches(&format!("received on {prefix}/")).count(),
            3,
            "{output}"
        );
        assert!(output.contains("disconnected"), "{output}");
    }
}
