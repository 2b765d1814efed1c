//! A TCP relay that breaks connections on command or on a seeded schedule: it cuts them
//! (both sockets closed), freezes them (nothing passes either way, the sockets stay open), or
//! stops reading what the client sends (a server that no longer reads: the client's writes
//! back up). Faults apply to the connections open when they are made; later connections pass
//! bytes normally, so a client that reconnects gets through.
//!
//! Like [`TlsRelay`](crate::relay::TlsRelay) it runs on a thread of its own with a
//! current-thread tokio runtime, so it serves tests on any executor.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::background::Background;
use crate::mosquitto::StartError;

/// Which connections each fault applies to: those numbered up to the value (connections are
/// numbered from 1 as they are accepted; 0 applies to none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Faults {
    cut: u64,
    freeze: u64,
    stall: u64,
}

#[derive(Debug)]
struct Shared {
    faults: watch::Sender<Faults>,
    /// Connections accepted so far (the number of the last one).
    accepted: AtomicU64,
    /// Faults made so far.
    made: AtomicU64,
    /// A schedule is running.
    scheduled: AtomicBool,
    /// What passed, per connection and direction, once [`FaultRelay::record`] was called.
    record: std::sync::Mutex<Option<Vec<Passed>>>,
}

/// Bytes that passed the relay on one connection, one way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Passed {
    /// The connection's number (from 1, in the order they were accepted).
    pub connection: u64,
    /// What the client sent that reached the server.
    pub from_client: Vec<u8>,
    /// What the server sent that reached the client.
    pub from_server: Vec<u8>,
}

/// A fault-injecting TCP relay on a free loopback port (see the module docs). It stops when
/// dropped: the listener and every relayed connection are closed, and the drop waits for its
/// thread (and for a running schedule's).
#[derive(Debug)]
pub struct FaultRelay {
    server: Background,
    shared: Arc<Shared>,
    schedule: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

impl FaultRelay {
    /// Starts a relay to `target`; it listens before this returns.
    pub fn start(target: SocketAddr) -> Result<FaultRelay, StartError> {
        let shared = Arc::new(Shared {
            faults: watch::Sender::new(Faults::default()),
            accepted: AtomicU64::new(0),
            made: AtomicU64::new(0),
            scheduled: AtomicBool::new(false),
            record: std::sync::Mutex::new(None),
        });
        let serving = shared.clone();
        let server = Background::start("fault relay", move |listener| {
            serve(listener, target, serving)
        })?;
        Ok(FaultRelay {
            server,
            shared,
            schedule: None,
        })
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.server.addr().port()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Faults made so far (by the calls below or by the schedule).
    pub fn faults(&self) -> u64 {
        self.shared.made.load(Ordering::SeqCst)
    }

    /// Records what passes from now on, per connection and direction (what was written to
    /// the other side: what a cut dropped is not in it).
    pub fn record(&self) {
        let mut record = self.shared.record.lock().unwrap_or_else(|e| e.into_inner());
        record.get_or_insert_with(Vec::new);
    }

    /// What passed since [`FaultRelay::record`], per connection in the order they were
    /// accepted (empty if it was not called).
    pub fn recorded(&self) -> Vec<Passed> {
        let record = self.shared.record.lock().unwrap_or_else(|e| e.into_inner());
        let mut passed = record.clone().unwrap_or_default();
        passed.sort_by_key(|p| p.connection);
        passed
    }

    /// Closes every connection open now, both sides.
    pub fn cut(&self) {
        self.shared.fault(|f, last| f.cut = last);
    }

    /// Every connection open now passes nothing more either way; its sockets stay open.
    pub fn freeze(&self) {
        self.shared.fault(|f, last| f.freeze = last);
    }

    /// Every connection open now stops reading what the client sends (the server still
    /// sends): the client's writes back up once the socket buffers are full.
    pub fn stop_reading(&self) {
        self.shared.fault(|f, last| f.stall = last);
    }

    /// Runs `count` faults on a schedule drawn from `seed`, on a thread of its own: before
    /// each, a pause drawn from `gap` (milliseconds); then a cut, or (one time in four) a
    /// freeze of 20-100 ms followed by a cut. Returns at once; [`FaultRelay::faults`] counts
    /// them, and the schedule ends early when the relay is dropped.
    pub fn schedule(&mut self, seed: u64, count: u64, gap: std::ops::Range<u64>) {
        let shared = self.shared.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        shared.scheduled.store(true, Ordering::SeqCst);
        let thread = std::thread::spawn(move || {
            let mut rng = SplitMix(seed);
            let span = gap.end.saturating_sub(gap.start).max(1);
            for _ in 0..count {
                let pause = gap.start + rng.next() % span;
                if !nap(&stopped, Duration::from_millis(pause)) {
                    break;
                }
                if rng.next() % 4 == 0 {
                    shared.fault(|f, last| f.freeze = last);
                    let frozen = 20 + rng.next() % 80;
                    if !nap(&stopped, Duration::from_millis(frozen)) {
                        // No connection is left frozen.
                        shared.fault(|f, last| f.cut = last);
                        break;
                    }
                }
                shared.fault(|f, last| f.cut = last);
            }
            shared.scheduled.store(false, Ordering::SeqCst);
        });
        self.schedule = Some((stop, thread));
    }

    /// Ends a running schedule (after the fault under way) and waits for it.
    pub fn stop_schedule(&mut self) {
        if let Some((stop, thread)) = self.schedule.take() {
            stop.store(true, Ordering::SeqCst);
            let _ = thread.join();
        }
    }

    /// Whether a schedule is still running.
    pub fn scheduled(&self) -> bool {
        self.shared.scheduled.load(Ordering::SeqCst)
    }
}

impl Shared {
    /// Notes that `bytes` passed on `connection`, if recording.
    fn passed(&self, connection: u64, from_client: bool, bytes: &[u8]) {
        let mut record = self.record.lock().unwrap_or_else(|e| e.into_inner());
        let Some(record) = record.as_mut() else {
            return;
        };
        let at = match record.iter().position(|p| p.connection == connection) {
            Some(at) => at,
            None => {
                record.push(Passed {
                    connection,
                    ..Passed::default()
                });
                record.len() - 1
            }
        };
        let side = &mut record[at];
        let into = if from_client {
            &mut side.from_client
        } else {
            &mut side.from_server
        };
        into.extend_from_slice(bytes);
    }

    fn fault(&self, apply: impl FnOnce(&mut Faults, u64)) {
        let last = self.accepted.load(Ordering::SeqCst);
        self.faults.send_modify(|f| apply(f, last));
        self.made.fetch_add(1, Ordering::SeqCst);
    }
}

/// Sleeps `total` in short steps; `false` if `stop` was set meanwhile.
fn nap(stop: &AtomicBool, total: Duration) -> bool {
    let step = Duration::from_millis(5);
    let mut left = total;
    while !left.is_zero() {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        let now = left.min(step);
        std::thread::sleep(now);
        left -= now;
    }
    !stop.load(Ordering::SeqCst)
}

/// The schedule's generator (SplitMix64): spread, not secrecy.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl Drop for FaultRelay {
    fn drop(&mut self) {
        // Before the server goes (with it every connection): no fault is made after.
        self.stop_schedule();
    }
}

async fn serve(listener: TcpListener, target: SocketAddr, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let id = shared.accepted.fetch_add(1, Ordering::SeqCst) + 1;
        let faults = shared.faults.subscribe();
        let shared = shared.clone();
        tokio::spawn(async move {
            let Ok(Ok(server)) =
                tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(target)).await
            else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            tokio::join!(
                pump(id, cr, sw, faults.clone(), true, &shared),
                pump(id, sr, cw, faults, false, &shared)
            );
        });
    }
}

/// Copies one direction until EOF (passed on as a half-close), an error, or a cut.
async fn pump(
    id: u64,
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut faults: watch::Receiver<Faults>,
    from_client: bool,
    shared: &Shared,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let now = *faults.borrow_and_update();
        if now.cut >= id {
            return;
        }
        if now.freeze >= id || (from_client && now.stall >= id) {
            if faults.changed().await.is_err() {
                return;
            }
            continue;
        }
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => {
                    let _ = to.shutdown().await;
                    return;
                }
                Ok(n) => n,
            },
            changed = faults.changed() => {
                if changed.is_err() {
                    return;
                }
                continue;
            }
        };
        // A write the other side does not take is given up on a cut.
        loop {
            tokio::select! {
                written = to.write_all(&buf[..n]) => {
                    if written.is_err() {
                        return;
                    }
                    shared.passed(id, from_client, &buf[..n]);
                    break;
                }
                changed = faults.changed() => {
                    if changed.is_err() || faults.borrow_and_update().cut >= id {
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn echo_server() -> SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut stream = stream;
                    let mut buf = [0u8; 1024];
                    while let Ok(n @ 1..) = stream.read(&mut buf) {
                        if stream.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    fn connect(relay: &FaultRelay) -> std::net::TcpStream {
        let s = std::net::TcpStream::connect(("127.0.0.1", relay.port())).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    }

    fn echo(s: &mut std::net::TcpStream) -> std::io::Result<usize> {
        s.write_all(b"ping")?;
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf)?;
        Ok(4)
    }

    #[test]
    fn a_cut_closes_open_connections_and_later_ones_pass() {
        let relay = FaultRelay::start(echo_server()).unwrap();
        let mut first = connect(&relay);
        assert_eq!(echo(&mut first).unwrap(), 4);
        relay.cut();
        let mut buf = [0u8; 1];
        assert!(matches!(first.read(&mut buf), Ok(0) | Err(_)), "cut");
        let mut second = connect(&relay);
        assert_eq!(echo(&mut second).unwrap(), 4, "a new connection passes");
        assert_eq!(relay.connections(), 2);
        assert_eq!(relay.faults(), 1);
    }

    #[test]
    fn a_connection_that_stopped_being_read_backs_up() {
        let relay = FaultRelay::start(echo_server()).unwrap();
        let mut conn = connect(&relay);
        assert_eq!(echo(&mut conn).unwrap(), 4);
        relay.stop_reading();
        conn.set_write_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let chunk = vec![0u8; 64 * 1024];
        let mut backed_up = false;
        // At most a few hundred MiB before the socket buffers are full.
        for _ in 0..10_000 {
            if conn.write_all(&chunk).is_err() {
                backed_up = true;
                break;
            }
        }
        assert!(backed_up, "writes stopped being taken");
    }
}
