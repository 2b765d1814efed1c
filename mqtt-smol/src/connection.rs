//! The connection task on async-io: the same loop as mqtt-tokio's (write what the session
//! produced, deliver its events, wait for bytes, a command or the next deadline), with
//! futures-io and async-io timers.

use async_io::Timer;
use bytes::{Buf, BytesMut};
use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
use futures_util::{select_biased, FutureExt};
use mqtt_client::{Client, Driver, Options, ReadSize, Signals, StartError, Step, TimerSlot};
use std::time::Instant;

use crate::transport::{Connector, TcpConnector, Transport};

/// Events a connection keeps for readers who come late; older ones are dropped.
const EVENT_BUFFER: usize = 16;

/// A connection task not yet running: run it on your executor with [`Connection::run`], or
/// use [`spawn`].
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

/// Why [`spawn`] failed.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The session configuration is invalid, or its store could not be loaded.
    #[error(transparent)]
    Start(#[from] StartError),
    /// The connection thread could not be started.
    #[error("starting the connection thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// A client whose connection task runs on a thread of its own (an async-io executor), so it
/// works from smol and async-std programs alike.
pub fn spawn(options: Options) -> Result<Client, SpawnError> {
    let (client, connection) = new(options)?;
    std::thread::Builder::new()
        .name("mqtt-connection".into())
        .spawn(move || async_io::block_on(connection.run()))?;
    Ok(client)
}

impl Connection {
    /// Uses `connector` instead of plain TCP / TLS.
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
            futures_lite::io::ReadHalf<Box<dyn Transport>>,
            futures_lite::io::WriteHalf<Box<dyn Transport>>,
        );
        let mut transport: Option<Halves> = None;
        let mut rx = BytesMut::new();
        let mut tx = BytesMut::new();
        let mut read_size = ReadSize::new();
        // Grown on the first read, then as reads fill it.
        let mut scratch = Vec::new();
        let mut commands_open = true;
        let mut timer = Timer::never();
        let mut slot = TimerSlot::default();
        // A store write that the outputs need not wait for, running on `blocking`'s pool.
        let mut saving: Option<blocking::Task<Option<mqtt_client::Saved>>> = None;
        // One clock reading per wake-up, taken when the wait ends (and after a connection
        // attempt), not one per call.
        let mut now = Instant::now();
        loop {
            if transport.is_none() {
                if let Some((_, server)) = self.driver.server_to_connect(now) {
                    let timeout = self.driver.options().connect_timeout;
                    let attempt = self.driver.attempt();
                    let connect = self.connector.connect(&server, self.driver.options());
                    let attempt = futures_lite::future::or(
                        async { Some(attempt.run(connect).await) },
                        async {
                            Timer::after(timeout).await;
                            None
                        },
                    )
                    .await;
                    now = Instant::now();
                    if let Some(t) = self.driver.attempt_outcome(now, attempt) {
                        transport = Some(futures_lite::io::split(t));
                        rx.clear();
                        tx.clear();
                    }
                }
            }
            match self.driver.step(now, transport.is_some(), &mut tx) {
                Step::Close => {
                    if let Some((mut r, mut w)) = transport.take() {
                        let _ = w.close().await;
                        if let Some(at) = self.driver.linger_until() {
                            // Boxed: inline, this wait would grow every connection task's
                            // future (an idle connection's memory) for the one time it runs.
                            Box::pin(futures_lite::future::or(read_to_end(&mut r), async {
                                Timer::at(at).await;
                            }))
                            .await;
                        }
                    }
                    now = Instant::now();
                    self.driver.closed_by_us(now);
                    // Step again at once: a graceful disconnect ends now.
                    continue;
                }
                Step::Save => {
                    // On a thread of `blocking`'s pool: the disk's wait (an `fsync`) holds up
                    // this connection, which must not write before it, but not the executor's
                    // other tasks.
                    if let Some(job) = self.driver.take_save() {
                        let holds_output = job.holds_output();
                        let write = blocking::unblock(move || job.run());
                        if holds_output {
                            self.driver.saved(write.await);
                        } else {
                            saving = Some(write);
                        }
                    } else if let Some(write) = saving.take() {
                        self.driver.saved(write.await);
                    }
                    now = Instant::now();
                    continue;
                }
                Step::Stop => break,
                Step::Wait => {}
            }
            let deadline = self.driver.next_deadline();
            if let Some(at) = slot.rearm(deadline) {
                timer.set_at(at);
            }
            let (reader, writer) = match transport.as_mut() {
                Some((r, w)) => (Some(r), Some(w)),
                None => (None, None),
            };
            let pending_write = !tx.is_empty();
            let accepts = commands_open && self.driver.accepts_commands();
            let reading = !self.driver.reading_paused();
            enum Woke {
                Wrote(std::io::Result<usize>),
                Command(Result<mqtt_client::Command, mqtt_client::queue::RecvError>),
                Read(std::io::Result<usize>),
                Signal,
                Saved(Option<mqtt_client::Saved>),
                Timer,
            }
            let write = async {
                match writer {
                    Some(w) if pending_write => {
                        let n = w.write(&tx).await?;
                        w.flush().await?;
                        Ok(n)
                    }
                    _ => std::future::pending().await,
                }
            };
            let command = async {
                if accepts {
                    self.commands.recv().await
                } else {
                    std::future::pending().await
                }
            };
            let read = async {
                match reader {
                    Some(r) if reading => {
                        // Into a scratch buffer, not the read buffer's tail: this future is
                        // dropped whenever another branch wins, and must leave `rx` intact.
                        let room = read_size.get();
                        if scratch.len() < room {
                            scratch.resize(room, 0);
                        }
                        r.read(&mut scratch[..room]).await
                    }
                    _ => std::future::pending().await,
                }
            };
            let saved = async {
                match saving.as_mut() {
                    Some(write) => write.await,
                    None => std::future::pending().await,
                }
            };
            let timer = async {
                match deadline {
                    Some(_) => (&mut timer).await,
                    None => std::future::pending().await,
                }
            };
            let woke = select_biased! {
                w = write.fuse() => Woke::Wrote(w),
                c = command.fuse() => Woke::Command(c),
                s = saved.fuse() => Woke::Saved(s),
                () = self.signals.recv().fuse() => Woke::Signal,
                r = read.fuse() => Woke::Read(r),
                _ = timer.fuse() => Woke::Timer,
            };
            now = Instant::now();
            match woke {
                Woke::Wrote(Ok(n)) if n > 0 => {
                    tx.advance(n);
                }
                Woke::Wrote(_) => {
                    transport = None;
                    self.driver.closed(now);
                }
                Woke::Command(Ok(c)) => {
                    commands_open = self.driver.commands(now, c, &self.commands)
                }
                Woke::Command(Err(_)) => {
                    commands_open = false;
                    self.driver.clients_gone(now);
                }
                Woke::Read(Ok(0)) | Woke::Read(Err(_)) => {
                    transport = None;
                    self.driver.closed(now);
                }
                Woke::Read(Ok(n)) => {
                    // Into the tail of the read buffer while it has room (decoded messages
                    // share the buffer; see `ReadSize::reserve`).
                    let mut data = &scratch[..n];
                    while !data.is_empty() {
                        let take = read_size.chunk(&rx, data.len());
                        read_size.reserve_at_least(&mut rx, take);
                        rx.extend_from_slice(&data[..take]);
                        data = &data[take..];
                        self.driver.read(now, &mut rx);
                    }
                    read_size.read(n, read_size.get());
                    self.driver.drain(now, &mut tx);
                    // Let the subscribers run before the next read: on a busy socket this
                    // loop could otherwise fill their buffers faster than a fast reader
                    // empties them, and QoS 0 messages would be dropped for no reader's fault.
                    // (Always: async-io reads the socket again before waiting for it, so a
                    // short read is no sign that the subscribers will get their turn; and
                    // this yield costs no system call.)
                    futures_lite::future::yield_now().await;
                    now = Instant::now();
                }
                Woke::Signal => self.driver.signalled(now),
                Woke::Saved(saved) => {
                    saving = None;
                    self.driver.saved(saved);
                }
                Woke::Timer => {
                    slot.fired();
                    self.driver.timer_fired(&self.commands);
                }
            }
            self.driver.timeout(now);
        }
        self.driver.refuse_queued(&self.commands);
    }
}

/// Reads and discards until the peer closes its side (or the transport fails).
async fn read_to_end(r: &mut (impl futures_lite::io::AsyncRead + Unpin)) {
    let mut scratch = [0u8; 512];
    while let Ok(1..) = r.read(&mut scratch).await {}
}

#[cfg(test)]
mod tests {
    /// The connection task writes its store on a thread of `blocking`'s pool: while a write
    /// waits for the disk, the other tasks of a one-thread executor go on (here, the one that
    /// lets the write finish). Written inline, the write would hold the executor's only thread
    /// and give up waiting.
    #[test]
    fn the_store_is_written_off_the_executor_thread() {
        // Nothing listens there: the connection is refused, the session saved all the same.
        let port = mqtt_test_support::free_port();
        let (store, gate) = mqtt_scenarios::gated_store();
        let options = mqtt_client::Options::new(&format!("mqtt://127.0.0.1:{port}"), "gate")
            .unwrap()
            .store(store);
        let (client, connection) = super::new(options).unwrap();
        let ex = smol::LocalExecutor::new();
        let first = futures_lite::future::block_on(ex.run(async {
            ex.spawn(connection.run()).detach();
            gate.open().await
        }));
        drop(client);
        assert_eq!(first, Some(true), "the write got its go-ahead");
    }
}
