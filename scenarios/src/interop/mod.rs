//! The interop matrix: one common set of cells run against brokers of other ecosystems on
//! each protocol version they speak. A cell records what the broker did ("ok", or what it did
//! instead), and the test asserts the row recorded in `expected.rs`, so a change in our client
//! or in a broker shows as a failing test whose message is the new row. `docs/interop.md`
//! holds the table, as measured.
//!
//! Every broker runs as a process of its own (rumqttd in this process), started by the test on
//! a free loopback port and stopped by its process id; a broker that is not installed fails
//! the test with the command that installs it.

mod cells;
mod expected;

use std::any::Any;
use std::future::Future;

use mqtt_client::{Client, ConnectionEvent, Options};
use mqtt_proto::ProtocolVersion;
use mqtt_session::{DisconnectReason, ServerLimits};
use mqtt_test_support::aedes::Aedes;
use mqtt_test_support::{embedded, interop, Mosquitto, StartError};

use crate::{first_within, Runtime, WAIT};

pub use cells::Cell;

/// A broker of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broker {
    /// mosquitto 2.0.11 (Debian), C.
    Mosquitto,
    /// rumqttd 0.20 (crates.io), Rust, embedded in the test process.
    Rumqttd,
    /// aedes 1.2.0 (npm), Node.js; MQTT 3.1.1 only.
    Aedes,
    /// amqtt 0.12.1 (PyPI), Python; MQTT 3.1.1 only.
    Amqtt,
    /// The `mqtt5` crate's broker, 0.49.0 (crates.io), Rust.
    Mqtt5,
    /// rmqtt 0.24.0 with its retainer plugin (crates.io), Rust.
    Rmqtt,
}

impl Broker {
    /// The name in the table.
    pub fn name(self) -> &'static str {
        match self {
            Broker::Mosquitto => "mosquitto",
            Broker::Rumqttd => "rumqttd",
            Broker::Aedes => "aedes",
            Broker::Amqtt => "amqtt",
            Broker::Mqtt5 => "mqtt5",
            Broker::Rmqtt => "rmqtt",
        }
    }

    /// Starts it for `version` (rumqttd has one listener per version).
    fn start(self, version: ProtocolVersion) -> Result<Running, StartError> {
        let (port, guard): (u16, Box<dyn Any>) = match self {
            Broker::Mosquitto => {
                let broker = Mosquitto::plain()?;
                (broker.port(), Box::new(broker))
            }
            Broker::Rumqttd => {
                let kind = if version == ProtocolVersion::V5 {
                    "v5"
                } else {
                    "v4"
                };
                (embedded::rumqttd(kind)?.port(), Box::new(()))
            }
            Broker::Aedes => {
                let broker = Aedes::start()?;
                (broker.port(), Box::new(broker))
            }
            Broker::Amqtt => {
                let broker = interop::amqtt()?;
                (broker.port(), Box::new(broker))
            }
            Broker::Mqtt5 => {
                let broker = interop::mqtt5()?;
                (broker.port(), Box::new(broker))
            }
            Broker::Rmqtt => {
                let broker = interop::rmqtt()?;
                (broker.port(), Box::new(broker))
            }
        };
        Ok(Running {
            port,
            _guard: guard,
        })
    }
}

/// A started broker; stopped when dropped.
struct Running {
    port: u16,
    _guard: Box<dyn Any>,
}

/// What a cell needs: the runtime, the broker's URL, the version, and a tag that makes the
/// cell's client ids its own.
pub(crate) struct Ctx<'a, R> {
    rt: &'a R,
    url: String,
    version: ProtocolVersion,
    cell: &'static str,
}

impl<R: Runtime> Ctx<'_, R> {
    /// Options for the cell's client `role`.
    fn options(&self, role: &str) -> Options {
        crate::options(&self.url, &self.id(role), self.version)
    }

    /// The client id of `role`: short, as 3.1.1 servers need only accept 23 characters.
    fn id(&self, role: &str) -> String {
        let v = if self.version == ProtocolVersion::V5 {
            5
        } else {
            4
        };
        format!("{}-{role}-{}{v}", self.cell, R::NAME)
    }
}

/// A client whose CONNACK came.
pub(crate) struct Joined {
    client: Client,
    present: bool,
    limits: Box<ServerLimits>,
}

/// Awaits `future` for at most [`WAIT`]; the error names what was awaited.
async fn attempt<T>(what: &str, future: impl Future<Output = T>) -> Result<T, String> {
    first_within(WAIT, future)
        .await
        .ok_or_else(|| format!("no {what}"))
}

/// Starts a client and waits for its CONNACK; a refusal or a failure is the cell's outcome.
async fn join<R: Runtime>(rt: &R, options: Options) -> Result<Joined, String> {
    let client = rt.spawn(options).map_err(|e| format!("spawn: {e}"))?;
    let (present, limits) = connack(&client).await?;
    Ok(Joined {
        client,
        present,
        limits,
    })
}

/// The next CONNACK of `client`.
async fn connack(client: &Client) -> Result<(bool, Box<ServerLimits>), String> {
    attempt("CONNACK", async {
        loop {
            match client.next_event().await {
                Some(ConnectionEvent::Connected {
                    session_present,
                    limits,
                    ..
                }) => return Ok((session_present, limits)),
                Some(ConnectionEvent::Disconnected(DisconnectReason::Refused(code, _))) => {
                    return Err(format!("refused ({code:?})"))
                }
                Some(ConnectionEvent::ConnectFailed { .. }) => {
                    return Err("the connection failed".to_string())
                }
                Some(_) => {}
                None => return Err("the connection task ended".to_string()),
            }
        }
    })
    .await?
}

/// Disconnects, whatever state the client is in.
async fn leave(clients: &[&Client]) {
    for client in clients {
        let _ = first_within(WAIT, client.disconnect()).await;
    }
}

/// Runs every cell for `version` against `broker`, prints the row, and asserts the row
/// recorded in `expected.rs`.
pub async fn interop_matrix<R: Runtime>(rt: &R, broker: Broker, version: ProtocolVersion) {
    let running = broker.start(version).unwrap_or_else(|e| panic!("{e}"));
    let mut row = Vec::new();
    for cell in Cell::ALL {
        if cell.v5_only() && version != ProtocolVersion::V5 {
            continue;
        }
        let ctx = Ctx {
            rt,
            url: crate::url(running.port),
            version,
            cell: cell.tag(),
        };
        let outcome = match first_within(4 * WAIT, cell.run(&ctx)).await {
            Some(Ok(note)) => note,
            Some(Err(failure)) => failure,
            None => "the cell timed out".to_string(),
        };
        row.push((cell.name(), outcome));
    }
    let cells: Vec<String> = row.iter().map(|(c, o)| format!("{c}: {o}")).collect();
    eprintln!(
        "interop row | {} | {} | {} | {}",
        R::NAME,
        broker.name(),
        version,
        cells.join(" | ")
    );
    let expected = expected::row(broker, version);
    let observed: Vec<(&str, &str)> = row.iter().map(|(c, o)| (*c, o.as_str())).collect();
    assert_eq!(
        observed,
        expected,
        "{} {version} on {}: the row changed (update scenarios/src/interop/expected.rs and \
         docs/interop.md if the new behaviour is right)",
        broker.name(),
        R::NAME
    );
    drop(running);
}

/// Expands to one `#[test]` per broker and protocol version of the matrix in a module
/// `$module`, each running [`interop_matrix`] on the runtime `$runtime` (as [`crate::scenarios!`]
/// does for the scenarios): `interop_matrix!(interop_on_tokio, Tokio)`.
#[macro_export]
macro_rules! interop_matrix {
    ($module:ident, $runtime:expr) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            $crate::interop_matrix!(@tests $runtime;
                mosquitto_v311 => (Mosquitto, V311),
                mosquitto_v5 => (Mosquitto, V5),
                rumqttd_v311 => (Rumqttd, V311),
                rumqttd_v5 => (Rumqttd, V5),
                aedes_v311 => (Aedes, V311),
                amqtt_v311 => (Amqtt, V311),
                mqtt5_v311 => (Mqtt5, V311),
                mqtt5_v5 => (Mqtt5, V5),
                rmqtt_v311 => (Rmqtt, V311),
                rmqtt_v5 => (Rmqtt, V5),
            );
        }
    };
    (@tests $runtime:expr; $($name:ident => ($broker:ident, $version:ident)),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let runtime = $runtime;
                $crate::Runtime::block_on(
                    &runtime,
                    $crate::interop_matrix(
                        &runtime,
                        $crate::Broker::$broker,
                        $crate::ProtocolVersion::$version,
                    ),
                );
            }
        )*
    };
}
