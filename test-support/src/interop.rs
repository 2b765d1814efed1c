//! Brokers of other ecosystems for the interop matrix, each started on a free loopback port
//! with its own configuration and data directory, and stopped by its process id when dropped:
//! amqtt (Python, from PyPI), the `mqtt5` crate's broker (a small program of ours over its
//! `broker` feature, `test-support/mqtt5-broker`) and rmqtt (crates.io, the same way:
//! `test-support/rmqtt-broker`). `scripts/interop-brokers.sh` installs them under
//! `target/interop/`; a broker that is not there is a loud failure naming that command, never
//! a skip. aedes ([`crate::aedes`]), mosquitto ([`crate::mosquitto`]) and rumqttd
//! ([`crate::embedded`]) have launchers of their own.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::mosquitto::{free_port, StartError};
use crate::temp::TempDir;

/// How long a broker may take to listen.
const START: Duration = Duration::from_secs(20);

/// Where `scripts/interop-brokers.sh` installs the brokers: `$MQTT_INTEROP_DIR`, else
/// `target/interop` in the workspace (whatever `CARGO_TARGET_DIR` says, so that one install
/// serves every build).
pub fn install_dir() -> PathBuf {
    match std::env::var_os("MQTT_INTEROP_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/interop"),
    }
}

/// A broker process of the matrix, killed (by its process id) when dropped.
#[derive(Debug)]
pub struct BrokerProcess {
    child: Child,
    port: u16,
    // Removed after the process is gone (fields drop after `Drop::drop`).
    _dir: TempDir,
}

impl BrokerProcess {
    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The installed program `relative` (under [`install_dir`]), or the loud failure.
fn installed(relative: &str, what: &str) -> Result<PathBuf, StartError> {
    let path = install_dir().join(relative);
    if path.is_file() {
        Ok(path)
    } else {
        Err(StartError(format!(
            "{what} is not installed at {}: run `bash scripts/interop-brokers.sh` \
             (scripts/test.sh does)",
            path.display()
        )))
    }
}

/// amqtt 0.12 (Python; MQTT 3.1.1 only), from a virtual environment under [`install_dir`].
pub fn amqtt() -> Result<BrokerProcess, StartError> {
    let bin = installed("amqtt/bin/amqtt", "amqtt")?;
    let mut last = StartError("no attempt".into());
    // It binds the port it is given: another test may take the free port first, then
    // another port is tried.
    for _ in 0..5 {
        let dir = TempDir::new("amqtt").map_err(|e| StartError(e.to_string()))?;
        let port = free_port();
        let config = dir.path().join("broker.yaml");
        let text = format!(
            "listeners:\n  default:\n    type: tcp\n    bind: 127.0.0.1:{port}\n\
             plugins:\n  amqtt.plugins.authentication.AnonymousAuthPlugin:\n    \
             allow_anonymous: true\n"
        );
        std::fs::File::create(&config)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|e| StartError(format!("{config:?}: {e}")))?;
        let mut command = Command::new(&bin);
        command.arg("-c").arg(&config).current_dir(dir.path());
        let child = spawn(command, "amqtt")?;
        match wait_listening(child, port, dir, "amqtt") {
            Ok(broker) => return Ok(broker),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The `mqtt5` crate's broker (`test-support/mqtt5-broker`: binds port 0 and prints it), its
/// sessions kept in a directory of its own.
pub fn mqtt5() -> Result<BrokerProcess, StartError> {
    let bin = installed("cargo/debug/mqtt5-test-broker", "the mqtt5 broker")?;
    let dir = TempDir::new("mqtt5-broker").map_err(|e| StartError(e.to_string()))?;
    let mut command = Command::new(bin);
    command
        .arg(dir.path().join("storage"))
        .current_dir(dir.path());
    announced(command, dir, "the mqtt5 broker")
}

/// The `mqtt5` crate's broker with SCRAM-SHA-256 enhanced authentication (MQTT v5) for one
/// user: anonymous clients and wrong passwords are refused.
pub fn mqtt5_scram(user: &str, password: &str) -> Result<BrokerProcess, StartError> {
    let bin = installed("cargo/debug/mqtt5-test-broker", "the mqtt5 broker")?;
    let dir = TempDir::new("mqtt5-scram").map_err(|e| StartError(e.to_string()))?;
    let mut command = Command::new(bin);
    command
        .arg(dir.path().join("storage"))
        .args(["--scram", user, password])
        .current_dir(dir.path());
    announced(command, dir, "the mqtt5 broker")
}

/// rmqtt (`test-support/rmqtt-broker`: binds port 0 and prints it).
pub fn rmqtt() -> Result<BrokerProcess, StartError> {
    let bin = installed("cargo/debug/rmqtt-test-broker", "rmqtt")?;
    let dir = TempDir::new("rmqtt").map_err(|e| StartError(e.to_string()))?;
    let mut command = Command::new(bin);
    command.current_dir(dir.path());
    announced(command, dir, "rmqtt")
}

fn spawn(mut command: Command, what: &str) -> Result<Child, StartError> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| StartError(format!("{what} could not be run: {e}")))
}

/// Waits until something accepts connections on `port`, or the process exits.
fn wait_listening(
    mut child: Child,
    port: u16,
    dir: TempDir,
    what: &str,
) -> Result<BrokerProcess, StartError> {
    let deadline = Instant::now() + START;
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(BrokerProcess {
                child,
                port,
                _dir: dir,
            });
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(StartError(format!("{what} exited: {status}")));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(StartError(format!(
                "{what} did not listen within {START:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts a program that binds port 0 and prints `listening PORT`: no race for a free port.
fn announced(command: Command, dir: TempDir, what: &str) -> Result<BrokerProcess, StartError> {
    let mut child = spawn(command, what)?;
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
    match rx.recv_timeout(START) {
        Ok(Some(port)) => Ok(BrokerProcess {
            child,
            port,
            _dir: dir,
        }),
        other => {
            let _ = child.kill();
            let status = child.wait();
            Err(StartError(format!(
                "{what} did not say where it listens within {START:?} ({other:?}, {status:?})"
            )))
        }
    }
}
