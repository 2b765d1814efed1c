//! Starts a real mosquitto for integration tests: a free loopback port, its own configuration
//! and data directory, stopped by its process id when dropped. A missing `mosquitto` binary is
//! a loud failure that names the command to install it, never a skip.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How to run the broker.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Extra lines for the listener's configuration (e.g. `allow_anonymous false`).
    pub extra_config: Vec<String>,
    /// Keep messages on disk across restarts (`persistence true`).
    pub persistence: bool,
}

/// A running mosquitto.
#[derive(Debug)]
pub struct Mosquitto {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    options: Options,
}

/// Why the broker could not be started.
#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

/// The mosquitto binary: `$MOSQUITTO`, `mosquitto` on the PATH, or Debian's `/usr/sbin`.
fn binary() -> Result<PathBuf, StartError> {
    if let Some(path) = std::env::var_os("MOSQUITTO") {
        return Ok(PathBuf::from(path));
    }
    let candidates = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("mosquitto"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    candidates
        .into_iter()
        .chain([PathBuf::from("/usr/sbin/mosquitto")])
        .find(|p| p.is_file())
        .ok_or_else(|| {
            StartError(
                "mosquitto is not installed: run `apt-get update && apt-get install -y mosquitto` \
                 (scripts/test.sh does this when run as root)"
                    .into(),
            )
        })
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    free_ports::<1>()[0]
}

/// `N` different loopback ports nobody listens on right now. Each is held until all are
/// found: ports taken one after the other could be the same one twice (the system may hand
/// out a port again as soon as it is let go), and a broker with two listeners on one port
/// cannot start.
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<Option<TcpListener>> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").ok())
        .collect();
    let mut ports = [0; N];
    for (port, listener) in ports.iter_mut().zip(&listeners) {
        *port = listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map_or(0, |a| a.port());
    }
    ports
}

impl Mosquitto {
    /// Starts mosquitto with `options` and waits (at most 10 s) until it accepts connections.
    pub fn start(options: Options) -> Result<Mosquitto, StartError> {
        // Another test may take the free port first: then this mosquitto cannot bind and
        // exits, and another port is tried.
        let mut last = StartError("no attempt".into());
        for _ in 0..5 {
            let port = free_port();
            let dir = std::env::temp_dir()
                .join(format!("mqtt-test-broker-{}-{port}", std::process::id()));
            std::fs::create_dir_all(&dir).map_err(|e| StartError(format!("{dir:?}: {e}")))?;
            // Started as root, mosquitto drops to its own user, which must be able to write its
            // log and its persistence database here.
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777))
                .map_err(|e| StartError(format!("{dir:?}: {e}")))?;
            let mut broker = Mosquitto {
                child: None,
                port,
                dir,
                options: options.clone(),
            };
            match broker.spawn() {
                Ok(()) => return Ok(broker),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Starts a plain anonymous broker.
    pub fn plain() -> Result<Mosquitto, StartError> {
        Self::start(Options::default())
    }

    fn spawn(&mut self) -> Result<(), StartError> {
        let conf = self.dir.join("mosquitto.conf");
        let mut text = format!(
            "listener {} 127.0.0.1\nallow_anonymous true\npersistence {}\npersistence_location {}/\nlog_dest file {}/mosquitto.log\nautosave_interval 1\nautosave_on_changes true\n",
            self.port,
            self.options.persistence,
            self.dir.display(),
            self.dir.display()
        );
        for line in &self.options.extra_config {
            text.push_str(line);
            text.push('\n');
        }
        std::fs::File::create(&conf)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|e| StartError(format!("{conf:?}: {e}")))?;
        let child = Command::new(binary()?)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| StartError(format!("starting mosquitto: {e}")))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                // Something listens; make sure it is this mosquitto, not a process that had the
                // port first (mosquitto exits at once when it cannot bind).
                std::thread::sleep(Duration::from_millis(100));
                if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                    return Err(StartError(format!("mosquitto exited with {status}")));
                }
                return Ok(());
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                return Err(StartError(format!(
                    "mosquitto exited with {status}; log: {}",
                    std::fs::read_to_string(self.dir.join("mosquitto.log")).unwrap_or_default()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(StartError("mosquitto did not listen within 10 s".into()))
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its data directory (configuration, log, persistence file).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stops it (SIGKILL, by process id) without removing its data.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes it (SIGSTOP): connections stay open, nothing is read or answered, until
    /// [`Mosquitto::resume`].
    pub fn pause(&self) {
        if let Some(child) = &self.child {
            signal(child, "-STOP");
        }
    }

    /// Lets a paused broker go on (SIGCONT).
    pub fn resume(&self) {
        if let Some(child) = &self.child {
            signal(child, "-CONT");
        }
    }

    /// Stops it and starts it again on the same port with the same data.
    pub fn restart(&mut self) -> Result<(), StartError> {
        self.kill();
        self.spawn()
    }

    /// Stops it with SIGTERM (mosquitto saves its persistence database on the way out), waits
    /// at most 10 s for it to exit, and starts it again on the same port with the same data.
    pub fn restart_graceful(&mut self) -> Result<(), StartError> {
        if let Some(mut child) = self.child.take() {
            signal(&child, "-TERM");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        self.spawn()
    }
}

/// Sends `signal` to `child` by its process id.
fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status();
    assert!(
        status.as_ref().is_ok_and(|s| s.success()),
        "kill {signal} mosquitto failed: {status:?}"
    );
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_different_ports() {
        for _ in 0..50 {
            let ports = free_ports::<8>();
            let mut sorted = ports.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), 8, "{ports:?}");
            assert!(!sorted.contains(&0), "{ports:?}");
        }
    }
}
