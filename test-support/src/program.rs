//! Runs an example program as a user would, with every wait bounded.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `binary` with `args`, killing it (and panicking) if it has not finished within
/// `limit`. Returns whether it exited successfully and its stdout followed by its stderr.
pub fn run(binary: &str, args: &[&str], limit: Duration) -> (bool, String) {
    let mut child = Command::new(binary)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {binary}: {e}"));
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                panic!("{binary} did not finish within {limit:?}");
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("waiting for {binary}: {e}"),
        }
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("reading the output of {binary}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
