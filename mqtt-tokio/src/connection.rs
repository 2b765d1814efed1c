//! The connection task: one loop that writes what the session produced, delivers its events,
//! then waits for bytes, a command or the next deadline, and feeds the result back.

use bytes::BytesMut;
use mqtt_client::{Client, Driver, Options, ReadSize, Signals, StartError, Step, TimerSlot};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::transport::{Connector, TcpConnector, Transport};

/// Events a connection keeps for readers who come late; older ones are dropped.
const EVENT_BUFFER: usize = 16;

/// A connection task not yet running: run it yourself with [`Connection::run`], or use
/// [`spawn`].
pub struct Connection {
    // Boxed: the loop's future keeps more than one copy of `self` (the compiler does not
    // overlap an async fn's argument with its locals), so `self` must be small; an idle
    // connection's task is mostly this future.
    driver: Box<Driver>,
    commands: mqtt_client::queue::Receiver<mqtt_client::Command>,
    signals: Signals,
    connector: Box<dyn Connector>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("driver", &self.driver)
            .finish()
    }
}

/// A client and its connection task, not yet running.
pub fn new(options: Options) -> Result<(Client, Connection), StartError> {
    let pair = Driver::client_pair(options, EVENT_BUFFER, Instant::now())?;
    Ok((
        pair.client,
        Connection {
            driver: Box::new(pair.driver),
            commands: pair.commands,
            signals: pair.signals,
            connector: Box::new(TcpConnector),
        },
    ))
}

/// A client whose connection task runs on the current tokio runtime. It connects at once and
/// reconnects with backoff until `disconnect`.
pub fn spawn(options: Options) -> Result<Client, StartError> {
    let (client, connection) = new(options)?;
    tokio::spawn(connection.run());
    Ok(client)
}

impl Connection {
    /// Uses `connector` instead of plain TCP.
    pub fn with_connector(mut self, connector: impl Connector) -> Self {
        self.connector = Box::new(connector);
        self
    }

    /// Runs until `disconnect` (or until every `Client` and `Subscription` is dropped), in
    /// the `tracing` span `mqtt` with the client id.
    pub fn run(self) -> impl std::future::Future<Output = ()> + Send {
        use tracing::Instrument;
        let span = self.driver.span();
        self.run_in_span().instrument(span)
    }

    async fn run_in_span(mut self) {
        type Halves = (
            tokio::io::ReadHalf<Box<dyn Transport>>,
            tokio::io::WriteHalf<Box<dyn Transport>>,
        );
        // Read and write halves: writing never stops reading, so a peer that stops reading
        // while its own output to us is full can never deadlock the two sides.
        let mut transport: Option<Halves> = None;
        // Both grow to what the traffic needs; an idle connection holds little.
        let mut rx = BytesMut::new();
        let mut tx = BytesMut::new();
        let mut commands_open = true;
        let mut read_size = ReadSize::new();
        let sleep = tokio::time::sleep_until(tokio::time::Instant::now());
        tokio::pin!(sleep);
        let mut timer = TimerSlot::default();
        // A store write that the outputs need not wait for, running on the blocking pool.
        let mut saving: Option<tokio::task::JoinHandle<Option<mqtt_client::Saved>>> = None;
        // One clock reading per wake-up, taken when the wait ends (and after a connection
        // attempt): reading it for every call cost 3% of a busy connection's CPU.
        let mut now = Instant::now();
        loop {
            if transport.is_none() {
                if let Some((_, server)) = self.driver.server_to_connect(now) {
                    let timeout = self.driver.options().connect_timeout;
                    let attempt = self.driver.attempt();
                    let connect = self.connector.connect(&server, self.driver.options());
                    let attempt = tokio::time::timeout(timeout, attempt.run(connect)).await;
                    now = Instant::now();
                    if let Some(t) = self.driver.attempt_outcome(now, attempt.ok()) {
                        transport = Some(tokio::io::split(t));
                        rx.clear();
                        tx.clear();
                    }
                }
            }
            // Outputs, until there are none (bytes are queued for the writer).
            match self.driver.step(now, transport.is_some(), &mut tx) {
                Step::Close => {
                    if let Some((mut r, mut w)) = transport.take() {
                        let _ = w.shutdown().await;
                        if let Some(at) = self.driver.linger_until() {
                            // Boxed: inline, this wait would grow every connection task's
                            // future (an idle connection's memory) for the one time it runs.
                            let linger = tokio::time::timeout_at(at.into(), read_to_end(&mut r));
                            let _ = Box::pin(linger).await;
                        }
                    }
                    now = Instant::now();
                    self.driver.closed_by_us(now);
                    // Step again at once: a graceful disconnect ends now.
                    continue;
                }
                Step::Save => {
                    // On tokio's blocking pool: the disk's wait (an `fsync`) holds up this
                    // connection, which must not write before it, but not the runtime's other
                    // tasks (on a current-thread runtime, all of them).
                    if let Some(job) = self.driver.take_save() {
                        let holds_output = job.holds_output();
                        let write = tokio::task::spawn_blocking(move || job.run());
                        if holds_output {
                            self.driver.saved(write.await.ok().flatten());
                        } else {
                            saving = Some(write);
                        }
                    } else if let Some(write) = saving.take() {
                        self.driver.saved(write.await.ok().flatten());
                    }
                    now = Instant::now();
                    continue;
                }
                Step::Stop => break,
                Step::Wait => {}
            }
            let deadline = self.driver.next_deadline();
            if let Some(at) = timer.rearm(deadline) {
                sleep.as_mut().reset(at.into());
            }
            let (reader, writer) = match transport.as_mut() {
                Some((r, w)) => (Some(r), Some(w)),
                None => (None, None),
            };
            let pending_write = !tx.is_empty();
            let reading = !self.driver.reading_paused();
            tokio::select! {
                // Writes first (nothing waits behind commands), then commands before reads: a
                // subscription made while the connection comes up is in place before the
                // messages of a resumed session arrive.
                biased;
                written = async {
                    match writer {
                        Some(w) => {
                            let n = w.write_buf(&mut tx).await?;
                            // TLS and WebSocket transports buffer what is written.
                            if tx.is_empty() {
                                w.flush().await?;
                            }
                            Ok::<usize, std::io::Error>(n)
                        }
                        None => std::future::pending().await,
                    }
                }, if pending_write => {
                    if matches!(written, Ok(0) | Err(_)) {
                        transport = None;
                        self.driver.closed(Instant::now());
                    }
                },
                saved = async {
                    match saving.as_mut() {
                        Some(write) => write.await,
                        None => std::future::pending().await,
                    }
                }, if saving.is_some() => {
                    saving = None;
                    self.driver.saved(saved.ok().flatten());
                },
                command = self.commands.recv(), if commands_open && self.driver.accepts_commands() => match command {
                    Ok(c) => commands_open = self.driver.commands(Instant::now(), c, &self.commands),
                    Err(_) => {
                        commands_open = false;
                        self.driver.clients_gone(Instant::now());
                    }
                },
                () = self.signals.recv() => self.driver.signalled(Instant::now()),
                read = async {
                    match reader {
                        Some(r) => {
                            let room = read_size.reserve(&mut rx);
                            let n = r.read_buf(&mut rx).await?;
                            let filled = read_size.read(n, room);
                            Ok::<(usize, bool), std::io::Error>((n, filled))
                        }
                        None => std::future::pending().await,
                    }
                }, if reading => match read {
                    Ok((0, _)) | Err(_) => {
                        transport = None;
                        self.driver.closed(Instant::now());
                    }
                    Ok((_, filled)) => {
                        let now = Instant::now();
                        self.driver.read(now, &mut rx);
                        self.driver.drain(now, &mut tx);
                        // Let the subscribers run before the next read: on a busy socket this
                        // loop could otherwise fill their buffers faster than a fast reader
                        // empties them, and QoS 0 messages would be dropped for no reader's
                        // fault. Only after a read that filled its room: a shorter one drained
                        // the socket, tokio then waits for it to be readable again and the
                        // subscribers run meanwhile.
                        if filled {
                            Requeue::default().await;
                        }
                    }
                },
                () = &mut sleep, if deadline.is_some() => {
                    timer.fired();
                    self.driver.timer_fired(&self.commands);
                }
            }
            // Deadlines are compared here rather than trusted to the timer alone.
            now = Instant::now();
            self.driver.timeout(now);
        }
        self.driver.refuse_queued(&self.commands);
    }
}

/// Reads and discards until the peer closes its side (or the transport fails).
async fn read_to_end(r: &mut (impl tokio::io::AsyncRead + Unpin)) {
    let mut scratch = [0u8; 512];
    while let Ok(1..) = r.read(&mut scratch).await {}
}

/// Goes to the back of the runtime's queue once: the tasks woken before (the subscribers this
/// turn delivered to) run first. Unlike `tokio::task::yield_now`, which holds the task back
/// until the runtime has also asked the I/O driver for events (one more `epoll_wait`, a system
/// call per read on a busy connection), this only waits for its turn; the runtime still looks
/// at the driver between batches of tasks, so nothing starves.
#[derive(Default)]
struct Requeue {
    yielded: bool,
}

impl std::future::Future for Requeue {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.yielded {
            return std::task::Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::Requeue;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    /// On the current-thread runtime the connection task yields on: a task woken before the
    /// yield (a subscriber the last read delivered to) runs before the yielding task goes on.
    #[test]
    fn requeue_lets_the_tasks_woken_before_run_first() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let ran = rt.block_on(async {
            let notify = Arc::new(tokio::sync::Notify::new());
            let flag = Arc::new(AtomicBool::new(false));
            let waiter = tokio::spawn({
                let (notify, flag) = (notify.clone(), flag.clone());
                async move {
                    notify.notified().await;
                    flag.store(true, Ordering::SeqCst);
                }
            });
            let yielder = tokio::spawn(async move {
                // Let the waiter register first.
                Requeue::default().await;
                notify.notify_one();
                let before = flag.load(Ordering::SeqCst);
                Requeue::default().await;
                (before, flag.load(Ordering::SeqCst))
            });
            let out = yielder.await.unwrap();
            waiter.await.unwrap();
            out
        });
        assert_eq!(ran, (false, true));
    }

    /// The connection task writes its store on tokio's blocking pool: while a write waits for
    /// the disk, the other tasks of a current-thread runtime go on (here, the one that lets
    /// the write finish). Written inline, the write would hold the runtime's only thread and
    /// give up waiting.
    #[test]
    fn the_store_is_written_off_the_runtime_thread() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (store, gate) = mqtt_scenarios::gated_store();
        let first = rt.block_on(async {
            // Nothing listens there: the connection is refused, the session saved all the same.
            let port = mqtt_test_support::free_port();
            let options = mqtt_client::Options::new(&format!("mqtt://127.0.0.1:{port}"), "gate")
                .unwrap()
                .store(store);
            let client = super::spawn(options).unwrap();
            let first = gate.open().await;
            drop(client);
            first
        });
        assert_eq!(first, Some(true), "the write got its go-ahead");
    }
}
