//! The bookkeeping every driver loop shares, whatever the runtime: it owns the `Session`,
//! answers the `Client`'s commands, routes messages to subscription streams, completes publish
//! handles, picks the server to connect to, and turns session events into connection events.
//! A driver only moves bytes and time: see the loop in `mqtt-tokio` or `mqtt-smol`.

use bytes::BytesMut;
use futures_channel::oneshot;
use mqtt_proto::{
    DisconnectProperties, ProtocolVersion, QoS, ReasonCode, SubscribeFilter, SubscribeProperties,
    TopicFilter,
};
use mqtt_session::{AckToken, DisconnectReason, Event, PublishId, Session, State};
use std::sync::Arc;
use std::time::Instant;

use crate::auth::Auth;
use crate::client::{Client, Command, Subscription};
use crate::completion::{Completer, Completions};
use crate::options::{Options, Server};
use crate::persistence::{self, Persist, Persistence, SaveJob, Saved};
use crate::redirect::{Redirect, Redirects};
use crate::report::{ClientError, ConnectionEvent, PublishDone};
use crate::request::Responses;
use crate::routing::{Routing, SeqMap};
use crate::signal::{Signals, Wake};
use crate::statistics::Counters;
use crate::store::StartError;
use crate::subscribing::{Requests, UnsubscribeResult};

type Reply<T> = oneshot::Sender<Result<T, ClientError>>;

/// The most commands a loop takes in one wake-up (see [`Driver::commands`]): enough to fill
/// a write, few enough that reads and timers are never kept waiting long.
pub const COMMAND_BATCH: usize = 64;

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

    /// The application's answer to a manual-ack message: an ack, or a refusal with `reason`.
    /// A token that is unknown or stale (answered before, or from a session the server has
    /// since lost) is ignored with a warning; other errors go back to the caller.
    fn answer(
        &mut self,
        now: Instant,
        token: AckToken,
        reason: Option<ReasonCode>,
    ) -> Result<(), ClientError> {
        let result = match reason {
            None => self.session.ack(now, token),
            Some(reason) => self.session.reject(now, token, reason),
        };
        match result {
            Err(mqtt_session::Error::UnknownAckToken) => {
                tracing::warn!(?token, "answer ignored: unknown or stale ack token");
                Ok(())
            }
            other => other.map_err(ClientError::from),
        }
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

    /// The loop has stopped: closes `rx` and drops the commands still queued in it, so that
    /// their callers get [`ClientError::Closed`] instead of waiting for replies that will never
    /// come (a command sent at the moment `disconnect` finished lands there).
    pub fn refuse_queued(&mut self, rx: &crate::queue::Receiver<Command>) {
        rx.close();
        while rx.try_recv().is_ok() {}
    }

    /// A command from a client, then the commands already waiting behind it in `rx` (at most
    /// [`COMMAND_BATCH`] in all, and only while [`Self::accepts_commands`]), so that a burst of
    /// publishes goes out in one write instead of one write each. Returns `false` when `rx` is
    /// closed and empty: every `Client` is gone, and the driver is disconnecting.
    pub fn commands(
        &mut self,
        now: Instant,
        first: Command,
        rx: &crate::queue::Receiver<Command>,
    ) -> bool {
        self.command(now, first);
        for _ in 1..COMMAND_BATCH {
            if !self.accepts_commands() {
                break;
            }
            match rx.try_recv() {
                Ok(command) => self.command(now, command),
                Err(crate::queue::TryRecvError::Empty) => break,
                Err(crate::queue::TryRecvError::Closed) => {
                    self.clients_gone(now);
                    return false;
                }
            }
        }
        true
    }

    /// A command from a client.
    pub fn command(&mut self, now: Instant, command: Command) {
        match command {
            Command::Publish { completer } => {
                if self.disconnecting || self.disconnect.is_some() {
                    completer.complete(Err(mqtt_session::Error::Closing.into()));
                    return;
                }
                self.held.push_back(completer);
                self.publish_held(now);
            }
            Command::Subscribe {
                filters,
                properties,
                reply,
            } => {
                let filter_names: Vec<TopicFilter> =
                    filters.iter().map(|f| f.filter.clone()).collect();
                // Held by the server for no stream of this process (restored, or resumed from
                // an earlier process): see `Requests::subscribing`. A filter a stream of this
                // process has is subscribed again to replace it [MQTT-3.8.4-3]: that waits
                // for the SUBACK, after which the server tags its messages for the new one.
                let held = filters
                    .iter()
                    .all(|f| {
                        self.session.holds_subscription(f) && !self.routing.has_filter(&f.filter)
                    })
                    .then(|| filters.iter().map(|f| Ok(f.options.qos)).collect());
                let Some(commands) = self.commands.upgrade() else {
                    let _ = reply.send(Err(ClientError::Closed));
                    return;
                };
                match self.session.subscribe(now, filters, *properties) {
                    Ok((request, keys)) => {
                        // With a store, automatic acknowledgements are saved before they go
                        // out: a reader runs at most this many takes ahead of the disk.
                        let ahead = if self.store.is_some() && !self.options.session.manual_acks {
                            u64::from(self.options.takes_ahead_of_store.max(1))
                        } else {
                            0
                        };
                        let (subscription, sink, taken) = Subscription::channel(
                            self.options.subscription_capacity,
                            commands,
                            filter_names.clone(),
                            self.wake.clone(),
                            ahead,
                        );
                        let stream = subscription.stream_id();
                        self.routing
                            .add_stream(stream, keys, filter_names, sink, taken);
                        self.requests
                            .subscribing(request, reply, subscription, held);
                        // Messages that arrived for no stream and match this one are its.
                        self.routing.reroute(&self.session);
                        self.settle(now);
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e.into()));
                    }
                }
            }
            Command::Unsubscribe { stream, reply } => self.unsubscribe(now, stream, reply),
            Command::UnsubscribeFilters {
                stream,
                filters,
                reply,
            } => self.unsubscribe_filters(now, stream, filters, reply),
            Command::Ack(token) => {
                // An ack can only fail on its token, which `answer` reports as a warning.
                let _ = self.answer(now, token, None);
            }
            Command::Reject(token, reason, reply) => {
                let _ = reply.send(self.answer(now, token, Some(reason)));
            }
            Command::Request {
                timeout,
                ready,
                answer,
            } => {
                if self.session.protocol_version() != ProtocolVersion::V5 {
                    let _ = ready.send(Err(ClientError::Unsupported(
                        "request/response needs MQTT 5",
                    )));
                    return;
                }
                if !self.options.session.request_response_information {
                    // Known now, unless the server is to assign it.
                    let client_id = self.session.client_id();
                    if !client_id.is_empty() {
                        self.responses.set_topic(client_id, None);
                    }
                }
                if let Some(filter) = self.responses.register(now, timeout, ready, answer) {
                    self.ask_for_responses(now, filter);
                }
            }
            Command::Reauthenticate(reply) => {
                self.auth.reauthenticate(now, &mut self.session, reply);
            }
            Command::Reconnect => {
                if !self.disconnecting && self.disconnect.is_none() {
                    self.session.reconnect(now);
                }
            }
            Command::Disconnect(reply) => {
                if self.finished {
                    let _ = reply.send(Ok(()));
                    return;
                }
                // What readers took before the application disconnected is acknowledged
                // before the DISCONNECT: their wake-up may still be on its way, behind this
                // command.
                self.settle(now);
                self.disconnect = Some((reply, now + self.options.disconnect_timeout));
                self.maybe_disconnect(now);
            }
        }
    }

    /// Subscribes to the response topic of [`Client::request`].
    fn ask_for_responses(&mut self, now: Instant, filter: SubscribeFilter) {
        match self
            .session
            .subscribe(now, vec![filter], SubscribeProperties::default())
        {
            Ok((id, _)) => self.responses.asked(id),
            Err(e) => self.responses.ask_failed(&e.into()),
        }
    }

    /// Whether the loop should take more commands: not while publishes wait for room in the
    /// session (backpressure reaches the callers through the bounded command channel).
    pub fn accepts_commands(&self) -> bool {
        self.held.is_empty()
    }

    /// Hands waiting publishes to the session, in order, while it has room.
    fn publish_held(&mut self, now: Instant) {
        while !self.held.is_empty() && self.session.can_publish() {
            let Some(completer) = self.held.pop_front() else {
                return;
            };
            let Some(message) = completer.take_message() else {
                continue;
            };
            let (qos, size) = (message.qos, message.payload.len());
            match self.session.publish(now, message) {
                Ok(t) => {
                    self.stats.message_sent(qos, size);
                    match self.store.as_mut().filter(|_| qos != QoS::AtMostOnce) {
                        // Accepted once it is on disk (see `saved`).
                        Some(p) => p.took(t.id, t.packet_id),
                        None => completer.accept(t.id, t.packet_id),
                    }
                    self.publishes.insert(t.id, completer);
                }
                Err(e) => completer.complete(Err(e.into())),
            }
        }
    }

    /// Stops feeding a stream, and unsubscribes from the filters no other stream uses.
    fn unsubscribe(&mut self, now: Instant, stream: u64, reply: Option<Reply<Vec<ReasonCode>>>) {
        // What waited for this reader counts as taken.
        let Some(filters) = self.routing.remove_stream(stream) else {
            if let Some(reply) = reply {
                let _ = reply.send(Ok(Vec::new()));
            }
            return;
        };
        self.settle(now);
        if filters.is_empty() || self.finished {
            if let Some(reply) = reply {
                let _ = reply.send(Ok(Vec::new()));
            }
            return;
        }
        match self.session.unsubscribe(now, filters, Default::default()) {
            Ok(request) => {
                if let Some(reply) = reply {
                    self.requests.unsubscribing(request, reply);
                }
            }
            Err(e) => {
                if let Some(reply) = reply {
                    let _ = reply.send(Err(e.into()));
                }
            }
        }
    }

    /// Stops feeding a stream some of its filters, and unsubscribes from those no other
    /// stream uses.
    fn unsubscribe_filters(
        &mut self,
        now: Instant,
        stream: u64,
        filters: Vec<TopicFilter>,
        reply: Reply<Vec<UnsubscribeResult>>,
    ) {
        let still_used = self.routing.remove_filters(stream, &filters);
        self.settle(now);
        let send: Vec<TopicFilter> = filters
            .into_iter()
            .zip(&still_used)
            .filter(|(_, &used)| !used)
            .map(|(f, _)| f)
            .collect();
        let request = if send.is_empty() || self.finished {
            None
        } else {
            match self.session.unsubscribe(now, send, Default::default()) {
                Ok(request) => Some(request),
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                    return;
                }
            }
        };
        self.requests
            .unsubscribing_filters(request, reply, &still_used);
    }

    /// Turns the session's events into deliveries, completions and connection events; returns
    /// whether there were any (acknowledgements they caused may be due for transmission).
    pub fn dispatch(&mut self, now: Instant) -> bool {
        self.settle(now);
        if !self.held.is_empty() {
            self.publish_held(now);
        }
        let mut any = false;
        while let Some(event) = self.auth.next_event(&mut self.session) {
            any = true;
            match event {
                Event::Connected(c) => {
                    tracing::info!(
                        server = self.server_index(),
                        session_present = c.session_present,
                        receive_maximum = c.limits.receive_maximum,
                        "connected"
                    );
                    self.ever_connected = true;
                    self.stats.connected();
                    self.responses.set_topic(
                        c.client_id.as_str(),
                        c.properties.response_information.as_deref(),
                    );
                    if let Some(filter) = self.responses.filter() {
                        self.ask_for_responses(now, filter);
                    }
                    let _ = self.events.force_send(ConnectionEvent::Connected {
                        server: self.server_index(),
                        session_present: c.session_present,
                        limits: Box::new(c.limits),
                    });
                }
                Event::Message(m) if self.responses.is_response(&m) => {
                    self.stats
                        .message_received(m.publish.qos(), m.publish.payload.len());
                    if let Some(token) = m.ack_token {
                        let _ = self.session.ack(now, token);
                    }
                    self.responses.answer(m);
                }
                Event::Message(m) => {
                    self.stats
                        .message_received(m.publish.qos(), m.publish.payload.len());
                    self.routing.deliver(&self.session, m);
                    self.ack_due(now);
                }
                Event::PublishCompleted {
                    id,
                    packet_id,
                    reason_code,
                } => {
                    self.stats.publish_completed();
                    if let Some(completer) = self.publishes.remove(&id) {
                        completer.complete(Ok(PublishDone {
                            id,
                            packet_id,
                            reason_code,
                        }));
                    }
                }
                Event::PublishFailed { id, reason, .. } => {
                    tracing::debug!(?id, ?reason, "publish failed");
                    self.stats.publish_failed();
                    if let Some(completer) = self.publishes.remove(&id) {
                        completer.complete(Err(ClientError::PublishFailed(reason)));
                    }
                }
                Event::Subscribed {
                    id,
                    keys,
                    results,
                    resubscribe,
                } => {
                    if resubscribe {
                        tracing::info!(?results, "resubscribed: the server had lost the session");
                        let _ = self
                            .events
                            .force_send(ConnectionEvent::Resubscribed(results));
                        continue;
                    }
                    let granted = results.iter().all(|r| r.is_ok());
                    let refused = || {
                        ClientError::SubscribeFailed(
                            results.iter().filter_map(|r| r.err()).collect(),
                        )
                    };
                    if self.responses.subscribed(id, granted, &refused()) {
                        continue;
                    }
                    self.requests
                        .subscribed(&mut self.routing, id, &keys, results);
                }
                Event::Unsubscribed { id, results } => {
                    let version = self.session.protocol_version();
                    self.requests.unsubscribed(id, version, results);
                }
                Event::Disconnected(reason) => {
                    tracing::info!(?reason, "disconnected");
                    self.stats.disconnected(&reason);
                    if matches!(
                        reason,
                        DisconnectReason::KeepAliveTimeout | DisconnectReason::ConnAckTimeout
                    ) {
                        self.abandon_writes = true;
                    }
                    self.follow_redirect(&reason);
                    let _ = self
                        .events
                        .force_send(ConnectionEvent::Disconnected(reason));
                }
                Event::ReconnectScheduled { delay, attempt } => {
                    tracing::debug!(?delay, attempt, "reconnecting after a delay");
                    let _ = self
                        .events
                        .force_send(ConnectionEvent::Reconnecting { delay, attempt });
                }
                Event::ReconnectStopped(stop) => {
                    // The session connects again only after `Client::reconnect`.
                    tracing::warn!(%stop, "not reconnecting");
                    let _ = self
                        .events
                        .force_send(ConnectionEvent::ReconnectStopped(stop));
                }
                Event::AuthChallenge { .. } => {}
            }
        }
        self.maybe_disconnect(now);
        any
    }

    /// Hands the session the acknowledgements routing found due.
    fn ack_due(&mut self, now: Instant) {
        for token in self.routing.take_acks() {
            // An ack fails only for a token the session no longer knows (its connection's
            // session was lost): nothing is owed for it then.
            let _ = self.session.ack(now, token);
        }
    }

    /// Accounts for what readers took (acknowledgements, memory) and moves messages that
    /// waited for room.
    fn settle(&mut self, now: Instant) {
        self.routing.collect();
        self.ack_due(now);
    }

    /// A reader woke the loop (see [`Signals`]): it took messages.
    pub fn signalled(&mut self, now: Instant) {
        self.wake.clear();
        self.settle(now);
    }

    /// Whether the loop should stop reading the socket: the messages held for readers have
    /// spent the inbound budget ([`Options::inbound_budget`]). A reader that takes messages
    /// wakes the loop ([`Signals`]) to read again.
    pub fn reading_paused(&self) -> bool {
        self.routing.is_full()
    }

    /// v5 Server Reference on "use another server" / "server moved", in a CONNACK or a
    /// DISCONNECT: connect there next, unless following is off or it would loop (see
    /// [`crate::redirect`]). Reported either way.
    fn follow_redirect(&mut self, reason: &DisconnectReason) {
        let Some(configured) = self.options.servers.get(self.server_index()) else {
            return;
        };
        let follow = self.options.follow_server_reference;
        let (reference, followed) = match self.redirects.ended(reason, configured, follow) {
            Redirect::None => return,
            Redirect::Follow(reference) => {
                tracing::info!(%reference, "following the server's redirect");
                self.stats.redirected();
                (reference, true)
            }
            Redirect::Ignore {
                reference,
                why,
                next_server,
            } => {
                tracing::warn!(%reference, why, "not following the server's redirect");
                if next_server {
                    self.server = self.server.wrapping_add(1);
                }
                (reference, false)
            }
        };
        let _ = self.events.force_send(ConnectionEvent::Redirected {
            reference,
            followed,
        });
    }

    /// The granted QoS of the session's subscriptions (for tests and diagnostics).
    pub fn subscriptions(&self) -> Vec<(String, QoS)> {
        self.session
            .subscriptions()
            .map(|(_, f)| (f.filter.to_string(), f.options.qos))
            .collect()
    }
}

/// A v3.1.1 CONNACK accepting a new session, for the tests of a driver's turns.
#[cfg(test)]
fn connack(buf: &mut BytesMut) {
    use mqtt_proto::{ConnAck, Packet, ProtocolVersion};
    Packet::ConnAck(Box::new(ConnAck {
        session_present: false,
        reason_code: ReasonCode::Success,
        properties: Default::default(),
    }))
    .encode(ProtocolVersion::V311, buf)
    .unwrap();
}

#[cfg(test)]
mod disconnect {
    use super::{Driver, Step};
    use crate::Options;
    use bytes::BytesMut;
    use mqtt_proto::ProtocolVersion;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};
    use std::time::{Duration, Instant};

    /// `disconnect` resolves only after the loop has written the DISCONNECT and closed the
    /// transport (after reading until the server closed, within the disconnect timeout), not
    /// as soon as the DISCONNECT is encoded: a client that connects again with the same id
    /// right after would otherwise race the old connection's last packets to the server.
    #[test]
    fn disconnect_resolves_once_the_transport_is_closed() {
        let options = Options::new("mqtt://127.0.0.1:1883", "linger")
            .unwrap()
            .protocol_version(ProtocolVersion::V311);
        let pair = Driver::client_pair(options, 4, Instant::now()).unwrap();
        let (client, mut driver, rx) = (pair.client, pair.driver, pair.commands);
        let now = Instant::now();
        let mut tx = BytesMut::new();
        assert_eq!(driver.linger_until(), None);
        driver.connected(now);
        assert_eq!(driver.step(now, true, &mut tx), Step::Wait);
        assert!(!tx.is_empty(), "CONNECT");
        tx.clear();
        let mut connack = BytesMut::new();
        super::connack(&mut connack);
        driver.read(now, &mut connack);
        assert_eq!(driver.step(now, true, &mut tx), Step::Wait);

        let mut cx = Context::from_waker(Waker::noop());
        let mut done = pin!(client.disconnect());
        assert!(done.as_mut().poll(&mut cx).is_pending());
        let command = rx.try_recv().unwrap();
        driver.commands(now, command, &rx);
        assert_eq!(driver.step(now, true, &mut tx), Step::Wait);
        assert_eq!(&tx[..], [0xE0, 0x00], "DISCONNECT, not yet written");
        assert!(done.as_mut().poll(&mut cx).is_pending());

        tx.clear(); // written
        assert_eq!(driver.step(now, true, &mut tx), Step::Close);
        assert!(done.as_mut().poll(&mut cx).is_pending(), "still open");
        let linger = driver.linger_until().unwrap();
        assert!(linger > now && linger <= now + Duration::from_secs(5));

        driver.closed_by_us(now);
        assert!(
            done.as_mut().poll(&mut cx).is_pending(),
            "the loop has not stepped"
        );
        assert_eq!(driver.step(now, false, &mut tx), Step::Stop);
        assert!(matches!(done.as_mut().poll(&mut cx), Poll::Ready(Ok(()))));
    }
}

#[cfg(test)]
mod save {
    use super::{connack, Driver, Step};
    use crate::client::Command;
    use crate::persistence::{SAVE_BUF_KEEP, SAVE_WINDOW};
    use crate::queue::Receiver;
    use crate::{Client, ConnectionEvent, Options, Store};
    use bytes::BytesMut;
    use mqtt_proto::{ProtocolVersion, QoS, TopicName};
    use mqtt_session::OutboundMessage;
    use std::future::Future;
    use std::io;
    use std::pin::pin;
    use std::sync::atomic::{AtomicU8, Ordering};
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll, Waker};
    use std::time::Instant;

    const WORKS: u8 = 0;
    const FAILS: u8 = 1;
    const PANICS: u8 = 2;

    /// A store in memory that works, fails or panics, as told.
    #[derive(Debug, Clone, Default)]
    struct Memory(Arc<(Mutex<Vec<u8>>, AtomicU8)>);

    impl Memory {
        fn held(&self) -> usize {
            self.0 .0.lock().unwrap().len()
        }
        fn set(&self, mode: u8) {
            self.0 .1.store(mode, Ordering::Relaxed);
        }
        fn write(&self, bytes: &[u8], replace: bool) -> io::Result<()> {
            match self.0 .1.load(Ordering::Relaxed) {
                FAILS => return Err(io::Error::other("disk full")),
                PANICS => panic!("a store that panics"),
                _ => {}
            }
            let mut held = self.0 .0.lock().unwrap();
            if replace {
                held.clear();
            }
            held.extend_from_slice(bytes);
            Ok(())
        }
    }

    impl Store for Memory {
        fn load(&self) -> io::Result<Option<Vec<u8>>> {
            Ok(None)
        }
        fn save(&self, bytes: &[u8]) -> io::Result<()> {
            self.write(bytes, true)
        }
        fn append(&self, bytes: &[u8]) -> io::Result<()> {
            self.write(bytes, false)
        }
    }

    /// A client and its driver, with `store`.
    fn start(store: &Memory, id: &str) -> (Client, Driver, Receiver<Command>) {
        let options = Options::new("mqtt://127.0.0.1:1883", id)
            .unwrap()
            .protocol_version(ProtocolVersion::V311)
            .clean_start(false)
            .store(store.clone());
        let pair = Driver::client_pair(options, 8, Instant::now()).unwrap();
        (pair.client, pair.driver, pair.commands)
    }

    /// `client.publish_message(message)`, taken by the driver.
    fn take_publish(
        client: &Client,
        driver: &mut Driver,
        rx: &Receiver<Command>,
        now: Instant,
        message: OutboundMessage,
    ) {
        let mut queued = pin!(client.publish_message(message));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(matches!(queued.as_mut().poll(&mut cx), Poll::Ready(Ok(_))));
        driver.commands(now, rx.try_recv().unwrap(), rx);
    }

    /// The outputs of a turn that changed the session wait in `tx` until the loop has run the
    /// store write (`Step::Save`, then `saved`); a write that fails, or a store that panics,
    /// drops them and closes the connection, with `StoreFailed`; the next write is the whole
    /// journal again.
    #[test]
    fn outputs_wait_for_the_store_and_a_failed_write_closes() {
        let store = Memory::default();
        let (client, mut driver, rx) = start(&store, "saver");
        let now = Instant::now();
        let mut tx = BytesMut::new();
        driver.connected(now);
        assert_eq!(driver.step(now, true, &mut tx), Step::Save);
        assert!(!tx.is_empty(), "the CONNECT waits for the save");
        assert_eq!(driver.step(now, true, &mut tx), Step::Save, "not run yet");
        let job = driver.take_save().unwrap();
        assert!(driver.take_save().is_none(), "one write at a time");
        assert_eq!(store.held(), 0);
        let first = job.len();
        driver.saved(job.run());
        assert_eq!(store.held(), first, "the whole journal");
        assert_eq!(driver.step(now, true, &mut tx), Step::Wait);
        assert!(!tx.is_empty(), "the CONNECT is still there to write");
        tx.clear();
        let mut input = BytesMut::new();
        connack(&mut input);
        driver.read(now, &mut input);
        assert_eq!(
            driver.step(now, true, &mut tx),
            Step::Wait,
            "nothing to save"
        );

        // A QoS 2 publish the session took: appended before its PUBLISH may go out (sent
        // again after a crash that lost its packet identifier, it would be a new message).
        let message = |payload: &'static str, qos| {
            let topic = TopicName::new("saver/t").unwrap();
            OutboundMessage::new(topic, payload, qos)
        };
        take_publish(
            &client,
            &mut driver,
            &rx,
            now,
            message("one", QoS::ExactlyOnce),
        );
        assert_eq!(driver.step(now, true, &mut tx), Step::Save);
        assert!(!tx.is_empty(), "the PUBLISH waits for the save");
        let job = driver.take_save().unwrap();
        assert!(job.holds_output());
        let appended = job.len();
        driver.saved(job.run());
        assert_eq!(
            store.held(),
            first + appended,
            "the change alone is appended"
        );
        assert_eq!(driver.step(now, true, &mut tx), Step::Wait);
        tx.clear();

        // A QoS 1 publish goes out while the write that holds it runs (a crash may send it
        // twice, which QoS 1 allows); an output that depends on a change made meanwhile (a
        // QoS 2 publish) waits for that write and the next.
        take_publish(
            &client,
            &mut driver,
            &rx,
            now,
            message("fast", QoS::AtLeastOnce),
        );
        // The write waits a moment for more publishes (group commit); the PUBLISH does not.
        assert_eq!(driver.step(now, true, &mut tx), Step::Wait);
        assert!(!tx.is_empty(), "the QoS 1 PUBLISH goes out");
        tx.clear();
        assert_eq!(driver.next_deadline(), Some(now + SAVE_WINDOW));
        let now = now + SAVE_WINDOW;
        assert_eq!(driver.step(now, true, &mut tx), Step::Save);
        let running = driver.take_save().unwrap();
        assert!(!running.holds_output());
        assert_eq!(driver.step(now, true, &mut tx), Step::Wait);
        take_publish(
            &client,
            &mut driver,
            &rx,
            now,
            message("slow", QoS::ExactlyOnce),
        );
        assert_eq!(driver.step(now, true, &mut tx), Step::Save);
        assert!(driver.take_save().is_none(), "one write at a time");
        let held = store.held();
        driver.saved(running.run());
        assert!(store.held() > held);
        assert_eq!(driver.step(now, true, &mut tx), Step::Save);
        let job = driver.take_save().unwrap();
        assert!(job.holds_output(), "the QoS 2 PUBLISH waits for this one");
        driver.saved(job.run());
        assert_eq!(driver.step(now, true, &mut tx), Step::Wait);
        assert!(!tx.is_empty());
        tx.clear();

        // A write that fails: nothing of this turn is written, the connection closes.
        for mode in [FAILS, PANICS] {
            store.set(mode);
            take_publish(
                &client,
                &mut driver,
                &rx,
                now,
                message("two", QoS::ExactlyOnce),
            );
            assert_eq!(driver.step(now, true, &mut tx), Step::Save);
            let saved = driver.take_save().unwrap().run();
            assert_eq!(saved.is_none(), mode == PANICS);
            driver.saved(saved);
            assert_eq!(driver.step(now, true, &mut tx), Step::Close);
            assert!(tx.is_empty(), "what depended on the save is dropped");
            let mut cx = Context::from_waker(Waker::noop());
            let mut event = pin!(client.next_event());
            let failed = loop {
                match event.as_mut().poll(&mut cx) {
                    Poll::Ready(Some(ConnectionEvent::StoreFailed(why))) => break why,
                    Poll::Ready(Some(_)) => event.set(client.next_event()),
                    other => panic!("no StoreFailed event: {other:?}"),
                }
            };
            assert!(failed.contains(if mode == FAILS {
                "disk full"
            } else {
                "panicked"
            }));
            driver.closed_by_us(now);
            store.set(WORKS);
            assert_eq!(driver.step(now, false, &mut tx), Step::Save);
            let job = driver.take_save().unwrap();
            let whole = job.len();
            assert!(
                whole > first,
                "the whole journal again, the publishes in it"
            );
            driver.saved(job.run());
            assert_eq!(store.held(), whole, "written whole, not appended");
            assert_eq!(driver.step(now, false, &mut tx), Step::Wait);
            driver.connected(now);
            assert_eq!(driver.step(now, true, &mut tx), Step::Wait);
            assert!(!tx.is_empty(), "CONNECT");
            tx.clear();
            let mut input = BytesMut::new();
            connack(&mut input);
            driver.read(now, &mut input);
            // The resumed session sends the pending publishes again (after saving that it
            // did, if that changed anything).
            loop {
                match driver.step(now, true, &mut tx) {
                    Step::Save => {
                        let job = driver.take_save().unwrap();
                        driver.saved(job.run());
                    }
                    Step::Wait => break,
                    other => panic!("{other:?}"),
                }
            }
            tx.clear();
        }
    }

    /// With a store, a QoS 1/2 publish is accepted (its `PublishHandle::accepted` resolves)
    /// only once the write that holds it is done:
    /// several publishes taken in one turn share that write. A write that fails accepts none of
    /// them; the whole journal written next does. QoS 0 is accepted at once (it is not kept).
    #[test]
    fn publishes_are_accepted_once_they_are_on_disk() {
        let store = Memory::default();
        let (client, mut driver, rx) = start(&store, "durable");
        let now = Instant::now();
        let mut tx = BytesMut::new();
        let mut cx = Context::from_waker(Waker::noop());
        let message = |qos| OutboundMessage::new(TopicName::new("durable/t").unwrap(), "x", qos);
        let mut queued = Vec::new();
        for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce, QoS::AtMostOnce] {
            let mut publish = pin!(client.publish_message(message(qos)));
            match publish.as_mut().poll(&mut cx) {
                Poll::Ready(Ok(completion)) => queued.push(completion),
                other => panic!("{other:?}"),
            }
        }
        driver.commands(now, rx.try_recv().unwrap(), &rx);
        // A publish waited for until accepted: not before it is on disk.
        let mut handed = pin!(async {
            let mut handle = client.publish_message(message(QoS::AtLeastOnce)).await?;
            handle.accepted().await
        });
        assert!(handed.as_mut().poll(&mut cx).is_pending());
        driver.commands(now, rx.try_recv().unwrap(), &rx);
        assert!(
            handed.as_mut().poll(&mut cx).is_pending(),
            "not on disk yet"
        );
        let accepted = |queued: &mut Vec<crate::PublishHandle>| -> Vec<bool> {
            let mut cx = Context::from_waker(Waker::noop());
            queued
                .iter_mut()
                .map(|c| pin!(c.accepted()).poll(&mut cx).is_ready())
                .collect()
        };
        assert_eq!(accepted(&mut queued), [false, false, true], "QoS 0 at once");
        assert_eq!(driver.step(now, false, &mut tx), Step::Save);
        store.set(FAILS);
        let job = driver.take_save().unwrap();
        driver.saved(job.run());
        assert_eq!(accepted(&mut queued), [false, false, true], "not on disk");
        let _ = driver.step(now, false, &mut tx);
        store.set(WORKS);
        assert_eq!(driver.step(now, false, &mut tx), Step::Save);
        let job = driver.take_save().unwrap();
        assert_eq!(accepted(&mut queued), [false, false, true], "being written");
        driver.saved(job.run());
        assert_eq!(
            accepted(&mut queued),
            [true, true, true],
            "one write for all"
        );
        assert!(handed.as_mut().poll(&mut cx).is_ready(), "on disk");
    }

    /// The buffer a write used is kept for the next one, unless it grew large: a whole journal
    /// with a big message in it is not held for the small appends after it.
    #[test]
    fn a_large_write_buffer_is_not_kept() {
        let store = Memory::default();
        let (client, mut driver, rx) = start(&store, "big");
        let now = Instant::now();
        let mut tx = BytesMut::new();
        let kept = |driver: &Driver| driver.store.as_ref().unwrap().kept_buffer();
        assert_eq!(driver.step(now, false, &mut tx), Step::Save);
        let job = driver.take_save().unwrap();
        let small = job.len();
        driver.saved(job.run());
        assert!(kept(&driver) >= small, "kept for the next write");

        let topic = TopicName::new("big/t").unwrap();
        let payload = vec![7u8; 2 * SAVE_BUF_KEEP];
        let message = OutboundMessage::new(topic, payload, QoS::AtLeastOnce);
        take_publish(&client, &mut driver, &rx, now, message);
        assert_eq!(driver.step(now, false, &mut tx), Step::Wait, "group commit");
        let now = now + SAVE_WINDOW;
        assert_eq!(driver.step(now, false, &mut tx), Step::Save);
        let job = driver.take_save().unwrap();
        assert!(job.len() > SAVE_BUF_KEEP);
        driver.saved(job.run());
        assert!(
            store.held() >= small + 2 * SAVE_BUF_KEEP,
            "the message is in the store"
        );
        assert_eq!(kept(&driver), 0, "let go");
    }
}
