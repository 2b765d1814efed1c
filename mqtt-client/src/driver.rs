//! The bookkeeping every driver loop shares, whatever the runtime: it owns the `Session`,
//! answers the `Client`'s commands, routes messages to subscription streams, completes publish
//! handles, picks the server to connect to, and turns session events into connection events.
//! A driver only moves bytes and time: see the loop in `mqtt-tokio` or `mqtt-smol`.

use bytes::BytesMut;
use futures_channel::oneshot;
use mqtt_proto::{DisconnectProperties, QoS, ReasonCode, TopicFilter};
use mqtt_session::{
    ConfigError, DisconnectReason, Event, PublishId, RequestId, Session, State, SubscriptionKey,
};
use std::collections::HashMap;
use std::time::Instant;

use crate::client::{
    ClientError, Command, ConnectionEvent, Message, PublishDone, Subscription, SubscriptionSink,
};
use crate::options::{Options, Server};

/// A subscription stream the connection task feeds.
#[derive(Debug)]
struct Stream {
    keys: Vec<SubscriptionKey>,
    filters: Vec<TopicFilter>,
    sink: SubscriptionSink,
}

type Reply<T> = oneshot::Sender<Result<T, ClientError>>;

/// The runtime-agnostic part of a connection task.
#[derive(Debug)]
pub struct Driver {
    session: Session<Instant>,
    options: Options,
    // Weak: the task must notice when every client and subscription is gone.
    commands: async_channel::WeakSender<Command>,
    events: async_channel::Sender<ConnectionEvent>,
    publishes: HashMap<PublishId, Reply<PublishDone>>,
    subscribes: HashMap<RequestId, (Reply<Subscription>, Subscription, u64)>,
    unsubscribes: HashMap<RequestId, Reply<Vec<ReasonCode>>>,
    streams: HashMap<u64, Stream>,
    routes: HashMap<SubscriptionKey, u64>,
    disconnect: Option<(Reply<()>, Instant)>,
    disconnecting: bool,
    finished: bool,
    server: usize,
    redirect: Option<Server>,
    ever_connected: bool,
    /// Messages no stream took yet (a resumed session delivers before the application has
    /// subscribed again); a new subscription picks up those it matches.
    unrouted: std::collections::VecDeque<mqtt_session::Message>,
}

impl Driver {
    /// A driver for `options`; `commands` is the sending side of the client's command channel
    /// (handed to subscriptions), `events` where connection events go.
    pub fn new(
        options: Options,
        commands: async_channel::Sender<Command>,
        events: async_channel::Sender<ConnectionEvent>,
    ) -> Result<Driver, ConfigError> {
        Ok(Driver {
            session: Session::new(options.session.clone())?,
            options,
            commands: commands.downgrade(),
            events,
            publishes: HashMap::new(),
            subscribes: HashMap::new(),
            unsubscribes: HashMap::new(),
            streams: HashMap::new(),
            routes: HashMap::new(),
            disconnect: None,
            disconnecting: false,
            finished: false,
            server: 0,
            redirect: None,
            ever_connected: false,
            unrouted: std::collections::VecDeque::new(),
        })
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
        if let Some(server) = &self.redirect {
            return Some((self.server, server.clone()));
        }
        let index = self.server % self.options.servers.len().max(1);
        self.options.servers.get(index).map(|s| (index, s.clone()))
    }

    /// The transport to the server is up.
    pub fn connected(&mut self, now: Instant) {
        self.session.handle_connected(now);
    }

    /// A connection attempt failed before MQTT began: try the next server after the backoff.
    pub fn connect_failed(&mut self, now: Instant, error: String) {
        let _ = self.events.force_send(ConnectionEvent::ConnectFailed {
            server: self.server,
            error,
        });
        self.redirect = None;
        self.server = self.server.wrapping_add(1);
        self.session.handle_closed(now);
    }

    /// The transport closed or failed.
    pub fn closed(&mut self, now: Instant) {
        let was_connected = self.session.is_connected();
        self.session.handle_closed(now);
        if !was_connected && !self.ever_connected {
            self.server = self.server.wrapping_add(1);
        }
    }

    /// Bytes arrived.
    pub fn read(&mut self, now: Instant, buf: &mut BytesMut) {
        self.session.handle_read(now, buf);
    }

    /// Time passed: the session's deadlines, and the graceful-disconnect deadline.
    pub fn timeout(&mut self, now: Instant) {
        self.session.handle_timeout(now);
        self.maybe_disconnect(now);
    }

    /// The next instant the loop must wake up at.
    pub fn next_deadline(&self) -> Option<Instant> {
        let disconnect = self.disconnect.as_ref().map(|(_, at)| *at);
        match (self.session.poll_timeout(), disconnect) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
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
        if self.disconnecting && self.session.state() == State::Idle {
            self.finish(Ok(()));
        }
        total
    }

    /// The last `Client` is gone: disconnect gracefully and stop.
    pub fn clients_gone(&mut self, now: Instant) {
        if self.disconnect.is_none() && !self.disconnecting {
            let (reply, _) = oneshot::channel();
            self.disconnect = Some((reply, now + self.options.disconnect_timeout));
            self.maybe_disconnect(now);
        }
    }

    fn finish(&mut self, result: Result<(), ClientError>) {
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

    /// A command from a client.
    pub fn command(&mut self, now: Instant, command: Command) {
        match command {
            Command::Publish {
                message,
                ticket,
                done,
            } => {
                if self.disconnecting || self.disconnect.is_some() {
                    let _ = ticket.send(Err(ClientError::Session(mqtt_session::Error::Closing)));
                    return;
                }
                match self.session.publish(now, message) {
                    Ok(t) => {
                        let _ = ticket.send(Ok((t.id, t.packet_id)));
                        self.publishes.insert(t.id, done);
                    }
                    Err(e) => {
                        let _ = ticket.send(Err(e.into()));
                    }
                }
            }
            Command::Subscribe {
                filters,
                properties,
                reply,
            } => {
                let filter_names: Vec<TopicFilter> =
                    filters.iter().map(|f| f.filter.clone()).collect();
                let Some(commands) = self.commands.upgrade() else {
                    let _ = reply.send(Err(ClientError::Closed));
                    return;
                };
                match self.session.subscribe(now, filters, properties) {
                    Ok((request, keys)) => {
                        let (subscription, sink) = Subscription::channel(
                            self.options.subscription_capacity,
                            commands,
                            Vec::new(),
                        );
                        let stream = subscription.stream_id();
                        for key in &keys {
                            self.routes.insert(*key, stream);
                        }
                        self.streams.insert(
                            stream,
                            Stream {
                                keys,
                                filters: filter_names,
                                sink,
                            },
                        );
                        self.subscribes
                            .insert(request, (reply, subscription, stream));
                        // Messages that arrived for no stream and match this one are its.
                        let held = std::mem::take(&mut self.unrouted);
                        for message in held {
                            self.deliver(now, message);
                        }
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e.into()));
                    }
                }
            }
            Command::Unsubscribe { stream, reply } => self.unsubscribe(now, stream, reply),
            Command::Ack(token, reply) => {
                let _ = reply.send(self.session.ack(now, token).map_err(Into::into));
            }
            Command::Disconnect(reply) => {
                if self.finished {
                    let _ = reply.send(Ok(()));
                    return;
                }
                self.disconnect = Some((reply, now + self.options.disconnect_timeout));
                self.maybe_disconnect(now);
            }
        }
    }

    /// Stops feeding a stream, and unsubscribes from the filters no other stream uses.
    fn unsubscribe(&mut self, now: Instant, stream: u64, reply: Option<Reply<Vec<ReasonCode>>>) {
        let Some(old) = self.streams.remove(&stream) else {
            if let Some(reply) = reply {
                let _ = reply.send(Ok(Vec::new()));
            }
            return;
        };
        for key in &old.keys {
            self.routes.remove(key);
        }
        let still_used = |f: &TopicFilter| self.streams.values().any(|s| s.filters.contains(f));
        let filters: Vec<TopicFilter> =
            old.filters.into_iter().filter(|f| !still_used(f)).collect();
        if filters.is_empty() || self.finished {
            if let Some(reply) = reply {
                let _ = reply.send(Ok(Vec::new()));
            }
            return;
        }
        match self.session.unsubscribe(now, filters, Default::default()) {
            Ok(request) => {
                if let Some(reply) = reply {
                    self.unsubscribes.insert(request, reply);
                }
            }
            Err(e) => {
                if let Some(reply) = reply {
                    let _ = reply.send(Err(e.into()));
                }
            }
        }
    }

    /// Turns the session's events into deliveries, completions and connection events.
    pub fn dispatch(&mut self, now: Instant) {
        while let Some(event) = self.session.poll_event() {
            match event {
                Event::Connected(c) => {
                    self.ever_connected = true;
                    let _ = self.events.force_send(ConnectionEvent::Connected {
                        server: self.server,
                        session_present: c.session_present,
                        limits: c.limits,
                    });
                }
                Event::Message(m) => self.deliver(now, m),
                Event::PublishCompleted {
                    id,
                    packet_id,
                    reason_code,
                } => {
                    if let Some(reply) = self.publishes.remove(&id) {
                        let _ = reply.send(Ok(PublishDone {
                            id,
                            packet_id,
                            reason_code,
                        }));
                    }
                }
                Event::PublishFailed { id, reason, .. } => {
                    if let Some(reply) = self.publishes.remove(&id) {
                        let _ = reply.send(Err(ClientError::PublishFailed(reason)));
                    }
                }
                Event::Subscribed {
                    id,
                    keys,
                    results,
                    resubscribe,
                } => {
                    if resubscribe {
                        let _ = self
                            .events
                            .force_send(ConnectionEvent::Resubscribed(results));
                        continue;
                    }
                    let Some((reply, mut subscription, stream)) = self.subscribes.remove(&id)
                    else {
                        continue;
                    };
                    let refused: Vec<ReasonCode> = results.iter().filter_map(|r| r.err()).collect();
                    if refused.is_empty() {
                        subscription.set_granted(results.iter().filter_map(|r| r.ok()).collect());
                        if let Err(Ok(subscription)) = reply.send(Ok(subscription)) {
                            // Nobody waits any more: the dropped stream unsubscribes.
                            drop(subscription);
                        }
                    } else {
                        for key in keys {
                            self.routes.remove(&key);
                        }
                        let _ = reply.send(Err(ClientError::SubscribeFailed(refused)));
                        // Unsubscribe whatever was granted; the stream goes with the command.
                        drop(subscription);
                        let _ = stream;
                    }
                }
                Event::Unsubscribed { id, results } => {
                    if let Some(reply) = self.unsubscribes.remove(&id) {
                        let _ = reply.send(Ok(results));
                    }
                }
                Event::Disconnected(reason) => {
                    self.follow_redirect(&reason);
                    let _ = self
                        .events
                        .force_send(ConnectionEvent::Disconnected(reason));
                }
                Event::ReconnectScheduled { delay, attempt } => {
                    let _ = self
                        .events
                        .force_send(ConnectionEvent::Reconnecting { delay, attempt });
                }
                Event::AuthChallenge { .. } => {}
            }
        }
        self.maybe_disconnect(now);
    }

    fn deliver(&mut self, now: Instant, message: mqtt_session::Message) {
        let keys: Vec<SubscriptionKey> = self.session.route(&message.publish).collect();
        let mut delivered = false;
        let mut streams: Vec<u64> = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(&stream) = self.routes.get(&key) {
                if !streams.contains(&stream) {
                    streams.push(stream);
                }
            }
        }
        for stream in streams {
            if let Some(s) = self.streams.get_mut(&stream) {
                delivered |= s.sink.deliver(Message {
                    publish: message.publish.clone(),
                    ack_token: message.ack_token,
                });
            }
        }
        // A message no stream took waits (bounded) for a subscription that matches it; one
        // nobody can acknowledge must not hold up the server's quota of unacknowledged
        // messages, so it is acknowledged when it is given up.
        if !delivered {
            if self.unrouted.len() >= self.options.subscription_capacity.max(1) {
                if let Some(old) = self.unrouted.pop_front() {
                    if let Some(token) = old.ack_token {
                        let _ = self.session.ack(now, token);
                    }
                }
            }
            self.unrouted.push_back(message);
        }
    }

    /// v5 Server Reference on "use another server" / "server moved": connect there next.
    fn follow_redirect(&mut self, reason: &DisconnectReason) {
        if !self.options.follow_server_reference {
            return;
        }
        let DisconnectReason::Server(code, props) = reason else {
            return;
        };
        if !matches!(code, ReasonCode::UseAnotherServer | ReasonCode::ServerMoved) {
            return;
        }
        let Some(reference) = props.server_reference.as_ref() else {
            return;
        };
        let current = self
            .options
            .servers
            .get(self.server % self.options.servers.len().max(1))
            .cloned();
        let Some(mut server) = current else { return };
        // "host[:port]" (the first of a space-separated list).
        let first = reference.split_whitespace().next().unwrap_or_default();
        let (host, port) = match first.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().unwrap_or(server.port)),
            None => (first.to_string(), server.port),
        };
        if host.is_empty() {
            return;
        }
        server.host = host;
        server.port = port;
        let _ = self
            .events
            .force_send(ConnectionEvent::Redirected(first.to_string()));
        self.redirect = Some(server);
    }

    /// The granted QoS of the session's subscriptions (for tests and diagnostics).
    pub fn subscriptions(&self) -> Vec<(String, QoS)> {
        self.session
            .subscriptions()
            .map(|(_, f)| (f.filter.to_string(), f.options.qos))
            .collect()
    }
}
