//! An embedded broker (rumqttd) in this process: for what this machine's mosquitto cannot do
//! (Debian's mosquitto 2.0.11 here cannot open a websockets listener), and for the example
//! programs where no broker is installed.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::mosquitto::StartError;

/// Starts rumqttd with one listener of the given kind (`"v4"`, `"v5"` or `"ws"`, the last
/// carrying v3.1.1 over WebSocket) on a free loopback port, and waits (at most 5 s) until it
/// accepts connections. It runs until the process ends.
pub fn rumqttd(kind: &str) -> Result<SocketAddr, StartError> {
    use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};
    let addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| StartError(e.to_string()))?;
    let server = ServerSettings {
        name: kind.into(),
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
    let listeners = Some(HashMap::from([("1".to_string(), server)]));
    let (v4, v5, ws) = match kind {
        "v4" => (listeners, None, None),
        "v5" => (None, listeners, None),
        _ => (None, None, listeners),
    };
    let config = Config {
        id: 0,
        router: RouterConfig {
            max_connections: 64,
            max_outgoing_packet_count: 200,
            max_segment_size: 16 * 1024 * 1024,
            max_segment_count: 10,
            custom_segment: None,
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        },
        v4,
        v5,
        ws,
        cluster: None,
        console: None,
        bridge: None,
        prometheus: None,
        metrics: None,
    };
    std::thread::spawn(move || {
        if let Err(e) = Broker::new(config).start() {
            eprintln!("embedded broker stopped: {e}");
        }
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            return Err(StartError(
                "the embedded broker did not listen within 5 s".into(),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(addr)
}
