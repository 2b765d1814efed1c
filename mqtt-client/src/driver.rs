//! The bookkeeping every driver loop shares, whatever the runtime: it owns the `Session`,
//! answers the `Client`'s commands, routes messages to subscription streams, completes publish
//! handles, picks the server to connect to, and turns session events into connection events.
//! A driver only moves bytes and time: see the loop in `mqtt_client::event_loop`.
//!
//! `Driver` is the facade the loop calls, and composes the parts that own their rules: the
//! client's commands (`commands`), the session's events (`dispatch`), the store's writes
//! ([`crate::persistence`]), inbound messages ([`crate::routing`]), subscribe requests
//! ([`crate::subscribing`]), request/response ([`crate::request`]) and redirects
//! ([`crate::redirect`]). Here: its turns, the connection's life and the graceful disconnect.

use bytes::BytesMut;
use futures_channel::oneshot;
use mqtt_proto::{DisconnectProperties, QoS, ReasonCode};
use mqtt_session::{PublishId, Session, State};
use std::sync::Arc;
use std::time::Instant;

use crate::auth::Auth;
use crate::client::{Client, Command};
use crate::completion::{Completer, Completions};
use crate::options::{Options, Server};
use crate::persistence::{self, Persist, Persistence, SaveJob, Saved};
use crate::redirect::Redirects;
use crate::report::{ClientError, ConnectionEvent};
use crate::request::Responses;
use crate::routing::{Routing, SeqMap};
use crate::signal::{Signals, Wake};
use crate::statistics::Counters;
use crate::store::StartError;
use crate::subscribing::Requests;

mod commands;
mod dispatch;

pub use commands::COMMAND_BATCH;

/// Where a command's caller waits for its outcome.
type Reply<T> = oneshot::Sender<Result<T, ClientError>>;

/// What a loop does next (see [`Driver::step`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Shut the transport down, call [`Driver::closed_by_us`] and step again. When
    /// [`Driver::linger_until`] gives an instant (the application's graceful disconnect),
    /// read and discard what arrives between the two until the server closes its side or the
    /// instant passes: a server closes once it has read our DISCONNECT, and so everything
    /// before it.
    Close,
    /// Leave the loop: the connection task is done.
    Stop,
    /// Wait for bytes, a command or the next deadline.
    Wait,
    /// The session store comes first. If [`Driver::take_save`] gives a write, run it
    /// ([`SaveJob::run`] blocks on the disk: a loop runs it on a thread of its own, so that
    /// the rest of the program goes on meanwhile) and hand its outcome to [`Driver::saved`]:
    /// at once when [`SaveJob::holds_output`] (the loop writes nothing of `tx` until then:
    /// what is there depends on the save), or whenever it is done (the loop goes on meanwhile:
    /// reads, writes, commands; one write at a time). If it gives none, a write is running
    /// that what is in `tx` depends on: wait for it and hand its outcome over. Then step
    /// again.
    Save,
}

/// A client and the driver of its connection task, wired together (see
/// [`Driver::client_pair`]).
#[derive(Debug)]
pub struct ClientPair {
    /// The application's handle.
    pub client: Client,
    /// The connection task's bookkeeping.
    pub driver: Driver,
    /// The client's commands, for the loop to receive and hand to [`Driver::commands`].
    pub commands: crate::queue::Receiver<Command>,
    /// The readers' wake-ups, for the loop to wait on and hand to [`Driver::signalled`].
    pub signals: Signals,
}

/// The runtime-agnostic part of a connection task.
#[derive(Debug)]
pub struct Driver {
    pub(crate) session: Session<Instant>,
    options: Options,
    // Weak: the task must notice when every client and subscription is gone.
    commands: crate::queue::WeakSender<Command>,
    pub(crate) events: async_channel::Sender<ConnectionEvent>,
    publishes: SeqMap<PublishId, Completer>,
    /// Subscribe and unsubscribe requests waiting for their answers.
    requests: Requests,
    disconnect: Option<(Reply<()>, Instant)>,
    disconnecting: bool,
    finished: bool,
    pub(crate) server: usize,
    /// Where a v5 redirect sends the next connection (see [`crate::redirect`]).
    pub(crate) redirects: Redirects,
    ever_connected: bool,
    /// The completion slots of the client's publishes (shrunk when the connection is quiet).
    completions: Arc<Completions>,
    /// Publishes the session had no room for (queue full, no free Packet Identifier), in
    /// order; while any wait, the loop takes no further commands, so callers wait too.
    held: std::collections::VecDeque<Completer>,
    /// Where the session is kept across restarts (see [`crate::store`]), and the journal of
    /// what it holds and what to write to it next (boxed: a client without a store, most of
    /// them, keeps a pointer rather than two snapshots' worth of fields).
    store: Option<Box<Persistence>>,
    /// Inbound messages: streams, routes and their memory.
    routing: Routing,
    /// Requests waiting for their responses (see [`Client::request`]).
    responses: Responses,
    /// How readers wake the loop (shared with every subscription).
    wake: Arc<Wake>,
    /// The session ended the connection and the transport is to close by then, written or
    /// not: a server that stops reading must not keep a dead connection open.
    close_by: Option<Instant>,
    /// The connection ended on a missed deadline: what is unwritten is dropped.
    abandon_writes: bool,
    /// v5 enhanced authentication: the exchange under way, and session events held while a
    /// CONNACK is checked (see [`crate::auth`]).
    pub(crate) auth: Auth,
    /// What the task has done, shared with the clients (see [`crate::statistics`]).
    pub(crate) stats: Arc<Counters>,
}

impl Driver {
    /// A driver for `options` that serves `client` (whose command channel it hands to
    /// subscriptions and whose publishes it completes); `events` is where connection events go.
    pub(crate) fn new(
        options: Options,
        client: &Client,
        events: async_channel::Sender<ConnectionEvent>,
        wake: Arc<Wake>,
        now: Instant,
    ) -> Result<Driver, StartError> {
        if options.authenticator.is_some()
            && options.session.protocol_version != mqtt_proto::ProtocolVersion::V5
        {
            return Err(StartError::AuthenticatorNeedsV5);
        }
        let mut config = options.session.clone();
        // The driver holds acknowledgements back while a reader's buffer is full.
        config.manual_acks = true;
        let session = persistence::load(options.store.as_deref(), config, now)?;
        let store = options.store.clone();
        let routing = Routing::new(options.inbound_budget, options.session.manual_acks);
        Ok(Driver {
            session,
            auth: Auth::new(options.authenticator.clone(), events.clone()),
            options,
            commands: client.command_sender().downgrade(),
            events,
            publishes: SeqMap::default(),
            requests: Requests::default(),
            disconnect: None,
            disconnecting: false,
            finished: false,
            server: 0,
            redirects: Redirects::default(),
            ever_connected: false,
            held: std::collections::VecDeque::new(),
            completions: client.completions(),
            store: store.map(|store| Box::new(Persistence::new(store))),
            routing,
            responses: Responses::default(),
            wake,
            close_by: None,
            abandon_writes: false,
            stats: client.counters(),
        })
    }

    /// Whether the store holds the session as it is (see [`Persistence::persist`]), telling
    /// routing when the acknowledgements of what readers took are being written, or on disk.
    fn persist(&mut self, now: Instant) -> Persist {
        let closing = self.finished || self.disconnect.is_some() || self.disconnecting;
        let Some(p) = &mut self.store else {
            return Persist::Done;
        };
        let persist = p.persist(&mut self.session, closing, now);
        match persist {
            Persist::Unchanged => self.routing.all_saved(),
            // The write holds the acknowledgements of what readers took so far, too.
            Persist::Made => self.routing.saving(),
            Persist::Done | Persist::Save | Persist::Failed => {}
        }
        persist
    }

    /// The store write a loop is to run after [`Step::Save`].
    pub fn take_save(&mut self) -> Option<SaveJob> {
        self.store.as_mut()?.take_save()
    }

    /// Whether a write the loop took is not done yet (see [`Step::Save`]).
    fn saving(&self) -> bool {
        self.store.as_ref().is_some_and(|p| p.running())
    }

    /// The outcome of the [`SaveJob`] from [`Driver::take_save`]: `None` when it did not
    /// finish (the store panicked, or the thread running it was lost). A failure is reported
    /// as [`ConnectionEvent::StoreFailed`], and the next step closes the connection without
    /// writing what depended on the save.
    pub fn saved(&mut self, saved: Option<Saved>) {
        let Some(p) = &mut self.store else {
            return;
        };
        match p.saved(saved) {
            Ok(accepted) => {
                self.routing.saved();
                for (id, packet_id) in accepted {
                    if let Some(completer) = self.publishes.get(&id) {
                        completer.accept(id, packet_id);
                    }
                }
            }
            Err(error) => {
                tracing::error!(%error, "saving the session failed: closing the connection");
                let _ = self
                    .events
                    .force_send(ConnectionEvent::StoreFailed(error.to_string()));
            }
        }
    }

    /// A client and the driver of its connection task, wired together: the client's commands
    /// arrive on the returned receiver, connection events go to a buffer of `event_buffer`
    /// (the oldest dropped when nobody reads them). `now` is when the session starts (the
    /// Message Expiry of publishes loaded from a store counts from it).
    pub fn client_pair(
        options: Options,
        event_buffer: usize,
        now: Instant,
    ) -> Result<ClientPair, StartError> {
        let (events_tx, events_rx) = async_channel::bounded(event_buffer.max(1));
        let (client, commands) = Client::new(options.command_capacity, events_rx);
        let (wake, signals) = Wake::new();
        let driver = Driver::new(options, &client, events_tx, wake, now)?;
        Ok(ClientPair {
            client,
            driver,
            commands,
            signals: Signals::new(signals),
        })
    }

    /// The `tracing` span a driver runs its loop in: the client id names the connection in
    /// every event the loop and the driver log.
    pub fn span(&self) -> tracing::Span {
        tracing::debug_span!("mqtt", client_id = %self.options.session.client_id)
    }

    /// The session.
    pub fn session(&self) -> &Session<Instant> {
        &self.session
    }

    /// The options.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Whether the task is done: `disconnect` completed, or the session can never connect
    /// again.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The server to connect to now, if the session wants a connection: a redirect target
    /// first, then the configured servers in turn.
    pub fn server_to_connect(&self, now: Instant) -> Option<(usize, Server)> {
        if self.disconnecting || !self.session.should_connect(now) {
            return None;
        }
        if let Some(server) = self.redirects.target() {
            return Some((self.server_index(), server.clone()));
        }
        let index = self.server_index();
        self.options.servers.get(index).map(|s| (index, s.clone()))
    }

    /// The index into [`Options::servers`] of the server connected to, or tried, now (a
    /// redirect's target counts as the server that redirected).
    pub(crate) fn server_index(&self) -> usize {
        self.server % self.options.servers.len().max(1)
    }

    /// The transport closed or failed.
    pub fn closed(&mut self, now: Instant) {
        self.close_by = None;
        self.abandon_writes = false;
        let was_connected = self.session.is_connected();
        self.session.handle_closed(now);
        // A redirect chose the next server already (and names the one it came from).
        let chosen = self.redirects.chose_next();
        if !was_connected && !self.ever_connected && !chosen {
            self.server = self.server.wrapping_add(1);
        }
    }

    /// Bytes arrived.
    pub fn read(&mut self, now: Instant, buf: &mut BytesMut) {
        if self.answered_in_tls(now, buf) {
            return;
        }
        let before = buf.len();
        self.session.handle_read(now, buf);
        self.stats.read(before.saturating_sub(buf.len()));
        self.auth.after_read(now, &mut self.session);
    }

    /// Time passed: the session's deadlines, and the graceful-disconnect deadline.
    pub fn timeout(&mut self, now: Instant) {
        self.settle(now);
        // While reading is stopped for the inbound budget, the server's packets (its PINGRESP
        // among them) wait unread in the socket: the session's deadlines would take a busy
        // connection for a dead one. They apply again once reading goes on.
        if !self.reading_paused() {
            self.session.handle_timeout(now);
        }
        self.responses.expire(now);
        self.maybe_disconnect(now);
    }

    /// The loop's timer fired (see [`Driver::next_deadline`]): gives back the memory the
    /// command queue, the subscriptions' buffers, the publishes' completion slots and the
    /// driver's own queues grew to in a burst, if they are empty. Steady traffic keeps moving
    /// the deadline, so this happens when a connection goes quiet, not after every drain
    /// (which would make each burst allocate again).
    pub fn timer_fired(&mut self, commands: &crate::queue::Receiver<Command>) {
        commands.shrink_if_empty();
        self.routing.shrink();
        if self.held.is_empty() {
            self.held = std::collections::VecDeque::new();
        }
        self.completions.shrink_if_unused();
    }

    /// The next instant the loop must wake up at.
    pub fn next_deadline(&self) -> Option<Instant> {
        let disconnect = self.disconnect.as_ref().map(|(_, at)| *at);
        let session = if self.reading_paused() {
            None
        } else {
            self.session.poll_timeout()
        };
        [
            session,
            disconnect,
            self.close_by,
            self.responses.next_deadline(),
            self.store.as_ref().and_then(|p| p.due()),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Whether the transport should be closed: the session ended the connection.
    pub fn wants_close(&self) -> bool {
        self.session.state() == State::Idle
    }

    /// Encodes what is due into `buf`.
    pub fn transmit(&mut self, now: Instant, buf: &mut BytesMut) -> usize {
        let mut total = 0;
        loop {
            let n = self.session.poll_transmit(now, buf);
            if n == 0 {
                break;
            }
            total += n;
        }
        if total > 0 {
            self.stats.wrote(total);
        }
        total
    }

    /// What a loop does after an input: drains every output into `tx` (dropped when no
    /// transport is up), then says whether to close the transport (the session is done with
    /// it and everything is written), to stop for good, or to wait for the next input.
    ///
    /// With a store, the state is saved here, after the outputs are made and before the loop
    /// writes them ([`Step::Save`]): a save that fails drops the bytes and closes the
    /// connection [MQTT-4.8.0-2] (see [`crate::store`]).
    pub fn step(&mut self, now: Instant, transport_up: bool, tx: &mut BytesMut) -> Step {
        self.drain(now, tx);
        self.stats.set_gauges(
            self.session.inflight(),
            self.session.queued() + self.held.len(),
            self.session.acks_owed(),
            self.routing.held_bytes(),
        );
        match self.persist(now) {
            Persist::Done | Persist::Unchanged => {}
            Persist::Save | Persist::Made => return Step::Save,
            Persist::Failed => {
                tx.clear();
                if transport_up {
                    return Step::Close;
                }
            }
        }
        if !transport_up {
            tx.clear();
        }
        if transport_up && self.wants_close() {
            // The session ended the connection. What it wrote last (a DISCONNECT) goes out if
            // the server takes it in time; a deadline it missed (keep-alive, CONNACK) means
            // the server is not there to read it, so nothing waits for it then.
            let expired = self.close_by.is_some_and(|at| now >= at);
            if tx.is_empty() || expired || self.abandon_writes {
                tx.clear();
                return Step::Close;
            }
            self.close_by
                .get_or_insert(now + self.options.disconnect_timeout);
        }
        // A graceful disconnect is done once its DISCONNECT is written and the transport
        // closed (see `Step::Close`), or once the transport failed: not when the DISCONNECT
        // is encoded. A client that connects again with the same id right after `disconnect`
        // returned would otherwise race the old connection's last packets to the server,
        // which takes the session over and may never read them (an acknowledgement lost, the
        // message sent again).
        if !transport_up
            && self.disconnecting
            && !self.finished
            && self.session.state() == State::Idle
        {
            self.finish(Ok(()));
        }
        if self.is_finished() && tx.is_empty() {
            if self.saving() {
                // Its outcome decides what the callers of the publishes in it learn.
                return Step::Save;
            }
            Step::Stop
        } else {
            Step::Wait
        }
    }

    /// Until when a loop that got [`Step::Close`] waits for the server to close the
    /// connection: the graceful disconnect's deadline
    /// ([`Options::disconnect_timeout`](crate::Options) after `disconnect` was called), or
    /// `None` when the session closes it for another reason (an error, a keep-alive
    /// timeout), which waits for nothing.
    pub fn linger_until(&self) -> Option<Instant> {
        self.disconnecting
            .then(|| self.disconnect.as_ref().map(|(_, at)| *at))
            .flatten()
    }

    /// The loop closed the transport after [`Step::Close`].
    pub fn closed_by_us(&mut self, now: Instant) {
        self.closed(now);
        self.close_by = None;
        self.abandon_writes = false;
        self.dispatch(now);
    }

    /// Every output, until there is none: bytes (appended to `tx` for the writer), then events
    /// (whose acknowledgements may make more bytes). A loop calls this after every input.
    pub fn drain(&mut self, now: Instant, tx: &mut BytesMut) {
        loop {
            let wrote = self.transmit(now, tx);
            let events = self.dispatch(now);
            if wrote == 0 && !events {
                break;
            }
        }
    }

    /// The last `Client` is gone: disconnect gracefully and stop.
    pub fn clients_gone(&mut self, now: Instant) {
        if self.disconnect.is_none() && !self.disconnecting {
            // As for `disconnect`: what readers took is acknowledged first.
            self.settle(now);
            let (reply, _) = oneshot::channel();
            self.disconnect = Some((reply, now + self.options.disconnect_timeout));
            self.maybe_disconnect(now);
        }
    }

    fn finish(&mut self, result: Result<(), ClientError>) {
        tracing::debug!("connection task stopping");
        // Closed before `disconnect` returns: a command sent after it fails at once with
        // `Closed` instead of waiting in the queue of a task that will never read it again.
        self.commands.close();
        if let Some((reply, _)) = self.disconnect.take() {
            let _ = reply.send(result);
        }
        self.finished = true;
        let _ = self.events.force_send(ConnectionEvent::Stopped);
    }

    /// Sends DISCONNECT once nothing is in flight any more, or the grace period is over.
    fn maybe_disconnect(&mut self, now: Instant) {
        let Some((_, deadline)) = &self.disconnect else {
            return;
        };
        if self.disconnecting {
            return;
        }
        let idle = self.session.pending_publishes() == 0;
        if !(idle || now >= *deadline || !self.session.is_connected()) {
            return;
        }
        self.disconnecting = true;
        for completer in std::mem::take(&mut self.held) {
            completer.complete(Err(mqtt_session::Error::Closing.into()));
        }
        let connected = matches!(self.session.state(), State::Connected);
        let _ = self.session.disconnect(
            now,
            ReasonCode::NORMAL_DISCONNECTION,
            DisconnectProperties::default(),
        );
        if !connected {
            self.finish(Ok(()));
        }
    }

    /// The granted QoS of the session's subscriptions (for tests and diagnostics).
    pub fn subscriptions(&self) -> Vec<(String, QoS)> {
        self.session
            .subscriptions()
            .map(|(_, f)| (f.filter.to_string(), f.options.qos))
            .collect()
    }
}

#[cfg(test)]
mod tests;
