//! The transport on std threads: a TCP socket (through a proxy when the options name one),
//! TLS with rustls over it, read by a thread of its own and written by another, so that the
//! connection loop never blocks on the socket: a server that stops reading fills the writer's
//! buffer, not the loop.
//!
//! rustls is sans-IO: the reading thread hands it what the socket brought and passes on the
//! plaintext; the loop encrypts what it writes into the writing thread's buffer. Its lock is
//! never held across a read or a write of the socket.

use mqtt_client::{Options, ProxyHandshake, Server};
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// How many bytes a direction buffers before it waits: the reading thread stops reading (TCP
/// then holds the server back), a write waits for the writing thread.
const BUFFERED: usize = 64 * 1024;

/// A connected socket, TLS handshake done: what [`connect`] gives.
#[derive(Debug)]
pub struct Connected {
    tcp: TcpStream,
    tls: Option<rustls::ClientConnection>,
}

/// Opens the transport to `server`, blocking: TCP (through a proxy when the options name
/// one), then TLS for `mqtts://`. WebSocket is not offered by this crate.
pub fn connect(server: &Server, options: &Options) -> io::Result<Connected> {
    if server.scheme.is_websocket() {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "mqtt-blocking does not speak WebSocket: use mqtt:// or mqtts://",
        ));
    }
    let mut tcp = match options.proxies.for_server(server) {
        Some(proxy) => {
            let mut tcp = TcpStream::connect((proxy.host.as_str(), proxy.port))?;
            let mut handshake = ProxyHandshake::new(proxy, &server.host, server.port)?;
            let mut buf = [0u8; 512];
            loop {
                tcp.write_all(&handshake.take_output())?;
                let want = handshake.wants().min(buf.len());
                if want == 0 {
                    break;
                }
                let n = tcp.read(&mut buf[..want])?;
                handshake.read(&buf[..n])?;
            }
            tcp
        }
        None => TcpStream::connect((server.host.as_str(), server.port))?,
    };
    tcp.set_nodelay(options.nodelay)?;
    let tls = if server.scheme.is_tls() {
        let mut tls =
            rustls::ClientConnection::new(options.tls_config()?, options.tls_name(server)?)
                .map_err(io::Error::other)?;
        while tls.is_handshaking() {
            tls.complete_io(&mut tcp)
                .map_err(|e| mqtt_client::tls_handshake_error(server, e))?;
        }
        Some(tls)
    } else {
        None
    };
    Ok(Connected { tcp, tls })
}

/// What the reading thread brought, for the loop.
#[derive(Default)]
struct Inbound {
    chunks: VecDeque<Vec<u8>>,
    // How much of the first chunk was taken.
    offset: usize,
    bytes: usize,
    // The end: `Ok` for a clean end of the stream.
    end: Option<io::Result<()>>,
    waker: Option<Waker>,
}

/// What the loop wrote, for the writing thread.
#[derive(Default)]
struct Outbound {
    bytes: Vec<u8>,
    failed: Option<io::ErrorKind>,
    // The loop asked for the writing side to be closed, after what is buffered.
    shutdown: bool,
    shut: bool,
    // The transport was dropped: the writing thread writes what is buffered and ends.
    dropped: bool,
    // The writing thread is in a write.
    writing: bool,
    waker: Option<Waker>,
}

struct Shared<T> {
    state: Mutex<T>,
    changed: Condvar,
}

impl<T: Default> Shared<T> {
    fn new() -> Arc<Self> {
        Arc::new(Shared {
            state: Mutex::new(T::default()),
            changed: Condvar::new(),
        })
    }
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, T> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.changed.wait(guard).unwrap_or_else(|e| e.into_inner())
    }
}

type Tls = Arc<Mutex<rustls::ClientConnection>>;

fn lock_tls(tls: &Tls) -> MutexGuard<'_, rustls::ClientConnection> {
    tls.lock().unwrap_or_else(|e| e.into_inner())
}

/// The reading half the loop polls.
pub struct Reader {
    inbound: Arc<Shared<Inbound>>,
}

impl Drop for Reader {
    /// Ends the reading thread if it waits for room (else the socket's shutdown ends it).
    fn drop(&mut self) {
        let mut state = self.inbound.lock();
        if state.end.is_none() {
            state.end = Some(Ok(()));
        }
        drop(state);
        self.inbound.changed.notify_all();
    }
}

/// The writing half the loop polls.
pub struct Writer {
    outbound: Arc<Shared<Outbound>>,
    tls: Option<Tls>,
    // To end a write the server does not take (see `Drop`).
    socket: Option<TcpStream>,
}

/// How long the writing thread still tries to hand over what was buffered when the
/// transport was dropped (the loop's last packets, a DISCONNECT among them).
const LAST_WRITE: std::time::Duration = std::time::Duration::from_secs(1);

impl Drop for Writer {
    /// The writing thread writes what is buffered (within [`LAST_WRITE`]), then shuts the
    /// socket down both ways, which ends the reading thread; a write already blocked on a
    /// server that does not read is cut short.
    fn drop(&mut self) {
        let mut state = self.outbound.lock();
        state.dropped = true;
        if state.writing {
            if let Some(socket) = &self.socket {
                let _ = socket.shutdown(Shutdown::Both);
            }
        }
        drop(state);
        self.outbound.changed.notify_all();
    }
}

/// Starts the reading and writing threads of `connected`.
pub fn split(connected: Connected) -> io::Result<(Reader, Writer)> {
    let Connected { tcp, tls } = connected;
    let socket = tcp.try_clone()?;
    let tls = tls.map(|tls| Arc::new(Mutex::new(tls)));
    let inbound = Shared::<Inbound>::new();
    let outbound = Shared::<Outbound>::new();
    let reading = tcp.try_clone()?;
    {
        let (inbound, outbound, tls) = (inbound.clone(), outbound.clone(), tls.clone());
        std::thread::Builder::new()
            .name("mqtt-read".into())
            .spawn(move || read_loop(reading, &inbound, &outbound, tls.as_ref()))?;
    }
    {
        let outbound = outbound.clone();
        std::thread::Builder::new()
            .name("mqtt-write".into())
            .spawn(move || write_loop(tcp, &outbound))?;
    }
    let reader = Reader { inbound };
    let writer = Writer {
        outbound,
        tls,
        socket: Some(socket),
    };
    Ok((reader, writer))
}

/// Halves of a transport whose threads could not start: both report `error`.
pub fn failed(error: io::Error) -> (Reader, Writer) {
    let inbound = Shared::<Inbound>::new();
    let outbound = Shared::<Outbound>::new();
    outbound.lock().failed = Some(error.kind());
    inbound.lock().end = Some(Err(error));
    let reader = Reader { inbound };
    let writer = Writer {
        outbound,
        tls: None,
        socket: None,
    };
    (reader, writer)
}

fn read_loop(
    mut tcp: TcpStream,
    inbound: &Shared<Inbound>,
    outbound: &Shared<Outbound>,
    tls: Option<&Tls>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    let end = loop {
        {
            let mut state = inbound.lock();
            while state.bytes >= BUFFERED && state.end.is_none() {
                state = inbound.wait(state);
            }
            if state.end.is_some() {
                return;
            }
        }
        let n = match tcp.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                mqtt_client::quickack(&tcp);
                n
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(e),
        };
        let plain = match tls {
            None => Ok(buf[..n].to_vec()),
            Some(tls) => decrypt(tls, &buf[..n], outbound),
        };
        let mut state = inbound.lock();
        match plain {
            Ok(plain) if plain.is_empty() => continue,
            Ok(plain) => {
                state.bytes += plain.len();
                state.chunks.push_back(plain);
            }
            Err(e) => state.end = Some(Err(e)),
        }
        let ended = state.end.is_some();
        if let Some(waker) = state.waker.take() {
            waker.wake();
        }
        if ended {
            return;
        }
    };
    let mut state = inbound.lock();
    state.end = Some(end);
    if let Some(waker) = state.waker.take() {
        waker.wake();
    }
}

/// Hands `data` to rustls and takes the plaintext it makes; what rustls has to send (an
/// alert, a key update) goes to the writing thread.
fn decrypt(tls: &Tls, mut data: &[u8], outbound: &Shared<Outbound>) -> io::Result<Vec<u8>> {
    let mut tls = lock_tls(tls);
    let mut plain = Vec::new();
    while !data.is_empty() {
        tls.read_tls(&mut data)?;
        let state = tls.process_new_packets().map_err(io::Error::other)?;
        let mut take = vec![0u8; state.plaintext_bytes_to_read()];
        tls.reader().read_exact(&mut take)?;
        plain.extend_from_slice(&take);
    }
    if tls.wants_write() {
        let mut out = outbound.lock();
        tls.write_tls(&mut out.bytes)?;
        outbound.changed.notify_all();
    }
    Ok(plain)
}

fn write_loop(mut tcp: TcpStream, outbound: &Shared<Outbound>) {
    loop {
        let (bytes, shutdown, dropped) = {
            let mut state = outbound.lock();
            // Until there is something to write, a close to make, or the end.
            loop {
                let shutdown_due = state.shutdown && !state.shut;
                if !state.bytes.is_empty() || shutdown_due || state.dropped {
                    break;
                }
                state = outbound.wait(state);
            }
            state.writing = true;
            (
                std::mem::take(&mut state.bytes),
                state.shutdown,
                state.dropped,
            )
        };
        if dropped {
            if !bytes.is_empty() && tcp.set_write_timeout(Some(LAST_WRITE)).is_ok() {
                let _ = tcp.write_all(&bytes);
            }
            let _ = tcp.shutdown(Shutdown::Both);
            return;
        }
        let result = tcp.write_all(&bytes).and_then(|()| {
            if shutdown {
                tcp.shutdown(Shutdown::Write)?;
            }
            Ok(())
        });
        let mut state = outbound.lock();
        state.writing = false;
        match result {
            Ok(()) => state.shut |= shutdown,
            Err(e) => state.failed = Some(e.kind()),
        }
        if let Some(waker) = state.waker.take() {
            waker.wake();
        }
        if state.failed.is_some() || state.dropped {
            let _ = tcp.shutdown(Shutdown::Both);
            return;
        }
    }
}

impl Reader {
    /// Takes at most `room` bytes of what the reading thread brought into `buf`.
    pub fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut bytes::BytesMut,
        room: usize,
    ) -> Poll<io::Result<usize>> {
        let mut state = self.inbound.lock();
        let Inbound {
            chunks,
            offset,
            bytes,
            end,
            waker,
        } = &mut *state;
        if let Some(chunk) = chunks.front() {
            let n = (chunk.len() - *offset).min(room);
            buf.extend_from_slice(&chunk[*offset..*offset + n]);
            *offset += n;
            if *offset == chunk.len() {
                chunks.pop_front();
                *offset = 0;
            }
            let was_full = *bytes >= BUFFERED;
            *bytes -= n;
            if was_full && *bytes < BUFFERED {
                self.inbound.changed.notify_all();
            }
            return Poll::Ready(Ok(n));
        }
        match end.take() {
            Some(Ok(())) => {
                *end = Some(Ok(()));
                Poll::Ready(Ok(0))
            }
            Some(Err(e)) => {
                *end = Some(Err(io::Error::from(e.kind())));
                Poll::Ready(Err(e))
            }
            None => {
                *waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl Writer {
    /// Buffers `data` for the writing thread (encrypted first on TLS); waits while its buffer
    /// is full.
    pub fn poll_write(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let mut state = self.outbound.lock();
        if let Some(kind) = state.failed {
            return Poll::Ready(Err(kind.into()));
        }
        if state.bytes.len() >= BUFFERED {
            state.waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        match &self.tls {
            None => state.bytes.extend_from_slice(data),
            Some(tls) => {
                let mut tls = lock_tls(tls);
                tls.writer().write_all(data)?;
                while tls.wants_write() {
                    tls.write_tls(&mut state.bytes)?;
                }
            }
        }
        self.outbound.changed.notify_all();
        Poll::Ready(Ok(data.len()))
    }

    /// Ready once the writing thread has written everything buffered.
    pub fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut state = self.outbound.lock();
        if let Some(kind) = state.failed {
            return Poll::Ready(Err(kind.into()));
        }
        if state.bytes.is_empty() {
            return Poll::Ready(Ok(()));
        }
        state.waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Closes the writing side after what is buffered (a TLS close_notify first).
    pub fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut state = self.outbound.lock();
        if let Some(kind) = state.failed {
            return Poll::Ready(Err(kind.into()));
        }
        if state.shut {
            return Poll::Ready(Ok(()));
        }
        if !state.shutdown {
            if let Some(tls) = &self.tls {
                let mut tls = lock_tls(tls);
                tls.send_close_notify();
                while tls.wants_write() {
                    tls.write_tls(&mut state.bytes)?;
                }
            }
            state.shutdown = true;
            self.outbound.changed.notify_all();
        }
        state.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}
