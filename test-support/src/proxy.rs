//! Real proxies for the proxy tests, from Debian's packages: `tinyproxy` (HTTP CONNECT, with
//! Basic authentication) and `microsocks` (SOCKS5, with or without a user name and password).
//! Each runs in the foreground on a free loopback port with its own configuration and is
//! stopped by its process id when dropped. A missing binary is a loud failure naming the
//! command that installs it (scripts/test.sh installs both).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::mosquitto::{free_port, StartError};
use crate::TempDir;

/// Which proxy server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyServer {
    /// tinyproxy: HTTP CONNECT.
    Tinyproxy,
    /// microsocks: SOCKS5.
    Microsocks,
}

impl ProxyServer {
    fn binary(self) -> &'static str {
        match self {
            ProxyServer::Tinyproxy => "tinyproxy",
            ProxyServer::Microsocks => "microsocks",
        }
    }
}

/// A running proxy.
#[derive(Debug)]
pub struct RunningProxy {
    child: Child,
    port: u16,
    dir: TempDir,
}

fn find(name: &str) -> Result<PathBuf, StartError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin".into(), "/usr/sbin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            StartError(format!(
                "{name} is not installed: run `apt-get update && apt-get install -y {name}` \
                 (scripts/test.sh does this when run as root)"
            ))
        })
}

impl RunningProxy {
    /// Starts `server` on a free loopback port; with `credentials`, it wants that user name
    /// and password. Waits (at most 10 s) until it accepts connections.
    pub fn start(
        server: ProxyServer,
        credentials: Option<(&str, &str)>,
    ) -> Result<RunningProxy, StartError> {
        let binary = find(server.binary())?;
        let mut last = StartError("no attempt".into());
        // Another test may take the free port first: then the proxy exits, and another port
        // is tried.
        for _ in 0..5 {
            let port = free_port();
            let dir = TempDir::new(&format!("{}-{port}", server.binary()))
                .map_err(|e| StartError(e.to_string()))?;
            let mut command = Command::new(&binary);
            match server {
                ProxyServer::Tinyproxy => {
                    let mut conf = format!(
                        "Port {port}\nListen 127.0.0.1\nTimeout 60\nMaxClients 100\n\
                         Allow 127.0.0.1\nLogFile \"{}/tinyproxy.log\"\nLogLevel Connect\n\
                         DisableViaHeader Yes\n",
                        dir.path().display()
                    );
                    if let Some((user, password)) = credentials {
                        conf.push_str(&format!("BasicAuth {user} {password}\n"));
                    }
                    let file = dir.path().join("tinyproxy.conf");
                    std::fs::write(&file, conf).map_err(|e| StartError(e.to_string()))?;
                    command.arg("-d").arg("-c").arg(&file);
                }
                ProxyServer::Microsocks => {
                    command.args(["-i", "127.0.0.1", "-p", &port.to_string()]);
                    if let Some((user, password)) = credentials {
                        command.args(["-u", user, "-P", password]);
                    }
                }
            }
            let child = command
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| StartError(format!("starting {}: {e}", server.binary())))?;
            let mut proxy = RunningProxy { child, port, dir };
            match proxy.wait_listening(server) {
                Ok(()) => return Ok(proxy),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn wait_listening(&mut self, server: ProxyServer) -> Result<(), StartError> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(StartError(format!(
                    "{} exited with {status}",
                    server.binary()
                )));
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                // Something listens; make sure it is this proxy (it exits when it cannot bind).
                std::thread::sleep(Duration::from_millis(100));
                if let Ok(Some(status)) = self.child.try_wait() {
                    return Err(StartError(format!(
                        "{} exited with {status}",
                        server.binary()
                    )));
                }
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(StartError(format!(
            "{} did not listen within 10 s",
            server.binary()
        )))
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// tinyproxy's log (it records each CONNECT request); empty for microsocks.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("tinyproxy.log")).unwrap_or_default()
    }
}

impl Drop for RunningProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
