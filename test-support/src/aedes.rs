//! Starts aedes (Node.js), a real broker that speaks MQTT 3.1.1 only, on a free loopback
//! port, stopped by its process id when dropped: for the tests of a v5 client meeting a
//! 3.1.1-only server. It is installed from `test-support/aedes/package-lock.json` by
//! `scripts/test.sh` (`npm ci`); a missing `node` or a missing install is a loud failure that
//! names the command to run, never a skip.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::mosquitto::StartError;

/// A running aedes.
#[derive(Debug)]
pub struct Aedes {
    child: Child,
    port: u16,
}

/// Where its package and start script are.
fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("aedes")
}

impl Aedes {
    /// Starts aedes on a free loopback port and waits (at most 10 s) until it accepts
    /// connections.
    pub fn start() -> Result<Aedes, StartError> {
        let dir = dir();
        if !dir.join("node_modules/aedes/package.json").is_file() {
            return Err(StartError(format!(
                "aedes is not installed: run `npm ci --prefix {}` (scripts/test.sh does)",
                dir.display()
            )));
        }
        let mut child = Command::new("node")
            .arg(dir.join("broker.mjs"))
            .arg("0")
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                StartError(format!(
                    "node could not be run ({e}): install Node.js (apt-get install -y nodejs npm)"
                ))
            })?;
        // The script binds port 0 and says which port it got: no race for a free port.
        let (tx, rx) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if let Some(port) = line.strip_prefix("listening ") {
                        let _ = tx.send(port.trim().parse::<u16>().ok());
                    }
                }
            });
        }
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Some(port)) => Ok(Aedes { child, port }),
            other => {
                let _ = child.kill();
                let _ = child.wait();
                Err(StartError(format!(
                    "aedes did not start listening within 10 s ({other:?})"
                )))
            }
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for Aedes {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
