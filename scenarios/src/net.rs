//! Plain-thread network helpers, so that they work under every runtime: a proxy that records
//! what clients send (to see topic aliases on the wire), and a scripted server that redirects.

use bytes::BytesMut;
use mqtt_proto::{
    ConnAck, Decoded, Decoder, Disconnect, DisconnectProperties, MqttString, Packet,
    ProtocolVersion, ReasonCode, Role,
};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A loopback TCP proxy to `upstream` that keeps a copy of every byte clients send.
#[derive(Debug)]
pub struct RecordingProxy {
    port: u16,
    from_clients: Arc<Mutex<Vec<u8>>>,
}

impl RecordingProxy {
    /// Listens on a free loopback port; each accepted connection is forwarded to `upstream`.
    pub fn start(upstream: SocketAddr) -> std::io::Result<RecordingProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let from_clients = Arc::new(Mutex::new(Vec::new()));
        let record = from_clients.clone();
        // The accepting thread lives as long as the test process; each connection's threads
        // end when either side closes.
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else {
                    continue;
                };
                let record = record.clone();
                std::thread::spawn(move || pump(client, server, Some(record)));
                std::thread::spawn(move || pump(server2, client2, None));
            }
        });
        Ok(RecordingProxy { port, from_clients })
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Everything clients have sent so far, as one stream.
    pub fn client_bytes(&self) -> Vec<u8> {
        self.from_clients
            .lock()
            .map(|bytes| bytes.clone())
            .unwrap_or_default()
    }
}

/// Copies `from` to `to` until either closes, recording what passes first (so that what the
/// other side has received has always been recorded).
fn pump(mut from: TcpStream, mut to: TcpStream, record: Option<Arc<Mutex<Vec<u8>>>>) {
    let mut buf = [0u8; 8192];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(record) = &record {
            if let Ok(mut bytes) = record.lock() {
                bytes.extend_from_slice(&buf[..n]);
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

/// Decodes a recorded client stream into its packets (v5), up to the first error.
pub fn client_packets(bytes: &[u8]) -> Vec<Packet> {
    let decoder = Decoder::new(ProtocolVersion::V5, Role::Client);
    let mut buf = BytesMut::from(bytes);
    let mut packets = Vec::new();
    while let Ok(Decoded::Packet(packet)) = decoder.decode(&mut buf) {
        packets.push(packet);
    }
    packets
}

/// A scripted v5 server on a free loopback port for one connection: it answers CONNECT with
/// CONNACK, then sends DISCONNECT 0x9C "use another server" with `reference` as Server
/// Reference, and closes. (mosquitto never sends a Server Reference.)
pub fn redirecting_server(reference: String) -> std::io::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || {
        let Ok((mut socket, _)) = listener.accept() else {
            return;
        };
        // Never outlives a failed test by long.
        let _ = socket.set_read_timeout(Some(Duration::from_secs(10)));
        let decoder = Decoder::new(ProtocolVersion::V5, Role::Client);
        let mut buf = BytesMut::new();
        let mut chunk = [0u8; 1024];
        loop {
            match decoder.decode(&mut buf) {
                Ok(Decoded::Packet(Packet::Connect(_))) => break,
                Ok(Decoded::Incomplete { .. }) => match socket.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                },
                _ => return,
            }
        }
        let mut out = Vec::new();
        let Ok(reference) = MqttString::new(reference) else {
            return;
        };
        let mut disconnect = Disconnect::new(ReasonCode::UseAnotherServer);
        disconnect.properties = DisconnectProperties {
            server_reference: Some(reference),
            ..DisconnectProperties::default()
        };
        if ConnAck::default()
            .encode(ProtocolVersion::V5, &mut out)
            .and_then(|_| disconnect.encode(ProtocolVersion::V5, &mut out))
            .is_err()
        {
            return;
        }
        let _ = socket.write_all(&out);
        let _ = socket.shutdown(Shutdown::Both);
    });
    Ok(port)
}
