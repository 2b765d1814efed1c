//! The `Session`: composes the parts below it (packet ids, outbound queue, inbound state,
//! aliases, subscriptions, timers, backoff) into the client's protocol state machine.
//!
//! This file holds the state and the getters; each file below holds the inputs, commands and
//! rules of one concern, as `impl Session` blocks over the same state.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use bytes::Bytes;
use core::time::Duration;
use mqtt_proto::{
    Auth, Decoder, Disconnect, MqttString, PacketId, PacketType, ProtocolVersion, Publish,
    PublishProperties, QoS, ReasonCode, Role, SubscribeFilter, TopicName,
};

use crate::alias::{InboundAliases, OutboundAliases};
use crate::config::Config;
use crate::event::{ConfigError, Event, ServerLimits, SubscriptionKey};
use crate::ids::PacketIds;
use crate::inbound::Inbound;
use crate::outbound::Outbound;
use crate::reconnect::Reconnect;
use crate::subscriptions::Subscriptions;
use crate::tables::{cap_u16, Growable, Tables};
use crate::time::{Instant, Timer, Timers};
use crate::version::Negotiation;

mod auth;
mod connect;
mod disconnect;
mod persistence;
mod publish;
mod read;
mod receive;
mod subscribe;
mod timers;
mod transmit;

/// Where the connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// No connection. [`Session::should_connect`] says when to open one.
    Idle,
    /// CONNECT is (to be) sent; CONNACK (or an AUTH step) is awaited.
    Connecting,
    /// CONNACK accepted the connection.
    Connected,
    /// The session ended the connection; its last bytes (a DISCONNECT) wait in
    /// [`Session::poll_transmit`], after which the state is `Idle` and the driver closes the
    /// transport.
    Closing,
}

/// A message to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundMessage {
    /// The topic.
    pub topic: TopicName,
    /// The payload.
    pub payload: Bytes,
    /// The QoS.
    pub qos: QoS,
    /// RETAIN.
    pub retain: bool,
    /// Properties (v5). Topic Alias is managed by the session and must be left unset;
    /// Subscription Identifiers are for servers only [MQTT-3.3.4-6].
    pub properties: PublishProperties,
}

impl OutboundMessage {
    /// A message without properties, not retained.
    pub fn new(topic: TopicName, payload: impl Into<Bytes>, qos: QoS) -> Self {
        OutboundMessage {
            topic,
            payload: payload.into(),
            qos,
            retain: false,
            properties: PublishProperties::default(),
        }
    }
}

/// A packet the session has decided to send that is not a PUBLISH or a PUBREL of the outbound
/// queue (those are written from the queue itself, in order).
#[derive(Debug, Clone)]
enum Control {
    Connect {
        clean_start: bool,
    },
    /// PUBACK, PUBREC, PUBREL (for an unknown id) or PUBCOMP.
    Ack(PacketType, PacketId, ReasonCode),
    PingReq,
    /// The last packet of a connection.
    Disconnect(Box<Disconnect>),
    Auth(Box<Auth>),
}

/// The client side of one MQTT session, over any number of connections. See the
/// [crate documentation](crate) for the method groups and the order a driver calls them in.
///
/// `T` says where the state that grows with traffic is kept: [`Growable`] heap tables (the
/// default), or fixed-capacity ones (`Bounded`, feature `bounded`; see
/// [`Session::with_tables`]).
#[derive(Debug)]
pub struct Session<I: Instant, T: Tables = Growable> {
    config: Config,
    client_id: MqttString,
    state: State,
    /// Whether the next CONNECT asks to resume the session (Clean Start 0).
    resumable: bool,
    /// Whether the CONNECT in flight asked for a clean start.
    clean_sent: bool,
    /// The application called `disconnect`: no reconnecting.
    user_closed: bool,
    /// The session ended the last connection itself (its transport may still be open): the
    /// close that follows is not a failed attempt.
    closed_by_session: bool,
    /// The client sent AUTH 0x19 Re-authenticate on this connection and the server has not
    /// ended the exchange yet: only then may an AUTH from the server come after CONNACK.
    reauthenticating: bool,
    /// The client started a re-authentication on this connection: the exchange of its
    /// CONNECT is over.
    reauthenticated: bool,
    timers: Timers<I>,
    decoder: Decoder,
    limits: ServerLimits,
    keep_alive: Duration,
    connected_at: Option<I>,
    ping_outstanding: bool,
    ids: PacketIds<T::PacketIds>,
    outbound: Outbound<I, T>,
    inbound: Inbound<T>,
    in_aliases: InboundAliases<T>,
    out_aliases: OutboundAliases<T>,
    subs: Subscriptions<T>,
    control: VecDeque<Control>,
    events: VecDeque<Event>,
    reconnect: Reconnect,
    publish_seq: u64,
    request_seq: u64,
    /// What the server's first answer says of the protocol versions it speaks.
    negotiation: Negotiation,
}

impl<I: Instant> Session<I> {
    /// A session that has not connected yet, with growable tables. Checks that the
    /// configuration makes a valid CONNECT.
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        Self::with_tables(config)
    }
}

impl<I: Instant, T: Tables> Session<I, T> {
    /// A session that has not connected yet, keeping its tables in `T`. Checks that the
    /// configuration makes a valid CONNECT.
    ///
    /// The configuration is fitted to the tables' capacities: the Receive Maximum and Topic
    /// Alias Maximum sent in CONNECT, the aliases the session assigns and
    /// [`Config::max_queued`] are at most what the tables hold ([`Session::config`] shows the
    /// values in use), so that the server never needs more room than there is
    /// [MQTT-3.3.4-9], [MQTT-3.3.2-9]. A capacity of zero inbound messages is a Receive
    /// Maximum of zero, which the configuration refuses.
    pub fn with_tables(mut config: Config) -> Result<Self, ConfigError> {
        config.receive_maximum = cap_u16(config.receive_maximum, T::INBOUND);
        config.topic_alias_maximum = cap_u16(config.topic_alias_maximum, T::ALIASES);
        config.outbound_topic_aliases = cap_u16(config.outbound_topic_aliases, T::ALIASES);
        config.max_queued = config.max_queued.min(T::OUTBOUND);
        if config.receive_maximum == 0 {
            return Err(ConfigError::ReceiveMaximumZero);
        }
        if config.transmit_buffer_limit == 0 {
            return Err(ConfigError::TransmitBufferLimitZero);
        }
        config
            .connect(&config.client_id, config.clean_start)
            .encoded_len(config.protocol_version)?;
        let decoder = Decoder::new(config.protocol_version, Role::Server)
            .with_max_packet_size(config.maximum_packet_size);
        Ok(Session {
            client_id: config.client_id.clone(),
            state: State::Idle,
            resumable: !config.clean_start,
            clean_sent: config.clean_start,
            user_closed: false,
            closed_by_session: false,
            reauthenticating: false,
            reauthenticated: false,
            timers: Timers::new(),
            decoder,
            limits: ServerLimits::v311(config.keep_alive),
            keep_alive: config.keep_alive,
            connected_at: None,
            ping_outstanding: false,
            ids: PacketIds::new(),
            outbound: Outbound::new(),
            inbound: Inbound::new(),
            in_aliases: InboundAliases::new(),
            out_aliases: OutboundAliases::new(),
            subs: Subscriptions::new(),
            control: VecDeque::new(),
            // One event is the common case; a queue that grew in a burst is given back once
            // the connection is quiet (see `give_back_burst_memory`).
            events: VecDeque::with_capacity(1),
            reconnect: Reconnect::new(config.random_seed),
            publish_seq: 0,
            request_seq: 0,
            negotiation: Negotiation::default(),
            config,
        })
    }

    // ----------------------------------------------------------------- getters

    /// Where the connection stands.
    pub fn state(&self) -> State {
        self.state
    }

    /// Whether a connection is up (CONNACK accepted it).
    pub fn is_connected(&self) -> bool {
        self.state == State::Connected
    }

    /// The protocol version spoken.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.config.protocol_version
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The client identifier in use (the server's assignment, once it made one).
    pub fn client_id(&self) -> &MqttString {
        &self.client_id
    }

    /// The server's limits of the current (or last) connection.
    pub fn server_limits(&self) -> &ServerLimits {
        &self.limits
    }

    /// QoS 1/2 publishes sent and not yet acknowledged on this connection.
    pub fn inflight(&self) -> usize {
        self.outbound.in_flight()
    }

    /// Publishes waiting to be sent (for a connection or for flow-control room).
    pub fn queued(&self) -> usize {
        self.outbound.queued()
    }

    /// QoS 1/2 messages received whose PUBACK or PUBREC has not been released yet (in
    /// manual-ack mode: the application has not acknowledged them, or one before them).
    pub fn acks_owed(&self) -> usize {
        self.inbound.owed()
    }

    /// Publishes not yet completed, of any stage.
    pub fn pending_publishes(&self) -> usize {
        self.outbound.len()
    }

    /// Whether a publish would be accepted now (queue room and a free Packet Identifier).
    pub fn can_publish(&self) -> bool {
        !self.user_closed
            && self.outbound.queued() < self.config.max_queued
            && !self.outbound.is_full()
            && self.ids.has_room()
    }

    /// Whether the session wants a new connection at `now`: it is idle, the application has not
    /// disconnected, reconnecting has not stopped ([`Event::ReconnectStopped`]), and any
    /// reconnect backoff is over.
    pub fn should_connect(&self, now: I) -> bool {
        self.state == State::Idle
            && !self.user_closed
            && !self.reconnect.is_stopped()
            && self.timers.get(Timer::Reconnect).is_none_or(|at| at <= now)
    }

    /// The subscriptions an inbound message belongs to: by Subscription Identifier when the
    /// PUBLISH carries them (v5), otherwise every subscription whose filter matches, granted
    /// or still waiting for its SUBACK (a resumed session's queued messages come first). A
    /// message matching several overlapping subscriptions belongs to each of them once.
    pub fn route<'a>(&'a self, publish: &'a Publish) -> impl Iterator<Item = SubscriptionKey> + 'a {
        self.subs.route(publish)
    }

    /// The topic filter and options of a subscription, while it exists.
    pub fn subscription(&self, key: SubscriptionKey) -> Option<&SubscribeFilter> {
        self.subs.get(key).map(|s| &s.filter)
    }

    /// Whether the server holds a subscription to `filter` with the same options: one
    /// granted in this connection, or in a session resumed from the server or restored from
    /// a store, with no UNSUBSCRIBE of it on its way. (A session the server turns out to have
    /// lost subscribes again to what it holds.)
    pub fn holds_subscription(&self, filter: &SubscribeFilter) -> bool {
        self.subs.holds(filter)
    }

    /// The granted subscriptions.
    pub fn subscriptions(&self) -> impl Iterator<Item = (SubscriptionKey, &SubscribeFilter)> {
        self.subs.granted().map(|s| (s.key, &s.filter))
    }

    /// The next deadline and why.
    pub fn next_timeout(&self) -> Option<(I, Timer)> {
        self.timers.next()
    }

    /// The next event for the application.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}
