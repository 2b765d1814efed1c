//! The connection task, written once for every runtime: it writes what the session produced,
//! delivers its events, then waits for bytes, a command, a reader's wake-up, a store write or
//! the next deadline, and feeds the result back to the [`Driver`]. A runtime supplies only
//! what differs between runtimes (a [`Runtime`]: opening and splitting a transport, reading
//! and writing it, a timer, and a thread for the store's blocking writes).

use crate::{Client, Command, Driver, Options, ReadSize, SaveJob, Saved, Server, Signals};
use crate::{StartError, Step, TimerSlot};
use bytes::{Buf, BytesMut};
use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::task::{Context, Poll};
use std::time::Instant;

/// The future of [`Runtime::connect`].
pub type ConnectFuture<'a, T> = Pin<Box<dyn Future<Output = io::Result<T>> + Send + 'a>>;

/// What the connection loop needs of an async runtime. Implemented by `mqtt-tokio` (tokio)
/// and `mqtt-smol` (async-io, for smol and async-std); a runtime crate is its transports
/// plus this.
pub trait Runtime: Send + 'static {
    /// A transport to a server, whole.
    type Transport: Send + 'static;
    /// A transport's reading half.
    type Reader: Send;
    /// A transport's writing half.
    type Writer: Send;
    /// One timer, moved from deadline to deadline for the life of a loop.
    type Timer: Send;
    /// A store write running off the loop's thread.
    type Saving: Future<Output = Option<Saved>> + Send + Unpin;

    /// Whether the loop lets the tasks it woke run after every read, or only after a read
    /// that filled its room (on a runtime that waits for readiness before reading again, a
    /// shorter read already gives them their turn).
    const YIELD_AFTER_EVERY_READ: bool;

    /// Opens a transport to `server`; the loop bounds it with `Options::connect_timeout`.
    fn connect<'a>(
        &'a mut self,
        server: &'a Server,
        options: &'a Options,
    ) -> ConnectFuture<'a, Self::Transport>;

    /// Splits a transport into halves read and written independently: writing never stops
    /// reading, so a peer that stops reading while its own output to us is full cannot
    /// deadlock the two sides.
    fn split(transport: Self::Transport) -> (Self::Reader, Self::Writer);

    /// Reads at most `room` bytes (the spare capacity `buf` has) and appends them to `buf`.
    /// `Ok(0)` is the end of the stream. Called again from the start when it returned
    /// `Pending` and the loop woke for something else: it keeps nothing half-read.
    fn poll_read(
        reader: &mut Self::Reader,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
        room: usize,
    ) -> Poll<io::Result<usize>>;

    /// Writes from `data`; returns how many bytes were taken.
    fn poll_write(
        writer: &mut Self::Writer,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>>;

    /// Flushes what the transport buffers (TLS, WebSocket).
    fn poll_flush(writer: &mut Self::Writer, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Closes the writing side (a TLS close_notify, a TCP FIN).
    fn poll_shutdown(writer: &mut Self::Writer, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// A timer, not yet set.
    fn timer() -> Self::Timer;

    /// Sets `timer` to fire at `at`.
    fn set_timer(timer: &mut Self::Timer, at: Instant);

    /// Ready once the instant `timer` was set to has passed.
    fn poll_timer(timer: &mut Self::Timer, cx: &mut Context<'_>) -> Poll<()>;

    /// Runs a store write on a thread where blocking is allowed: the disk's wait (an `fsync`)
    /// holds up this connection, which must not write before it, but not the runtime's other
    /// tasks (on a one-thread runtime, all of them).
    fn save(job: SaveJob) -> Self::Saving;
}

/// A runtime whose transports come from a connector the application may replace (the driver
/// crates' `Connector`s: a Unix socket, an in-memory pipe, ...).
pub trait UseConnector<C>: Runtime {
    /// Opens transports with `connector` from now on.
    fn use_connector(&mut self, connector: C);
}

/// A connection task not yet running, on runtime `R`: run it with [`Connection::run`] on
/// that runtime.
pub struct Connection<R> {
    // Boxed: the loop's future keeps more than one copy of `self` (the compiler does not
    // overlap an async fn's argument with its locals), so `self` must be small; an idle
    // connection's task is mostly this future.
    driver: Box<Driver>,
    commands: crate::queue::Receiver<Command>,
    signals: Signals,
    runtime: R,
}

impl<R> std::fmt::Debug for Connection<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("driver", &self.driver)
            .finish()
    }
}

/// What woke the loop.
enum Woke {
    Wrote,
    Closed,
    Saved(Option<Saved>),
    Command(Result<Command, crate::queue::RecvError>),
    Signal,
    Read { filled: bool },
    Timer,
}

impl<R: Runtime> Connection<R> {
    /// A client and its connection task on `runtime`, not yet running; the task keeps
    /// `event_buffer` connection events for readers who come late.
    pub fn new(
        options: Options,
        event_buffer: usize,
        runtime: R,
    ) -> Result<(Client, Self), StartError> {
        let pair = Driver::client_pair(options, event_buffer, Instant::now())?;
        let connection = Connection {
            driver: Box::new(pair.driver),
            commands: pair.commands,
            signals: pair.signals,
            runtime,
        };
        Ok((pair.client, connection))
    }

    /// Opens transports with `connector` instead of the runtime's built-in one.
    pub fn with_connector<C>(mut self, connector: C) -> Self
    where
        R: UseConnector<C>,
    {
        self.runtime.use_connector(connector);
        self
    }

    /// Runs until `disconnect` (or until every `Client` and `Subscription` is dropped), in
    /// the `tracing` span `mqtt` with the client id.
    pub fn run(self) -> impl Future<Output = ()> + Send {
        use tracing::Instrument;
        let span = self.driver.span();
        self.run_in_span().instrument(span)
    }

    async fn run_in_span(mut self) {
        let mut transport: Option<(R::Reader, R::Writer)> = None;
        // Both grow to what the traffic needs; an idle connection holds little.
        let mut rx = BytesMut::new();
        let mut tx = BytesMut::new();
        // Written out, not yet flushed through the transport's own buffer.
        let mut flushing = false;
        let mut commands_open = true;
        let mut read_size = ReadSize::new();
        let mut timer = R::timer();
        let mut slot = TimerSlot::default();
        // A store write that the outputs need not wait for.
        let mut saving: Option<R::Saving> = None;
        // One clock reading per wake-up, taken when the wait ends (and after a connection
        // attempt): reading it for every call cost 3% of a busy connection's CPU.
        let mut now = Instant::now();
        loop {
            if transport.is_none() {
                if let Some((_, server)) = self.driver.server_to_connect(now) {
                    let timeout = self.driver.options().connect_timeout;
                    let attempt = self.driver.attempt();
                    let connect = self.runtime.connect(&server, self.driver.options());
                    let deadline = Instant::now().checked_add(timeout);
                    let outcome = within::<R, _>(&mut timer, deadline, attempt.run(connect)).await;
                    // The timer was moved: set it again for the next deadline.
                    slot.fired();
                    now = Instant::now();
                    if let Some(t) = self.driver.attempt_outcome(now, outcome) {
                        transport = Some(R::split(t));
                        rx.clear();
                        tx.clear();
                        flushing = false;
                    }
                }
            }
            // Outputs, until there are none (bytes are queued for the writer).
            match self.driver.step(now, transport.is_some(), &mut tx) {
                Step::Close => {
                    if let Some((mut r, mut w)) = transport.take() {
                        let linger = self.driver.linger_until();
                        close::<R>(&mut timer, &mut r, &mut w, linger).await;
                        slot.fired();
                    }
                    now = Instant::now();
                    self.driver.closed_by_us(now);
                    // Step again at once: a graceful disconnect ends now.
                    continue;
                }
                Step::Save => {
                    if let Some(job) = self.driver.take_save() {
                        let holds_output = job.holds_output();
                        let write = R::save(job);
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
                R::set_timer(&mut timer, at);
            }
            let reading = !self.driver.reading_paused();
            let accepts = commands_open && self.driver.accepts_commands();
            let (commands, signals) = (&self.commands, &self.signals);
            // In this order: writes first (nothing waits behind commands), then commands
            // before reads (a subscription made while the connection comes up is in place
            // before the messages of a resumed session arrive).
            let woke = poll_fn(|cx| {
                if let Some((_, w)) = transport.as_mut() {
                    if let Poll::Ready(written) = poll_output::<R>(w, cx, &mut tx, &mut flushing) {
                        return Poll::Ready(written);
                    }
                }
                if let Some(write) = saving.as_mut() {
                    if let Poll::Ready(saved) = Pin::new(write).poll(cx) {
                        return Poll::Ready(Woke::Saved(saved));
                    }
                }
                if accepts {
                    if let Poll::Ready(command) = commands.poll_recv(cx) {
                        return Poll::Ready(Woke::Command(command));
                    }
                }
                if signals.poll_recv(cx).is_ready() {
                    return Poll::Ready(Woke::Signal);
                }
                if let (Some((r, _)), true) = (transport.as_mut(), reading) {
                    let room = read_size.reserve(&mut rx);
                    if let Poll::Ready(read) = R::poll_read(r, cx, &mut rx, room) {
                        return Poll::Ready(match read {
                            Ok(0) | Err(_) => Woke::Closed,
                            Ok(n) => Woke::Read {
                                filled: read_size.read(n, room),
                            },
                        });
                    }
                }
                if deadline.is_some() && R::poll_timer(&mut timer, cx).is_ready() {
                    return Poll::Ready(Woke::Timer);
                }
                Poll::Pending
            })
            .await;
            now = Instant::now();
            match woke {
                Woke::Wrote => {}
                Woke::Closed => {
                    transport = None;
                    self.driver.closed(now);
                }
                Woke::Saved(saved) => {
                    saving = None;
                    self.driver.saved(saved);
                }
                Woke::Command(Ok(c)) => {
                    commands_open = self.driver.commands(now, c, &self.commands);
                }
                Woke::Command(Err(_)) => {
                    commands_open = false;
                    self.driver.clients_gone(now);
                }
                Woke::Signal => self.driver.signalled(now),
                Woke::Read { filled } => {
                    self.driver.read(now, &mut rx);
                    self.driver.drain(now, &mut tx);
                    // Let the subscribers run before the next read: on a busy socket this
                    // loop could otherwise fill their buffers faster than a fast reader
                    // empties them, and QoS 0 messages would be dropped for no reader's fault.
                    if filled || R::YIELD_AFTER_EVERY_READ {
                        yield_now().await;
                        now = Instant::now();
                    }
                }
                Woke::Timer => {
                    slot.fired();
                    self.driver.timer_fired(&self.commands);
                }
            }
            // Deadlines are compared here rather than trusted to the timer alone.
            self.driver.timeout(now);
        }
        self.driver.refuse_queued(&self.commands);
    }
}

/// Writes what `tx` holds, then flushes the transport's own buffer once `tx` is empty.
/// Ready when a write took bytes (or the transport failed); `Pending` when there is nothing
/// to write or the transport has no room.
fn poll_output<R: Runtime>(
    w: &mut R::Writer,
    cx: &mut Context<'_>,
    tx: &mut BytesMut,
    flushing: &mut bool,
) -> Poll<Woke> {
    if !tx.is_empty() {
        match R::poll_write(w, cx, tx) {
            Poll::Ready(Ok(n)) if n > 0 => tx.advance(n),
            Poll::Ready(_) => return Poll::Ready(Woke::Closed),
            Poll::Pending => return Poll::Pending,
        }
        if !tx.is_empty() {
            return Poll::Ready(Woke::Wrote);
        }
        *flushing = true;
    }
    if *flushing {
        match R::poll_flush(w, cx) {
            Poll::Ready(Ok(())) => *flushing = false,
            Poll::Ready(Err(_)) => return Poll::Ready(Woke::Closed),
            // Flushed later; what was written was written.
            Poll::Pending => {}
        }
        return Poll::Ready(Woke::Wrote);
    }
    Poll::Pending
}

/// Runs `work` until `deadline` (forever when there is none): `None` when the deadline came
/// first.
async fn within<R: Runtime, T>(
    timer: &mut R::Timer,
    deadline: Option<Instant>,
    work: impl Future<Output = T>,
) -> Option<T> {
    if let Some(at) = deadline {
        R::set_timer(timer, at);
    }
    let mut work = pin!(work);
    poll_fn(|cx| {
        if let Poll::Ready(out) = work.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        if deadline.is_some() && R::poll_timer(timer, cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

/// Closes a transport the session is done with. After a graceful disconnect, until
/// `linger` (its deadline): the close is sent, then what the server still sends is read and
/// dropped until it closes its side. Otherwise (an error, a deadline passed) the close is
/// tried once and the transport dropped whatever is unwritten: a server that stopped reading
/// must not hold the client.
async fn close<R: Runtime>(
    timer: &mut R::Timer,
    r: &mut R::Reader,
    w: &mut R::Writer,
    linger: Option<Instant>,
) {
    let Some(at) = linger else {
        let _ = poll_fn(|cx| Poll::Ready(R::poll_shutdown(w, cx))).await;
        return;
    };
    let shutdown = poll_fn(|cx| R::poll_shutdown(w, cx));
    if within::<R, _>(timer, Some(at), shutdown).await.is_none() {
        return;
    }
    let mut scratch = BytesMut::with_capacity(512);
    let read_to_end = poll_fn(|cx| loop {
        scratch.clear();
        match R::poll_read(r, cx, &mut scratch, 512) {
            Poll::Ready(Ok(1..)) => continue,
            Poll::Ready(_) => return Poll::Ready(()),
            Poll::Pending => return Poll::Pending,
        }
    });
    within::<R, _>(timer, Some(at), read_to_end).await;
}

/// Goes to the back of the executor's queue once: the tasks woken before (the subscribers
/// this turn delivered to) run first. Unlike `tokio::task::yield_now`, which holds the task
/// back until the runtime has also asked the I/O driver for events (one more `epoll_wait`, a
/// system call per read on a busy connection), this only waits for its turn; the runtime
/// still looks at the driver between batches of tasks, so nothing starves.
pub fn yield_now() -> impl Future<Output = ()> + Send {
    let mut yielded = false;
    poll_fn(move |cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
}
