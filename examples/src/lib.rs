//! Shared by the example programs: an embedded broker, so that they run where none is
//! installed.

use mqtt_proto::ProtocolVersion;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// Starts rumqttd on a free loopback port in a thread of this process and waits (at most
/// 5 s) until it accepts connections.
pub fn embedded_broker(version: ProtocolVersion) -> Result<SocketAddr, Box<dyn std::error::Error>> {
    use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};
    use std::collections::HashMap;

    let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let server = ServerSettings {
        name: "quickstart".into(),
        listen: addr,
        tls: None,
        next_connection_delay_ms: 1,
        connections: ConnectionSettings {
            connection_timeout_ms: 60_000,
            max_payload_size: 256 * 1024,
            max_inflight_count: 100,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
        },
    };
    let listeners = HashMap::from([("1".to_string(), server)]);
    let (v4, v5) = match version {
        ProtocolVersion::V311 => (Some(listeners), None),
        ProtocolVersion::V5 => (None, Some(listeners)),
    };
    let config = Config {
        id: 0,
        router: RouterConfig {
            max_connections: 16,
            max_outgoing_packet_count: 200,
            max_segment_size: 16 * 1024 * 1024,
            max_segment_count: 10,
            custom_segment: None,
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        },
        v4,
        v5,
        ws: None,
        cluster: None,
        console: None,
        bridge: None,
        prometheus: None,
        metrics: None,
    };
    std::thread::spawn(move || {
        let mut broker = Broker::new(config);
        if let Err(e) = broker.start() {
            eprintln!("embedded broker stopped: {e}");
        }
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if TcpStream::connect(addr).is_ok() {
            return Ok(addr);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err("the embedded broker did not start listening".into())
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
