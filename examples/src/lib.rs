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
            .await?;
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
