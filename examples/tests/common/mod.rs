//! What the crash tests share: child processes that are killed when dropped, their output as
//! lines, and seeded kill points.
#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::sync::mpsc;

/// Kills a child when dropped (a failed test leaves no process behind).
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The lines a child prints, as they come.
pub fn lines(child: &mut Child) -> mpsc::Receiver<String> {
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

pub fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The generator of the kill points (SplitMix64).
pub fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Runs `command` (its stdout piped) until it ends, handing each line it prints to `on_line`;
/// kills it with SIGKILL (no destructor, no flush, no DISCONNECT) the first time `on_line`
/// returns true, and keeps reading what it had printed until the pipe closes. Fails if it
/// prints nothing for two minutes. Returns its exit status.
pub fn watch(
    command: &mut std::process::Command,
    mut on_line: impl FnMut(&str) -> bool,
) -> std::process::ExitStatus {
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let rx = lines(&mut child);
    let mut child = Reaped(child);
    let mut killed = false;
    loop {
        match rx.recv_timeout(std::time::Duration::from_secs(120)) {
            Ok(line) => {
                if on_line(&line) && !killed {
                    child.0.kill().unwrap();
                    killed = true;
                }
            }
            // The pipe is closed: the process ended and everything it printed was read.
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("the child printed nothing for 2 min"),
        }
    }
    child.0.wait().unwrap()
}

/// The arguments the crash programs share: runtime, broker URL, client id, store file,
/// protocol version, QoS.
pub fn program_args(
    runtime: &str,
    port: u16,
    id: &str,
    store: &std::path::Path,
    version: &str,
    qos: u8,
) -> Vec<String> {
    vec![
        runtime.to_string(),
        format!("mqtt://127.0.0.1:{port}"),
        id.to_string(),
        store.to_str().unwrap().to_string(),
        version.to_string(),
        qos.to_string(),
    ]
}
