//! Plain-thread network helpers, so that they work under every runtime: a proxy that records
//! what clients and the server send (to see topic aliases and acknowledgements on the wire),
//! and a scripted server that redirects.

use bytes::BytesMut;
use mqtt_proto::{
    ConnAck, Decoded, Decoder, Disconnect, DisconnectProperties, MqttString, Packet,
    ProtocolVersion, ReasonCode, Role,
};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A loopback TCP proxy to `upstream` that keeps a copy of every byte clients send, and of
/// every byte the server sends them.
#[derive(Debug)]
pub struct RecordingProxy {
    port: u16,
    from_clients: Arc<Mutex<Vec<u8>>>,
    from_server: Arc<Mutex<Vec<u8>>>,
    /// Connections the server has closed its side of.
    closed_by_server: Arc<AtomicUsize>,
}

impl RecordingProxy {
    /// Listens on a free loopback port; each accepted connection is forwarded to `upstream`.
    pub fn start(upstream: SocketAddr) -> std::io::Result<RecordingProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let from_clients = Arc::new(Mutex::new(Vec::new()));
        let from_server = Arc::new(Mutex::new(Vec::new()));
        let (record, record_server) = (from_clients.clone(), from_server.clone());
        let closed_by_server = Arc::new(AtomicUsize::new(0));
        let closed = closed_by_server.clone();
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
                let (record, record_server) = (record.clone(), record_server.clone());
                let closed = closed.clone();
                std::thread::spawn(move || pump(client, server, &record, || {}));
                // Counted before the client sees the end: a client that has read to the end
                // finds the count up.
                std::thread::spawn(move || {
                    pump(server2, client2, &record_server, || {
                        closed.fetch_add(1, Ordering::SeqCst);
                    });
                });
            }
        });
        Ok(RecordingProxy {
            port,
            from_clients,
            from_server,
            closed_by_server,
        })
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Everything clients have sent so far, as one stream.
    pub fn client_bytes(&self) -> Vec<u8> {
        copy(&self.from_clients)
    }

    /// How many connections the server has closed (after a DISCONNECT: once it has read
    /// everything the client sent before it). Counted before the client is told.
    pub fn closed_by_server(&self) -> usize {
        self.closed_by_server.load(Ordering::SeqCst)
    }

    /// Everything the server has sent so far, as one stream (one connection at a time
    /// through the proxy keeps it a valid packet stream).
    pub fn server_bytes(&self) -> Vec<u8> {
        copy(&self.from_server)
    }
}

fn copy(record: &Mutex<Vec<u8>>) -> Vec<u8> {
    record.lock().map(|bytes| bytes.clone()).unwrap_or_default()
}

/// Copies `from` to `to` until either closes, recording what passes first (so that what the
/// other side has received has always been recorded); calls `ended` before passing the end on.
fn pump(mut from: TcpStream, mut to: TcpStream, record: &Mutex<Vec<u8>>, ended: impl FnOnce()) {
    let mut buf = [0u8; 8192];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Ok(mut bytes) = record.lock() {
            bytes.extend_from_slice(&buf[..n]);
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    ended();
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

/// Decodes a recorded client stream into its packets (v5), up to the first error.
pub fn client_packets(bytes: &[u8]) -> Vec<Packet> {
    packets(bytes, ProtocolVersion::V5, Role::Client)
}

/// Decodes a recorded stream of `version` sent by `from` into its packets, up to the first
/// error.
pub fn packets(bytes: &[u8], version: ProtocolVersion, from: Role) -> Vec<Packet> {
    let decoder = Decoder::new(version, from);
    let mut buf = BytesMut::from(bytes);
    let mut packets = Vec::new();
    while let Ok(Decoded::Packet(packet)) = decoder.decode(&mut buf) {
        packets.push(packet);
    }
    packets
}

/// How a scripted server redirects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectBy {
    /// CONNACK refusing with 0x9C "use another server" and the Server Reference.
    ConnAck,
    /// CONNACK accepting, then DISCONNECT 0x9C with the Server Reference.
    Disconnect,
}

/// A scripted v5 server on a free loopback port that redirects every connection (up to 20)
/// to `reference`, as `by` says, and closes it. (mosquitto never sends a Server Reference.)
pub fn redirecting_server(reference: String, by: RedirectBy) -> std::io::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    redirect_on(listener, reference, by);
    Ok(port)
}

/// [`redirecting_server`] on `listener`.
pub fn redirect_on(listener: TcpListener, reference: String, by: RedirectBy) {
    std::thread::spawn(move || {
        for _ in 0..20 {
            let Ok((socket, _)) = listener.accept() else {
                return;
            };
            redirect_one(socket, &reference, by);
        }
    });
}

fn redirect_one(mut socket: TcpStream, reference: &str, by: RedirectBy) {
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
    let Ok(reference) = MqttString::new(reference.to_string()) else {
        return;
    };
    let encoded = match by {
        RedirectBy::ConnAck => {
            let mut connack = ConnAck {
                reason_code: ReasonCode::UseAnotherServer,
                ..ConnAck::default()
            };
            connack.properties.server_reference = Some(reference);
            connack.encode(ProtocolVersion::V5, &mut out)
        }
        RedirectBy::Disconnect => {
            let mut disconnect = Disconnect::new(ReasonCode::UseAnotherServer);
            disconnect.properties = DisconnectProperties {
                server_reference: Some(reference),
                ..DisconnectProperties::default()
            };
            ConnAck::default()
                .encode(ProtocolVersion::V5, &mut out)
                .and_then(|_| disconnect.encode(ProtocolVersion::V5, &mut out))
        }
    };
    if encoded.is_err() {
        return;
    }
    let _ = socket.write_all(&out);
    let _ = socket.shutdown(Shutdown::Both);
}

/// A scripted front to the broker at `upstream` on a free loopback port that speaks MQTT 3.1.1
/// only, and says so as some such servers do: it closes a connection whose CONNECT asks for
/// v5 without a word, and relays any other (up to 20) to the broker.
pub fn v311_only_front(upstream: u16) -> std::io::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || {
        for _ in 0..20 {
            let Ok((mut client, _)) = listener.accept() else {
                return;
            };
            // The Protocol Level is the 9th byte of a CONNECT with a 1-byte Remaining Length
            // (after the fixed header and the protocol name "MQTT").
            let _ = client.set_read_timeout(Some(Duration::from_secs(10)));
            let mut head = [0u8; 9];
            if client.read_exact(&mut head).is_err() || head[8] == 5 {
                let _ = client.shutdown(Shutdown::Both);
                continue;
            }
            let _ = client.set_read_timeout(None);
            let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                continue;
            };
            if server.write_all(&head).is_err() {
                continue;
            }
            let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else {
                continue;
            };
            let nobody = Mutex::new(Vec::new());
            std::thread::spawn(move || pump(client, server, &Mutex::new(Vec::new()), || {}));
            std::thread::spawn(move || pump(server2, client2, &nobody, || {}));
        }
    });
    Ok(port)
}
