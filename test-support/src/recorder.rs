//! A TCP relay that records the HTTP request head each connection starts with (a WebSocket
//! upgrade request) and passes everything through unchanged: it shows what a client really
//! sent in its handshake (path, headers), in front of a broker that does not tell.
//!
//! It runs on a thread of its own with a current-thread tokio runtime (see the TLS relay), so
//! it serves tests on any executor.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::background::Background;
use crate::mosquitto::StartError;

/// The longest request head recorded; a longer one is recorded cut and still passed on.
const MAX_HEAD: usize = 64 * 1024;

type Heads = Arc<Mutex<Vec<String>>>;

/// A recording relay on a free loopback port; it stops when dropped, closing every
/// connection.
#[derive(Debug)]
pub struct RecordingRelay {
    server: Background,
    heads: Heads,
}

impl RecordingRelay {
    /// Starts a relay to `target`; it listens before this returns.
    pub fn start(target: SocketAddr) -> Result<RecordingRelay, StartError> {
        let heads: Heads = Arc::default();
        let recorded = heads.clone();
        let server = Background::start("recording relay", move |listener| {
            serve(listener, target, recorded)
        })?;
        Ok(RecordingRelay { server, heads })
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.server.addr().port()
    }

    /// The request heads recorded so far, one per connection, in the order they completed
    /// (each up to and without its final empty line).
    pub fn heads(&self) -> Vec<String> {
        self.heads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

async fn serve(listener: TcpListener, target: SocketAddr, heads: Heads) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        tokio::spawn(relay(client, target, heads.clone()));
    }
}

/// One connection: reads up to the end of the request head, records it, then passes what it
/// read and everything after it on, both ways.
async fn relay(mut client: TcpStream, target: SocketAddr, heads: Heads) {
    let Ok(mut upstream) = TcpStream::connect(target).await else {
        return;
    };
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        match client.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            break MAX_HEAD;
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    heads
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(head);
    if upstream.write_all(&buf).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}
