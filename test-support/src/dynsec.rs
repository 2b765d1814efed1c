//! A mosquitto with its dynamic-security plugin: an admin client adds, disables and deletes
//! clients at run time over MQTT (`$CONTROL/dynamic-security/v1`). Disabling a connected client
//! is the one way found to make mosquitto 2.0.11 send DISCONNECT to a v5 client that breaks no
//! rule (reason 0x98 Administrative action); session take-over, keep-alive expiry and shutdown
//! only close the socket.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::mosquitto::{Mosquitto, Options as BrokerOptions, StartError};
use crate::TempDir;

/// The admin's user name in the generated configuration.
pub const ADMIN_USER: &str = "admin";
/// The admin's password in the generated configuration.
pub const ADMIN_PASSWORD: &str = "admin-s3cret";
/// Where the admin publishes commands.
pub const COMMAND_TOPIC: &str = "$CONTROL/dynamic-security/v1";
/// Where mosquitto answers them.
pub const RESPONSE_TOPIC: &str = "$CONTROL/dynamic-security/v1/response";

/// A running mosquitto with the dynamic-security plugin and an admin client.
#[derive(Debug)]
pub struct DynsecBroker {
    /// The broker.
    pub broker: Mosquitto,
    _dir: TempDir,
}

/// The plugin: `$MOSQUITTO_DYNSEC_PLUGIN`, or where Debian and a source install put it.
fn plugin() -> Result<PathBuf, StartError> {
    if let Some(path) = std::env::var_os("MOSQUITTO_DYNSEC_PLUGIN") {
        return Ok(PathBuf::from(path));
    }
    const NAME: &str = "mosquitto_dynamic_security.so";
    let multiarch = std::fs::read_dir("/usr/lib")
        .map(|dirs| {
            dirs.filter_map(|d| d.ok())
                .map(|d| d.path().join(NAME))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    multiarch
        .into_iter()
        .chain([
            PathBuf::from("/usr/lib").join(NAME),
            PathBuf::from("/usr/local/lib").join(NAME),
        ])
        .find(|p| p.is_file())
        .ok_or_else(|| {
            StartError(format!(
                "{NAME} (mosquitto's dynamic-security plugin) is missing: run \
                 `apt-get install -y mosquitto`, or set MOSQUITTO_DYNSEC_PLUGIN to its path"
            ))
        })
}

/// Starts a mosquitto whose dynamic-security configuration has only the admin client
/// ([`ADMIN_USER`] / [`ADMIN_PASSWORD`]); `name` keeps its files apart from other tests'.
pub fn dynsec_broker(name: &str) -> Result<DynsecBroker, StartError> {
    let dir = TempDir::new(&format!("dynsec-{name}"))
        .map_err(|e| StartError(format!("a directory for dynsec-{name}: {e}")))?;
    let config = dir.path().join("dynamic-security.json");
    // mosquitto_ctrl writes the file with the admin's salted password hash.
    let status = Command::new("mosquitto_ctrl")
        .args(["dynsec", "init"])
        .arg(&config)
        .args([ADMIN_USER, ADMIN_PASSWORD])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| {
            StartError(format!(
                "mosquitto_ctrl could not be run ({e}): run `apt-get install -y mosquitto`"
            ))
        })?;
    if !status.success() || !config.is_file() {
        return Err(StartError(format!(
            "`mosquitto_ctrl dynsec init {}` failed with {status}",
            config.display()
        )));
    }
    // Started as root, mosquitto drops to its own user: let it save the changes the admin
    // makes (it only logs an error otherwise).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777));
        let _ = std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o666));
    }
    let broker = Mosquitto::start(BrokerOptions {
        extra_config: vec![
            format!("plugin {}", plugin()?.display()),
            format!("plugin_opt_config_file {}", config.display()),
        ],
        ..BrokerOptions::default()
    })?;
    Ok(DynsecBroker { broker, _dir: dir })
}
