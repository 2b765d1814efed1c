//! Shared by the example programs: an embedded broker, so that they run where none is
//! installed.

use mqtt_proto::ProtocolVersion;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::ExitCode;

/// Starts rumqttd on a free loopback port in a thread of this process and waits (at most
/// 5 s) until it accepts connections: the broker the tests use for WebSocket
/// ([`mqtt_test_support::embedded::rumqttd`]), with a listener of `version`.
pub fn embedded_broker(version: ProtocolVersion) -> Result<SocketAddr, Box<dyn std::error::Error>> {
    let kind = match version {
        ProtocolVersion::V311 => "v4",
        ProtocolVersion::V5 => "v5",
    };
    Ok(mqtt_test_support::embedded::rumqttd(kind)?)
}

/// The quick start on mqtt-smol, whatever the executor: connect, subscribe to `{prefix}/#`,
/// publish at each QoS, print what comes back, disconnect.
pub async fn smol_quickstart(url: &str, prefix: &str) -> Result<(), Box<dyn std::error::Error>> {
    use mqtt_smol::{Options, QoS};
    let client = mqtt_smol::spawn(Options::new(url, &format!("{prefix}-quickstart"))?)?;
    let mut subscription = client
        .subscribe(&format!("{prefix}/#"), QoS::ExactlyOnce)
        .await?;
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let done = client
            .publish(
                &format!("{prefix}/qos{}", qos as u8),
                format!("hello from {prefix}"),
                qos,
            )
            .await? // queued: the handle has the rest
            .await?; // the QoS flow completed
        println!(
            "published at QoS {}: packet id {:?}",
            qos as u8, done.packet_id
        );
    }
    for _ in 0..3 {
        let m = subscription
            .next_message()
            .await
            .ok_or("subscription ended")?;
        println!(
            "received on {}: {}",
            m.topic(),
            String::from_utf8_lossy(m.payload())
        );
    }
    client.disconnect().await?;
    println!("disconnected");
    Ok(())
}

/// What [`smol_quickstart`] returns, boxed for an executor's `block_on`.
pub type QuickstartFuture<'a> =
    Pin<Box<dyn Future<Output = Result<(), Box<dyn std::error::Error>>> + 'a>>;

/// The `main` of the quick starts on mqtt-smol: the broker of `--url`, or an embedded one,
/// then [`smol_quickstart`] (topics under `prefix`) run by `block_on`; errors are printed
/// under the name `program`.
pub fn smol_quickstart_main(
    program: &str,
    prefix: &str,
    block_on: impl FnOnce(QuickstartFuture<'_>) -> Result<(), Box<dyn std::error::Error>>,
) -> ExitCode {
    let url = match std::env::args().skip_while(|a| a != "--url").nth(1) {
        Some(url) => url,
        None => match embedded_broker(ProtocolVersion::V5) {
            Ok(addr) => format!("mqtt://{addr}"),
            Err(e) => {
                eprintln!("{program}: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    match block_on(Box::pin(smol_quickstart(&url, prefix))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{program}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The broker of an example: its first argument, else the `MQTT_URL` environment variable,
/// else `mqtt://127.0.0.1:1883`.
pub fn broker_url() -> String {
    std::env::args()
        .nth(1)
        .filter(|a| !a.starts_with("--"))
        .or_else(|| std::env::var("MQTT_URL").ok())
        .unwrap_or_else(|| "mqtt://127.0.0.1:1883".to_string())
}

/// An example's error (sendable, so that it can cross tasks).
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// What an example's body returns.
pub type ExampleResult = Result<(), Error>;

/// The `main` of the tokio examples: runs `body` with [`broker_url`] on a tokio runtime, gives
/// up after 30 s, prints an error under the name `program`, and turns the outcome into the
/// exit status.
pub fn tokio_main<F>(program: &str, body: impl FnOnce(String) -> F) -> ExitCode
where
    F: Future<Output = ExampleResult>,
{
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("{program}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let url = broker_url();
    let outcome = runtime.block_on(async {
        tokio::time::timeout(std::time::Duration::from_secs(30), body(url)).await
    });
    match outcome {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("{program}: {e}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("{program}: gave up after 30 s");
            ExitCode::FAILURE
        }
    }
}

/// Waits for a client's first connection; a failed attempt is an error.
pub async fn connected(client: &mqtt_tokio::Client) -> ExampleResult {
    use mqtt_tokio::ConnectionEvent;
    loop {
        match client.next_event().await {
            Some(ConnectionEvent::Connected { .. }) => return Ok(()),
            Some(ConnectionEvent::ConnectFailed { error, .. }) => return Err(error.into()),
            Some(ConnectionEvent::Disconnected(reason)) => return Err(reason.to_string().into()),
            Some(_) => {}
            None => return Err("the connection task stopped".into()),
        }
    }
}
