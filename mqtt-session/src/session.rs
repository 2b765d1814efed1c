//! The `Session`: composes the parts below it (packet ids, outbound queue, inbound state,
//! aliases, subscriptions, timers, backoff) into the client's protocol state machine.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use bytes::{Bytes, BytesMut};
use core::time::Duration;
use mqtt_proto::{
    Auth, AuthProperties, ConnAck, Decoded, Decoder, Disconnect, DisconnectProperties, EncodeError,
    MqttString, Packet, PacketId, PacketType, ProtocolVersion, PubResponse, Publish,
    PublishProperties, QoS, QosPid, ReasonCode, Role, SubAck, Subscribe, SubscribeFilter,
    SubscribeProperties, SubscriptionIdentifier, TopicFilter, TopicName, UnsubAck, Unsubscribe,
    UnsubscribeProperties, UserProperties,
};

use crate::alias::{AliasError, AliasUse, InboundAliases, OutboundAliases};
use crate::config::Config;
use crate::event::{
    AckToken, ConfigError, Connected, DisconnectReason, Error, Event, Message, PublishFailure,
    PublishId, PublishTicket, RequestId, ServerLimits, SubscribeResult, SubscriptionKey,
};
use crate::ids::PacketIds;
use crate::inbound::{Inbound, Qos2};
use crate::limits::{self, Exceeded};
use crate::outbound::{expiry_deadline, Outbound, Outgoing, Stage};
use crate::reconnect::{Ended, Next, Reconnect};
use crate::subscriptions::{PendingSubscribe, PendingUnsubscribe, Subscription, Subscriptions};
use crate::tables::{cap_u16, Growable, Table, Tables};
use crate::time::{after, Instant, Timer, Timers};
use crate::version::Negotiation;
use crate::violation::ProtocolViolation;

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

    // ----------------------------------------------------------------- inputs

    /// The transport is up: the session queues CONNECT, the first packet of every connection
    /// [MQTT-3.1.0-1], and starts waiting for CONNACK (for
    /// [`Config::connack_timeout`](crate::Config::connack_timeout)). A connection opened while
    /// reconnecting had stopped counts as the application's [`Session::reconnect`].
    pub fn handle_connected(&mut self, now: I) {
        if matches!(self.state, State::Connecting | State::Connected) {
            self.end_connection(now, DisconnectReason::TransportClosed);
        }
        self.state = State::Connecting;
        self.user_closed = false;
        self.closed_by_session = false;
        self.reauthenticating = false;
        self.reauthenticated = false;
        self.reconnect.allow();
        self.control.clear();
        self.timers.stop(Timer::Reconnect);
        self.clean_sent = !self.resumable;
        self.control.push_back(Control::Connect {
            clean_start: self.clean_sent,
        });
        self.decoder = Decoder::new(self.config.protocol_version, Role::Server)
            .with_max_packet_size(self.config.maximum_packet_size);
        self.negotiation.connecting();
        self.in_aliases.reset(self.config.topic_alias_maximum);
        // Our aliases stay within the server's Topic Alias Maximum, none when it has none
        // [MQTT-3.2.2-17], [MQTT-3.2.2-18], [MQTT-3.3.2-9].
        self.out_aliases.reset(0);
        self.ping_outstanding = false;
        self.connected_at = None;
        // The previous server's keep-alive does not carry over to this connection.
        self.keep_alive = self.config.keep_alive;
        self.timers
            .set(Timer::ConnAck, after(now, self.config.connack_timeout));
    }

    /// Bytes arrived. Every whole packet is taken off the front of `buf` and handled; a partial
    /// packet stays for the next call. After a protocol error the rest of the connection's
    /// input is ignored.
    pub fn handle_read(&mut self, now: I, buf: &mut BytesMut) {
        if self.state == State::Connecting
            && self
                .negotiation
                .refuses_v5(self.config.protocol_version, buf)
        {
            self.v5_not_supported(now);
        }
        while matches!(self.state, State::Connecting | State::Connected) {
            match self.decoder.decode(buf) {
                Ok(Decoded::Packet(packet)) => self.on_packet(now, packet),
                Ok(Decoded::Incomplete { .. }) => return,
                Err(e) => {
                    self.protocol_error(now, e.reason_code(), e.into());
                }
            }
        }
        // Not connected: nothing more is read on this connection.
        buf.clear();
    }

    /// The transport closed or failed, or could not be opened. Harmless when the session
    /// already ended the connection.
    pub fn handle_closed(&mut self, now: I) {
        match self.state {
            State::Connecting | State::Connected => {
                if self.state == State::Connecting
                    && self.config.v311_fallback
                    && self.negotiation.silent_close(self.config.protocol_version)
                {
                    // A 3.1.1-only server may close on a v5 CONNECT without a word.
                    self.config.protocol_version = ProtocolVersion::V311;
                }
                self.end_connection(now, DisconnectReason::TransportClosed);
                self.closed_by_session = false;
                self.state = State::Idle;
            }
            State::Closing => {
                self.control.clear();
                self.closed_by_session = false;
                self.state = State::Idle;
            }
            State::Idle => {
                if core::mem::take(&mut self.closed_by_session) {
                    // The close of the connection the session ended: already reported.
                } else if self.timers.get(Timer::Reconnect).is_none()
                    && !self.user_closed
                    && !self.reconnect.is_stopped()
                {
                    // A connection attempt that failed before the transport came up.
                    self.plan_next(now, Ended::Failed);
                }
            }
        }
        self.update_expiry_timer();
    }

    /// A deadline passed. Early and repeated calls do nothing.
    pub fn handle_timeout(&mut self, now: I) {
        if self.timers.expired(Timer::ConnAck, now) {
            self.timers.stop(Timer::ConnAck);
            if self.state == State::Connecting {
                self.end_connection(now, DisconnectReason::ConnAckTimeout);
                self.state = State::Idle;
            }
        }
        if self.timers.expired(Timer::PingResponse, now) {
            self.timers.stop(Timer::PingResponse);
            if self.state == State::Connected {
                self.end_connection(now, DisconnectReason::KeepAliveTimeout);
                self.state = State::Idle;
            }
        }
        if self.timers.expired(Timer::KeepAlive, now) {
            self.timers.stop(Timer::KeepAlive);
            self.give_back_burst_memory();
            if self.state == State::Connected {
                // Never silent for longer than the keep-alive (v5 [MQTT-3.1.2-20]; v3.1.1
                // [MQTT-3.1.2-23]), even while an earlier PINGREQ is still unanswered.
                self.control.push_back(Control::PingReq);
                if !self.ping_outstanding {
                    self.ping_outstanding = true;
                    self.timers
                        .set(Timer::PingResponse, after(now, self.response_timeout()));
                }
            }
        }
        if self.timers.expired(Timer::Reconnect, now) {
            self.timers.stop(Timer::Reconnect);
        }
        if self.timers.expired(Timer::MessageExpiry, now) {
            self.expire(now);
        }
        self.update_expiry_timer();
    }

    // ----------------------------------------------------------------- commands

    /// Publishes a message: QoS 1 and 2 get a Packet Identifier not in use, and stay
    /// unacknowledged until their PUBACK or PUBCOMP (v5 [MQTT-4.3.2-1], [MQTT-4.3.2-2],
    /// [MQTT-4.3.2-3], [MQTT-4.3.3-1], [MQTT-4.3.3-2], [MQTT-4.3.3-3], [MQTT-4.3.3-4],
    /// [MQTT-4.3.3-5]; v3.1.1 [MQTT-4.3.2-1], [MQTT-4.3.3-1]). The id and Packet Identifier are
    /// handed out at once; completion
    /// is reported by [`Event::PublishCompleted`] or [`Event::PublishFailed`]. While
    /// disconnected (or while the server's Receive Maximum is reached) the message waits in
    /// the queue, in order.
    pub fn publish(&mut self, now: I, message: OutboundMessage) -> Result<PublishTicket, Error> {
        if self.user_closed {
            return Err(Error::Closing);
        }
        if message.properties.topic_alias.is_some() {
            return Err(Error::NotAvailable(
                "topic aliases are assigned by the session",
            ));
        }
        if !message.properties.subscription_identifiers().is_empty() {
            return Err(Error::Invalid(EncodeError::Invalid(
                mqtt_proto::Error::PropertyNotAllowedFrom {
                    packet: PacketType::Publish,
                    from: mqtt_proto::Role::Client,
                    property: mqtt_proto::PropertyId::SubscriptionIdentifier,
                },
            )));
        }
        let mut publish = Publish {
            dup: false,
            qos_pid: QosPid::AtMostOnce,
            retain: message.retain,
            topic: message.topic,
            payload: message.payload,
            properties: message.properties,
        };
        // Size with a placeholder id: the id does not change the size.
        if message.qos != QoS::AtMostOnce {
            publish.qos_pid = QosPid::new(message.qos, PacketId::MIN);
        }
        let size = publish.encoded_len(self.config.protocol_version)?;
        self.check_limits(&publish, size).map_err(Exceeded::error)?;
        // A fixed-capacity table holds the publishes in flight as well as the queued ones.
        if self.outbound.queued() >= self.config.max_queued || self.outbound.is_full() {
            return Err(Error::QueueFull);
        }
        let packet_id = if message.qos == QoS::AtMostOnce {
            None
        } else {
            let id = self.ids.allocate().ok_or(Error::NoFreePacketId)?;
            publish.qos_pid = QosPid::new(message.qos, id);
            Some(id)
        };
        self.publish_seq += 1;
        let id = PublishId(self.publish_seq);
        let expires_at = match self.config.protocol_version {
            ProtocolVersion::V5 => expiry_deadline(now, publish.properties.message_expiry_interval),
            ProtocolVersion::V311 => None,
        };
        if self.outbound.push(id, publish, expires_at).is_err() {
            // Not reached: room was checked above.
            if let Some(packet_id) = packet_id {
                self.ids.release(packet_id);
            }
            return Err(Error::QueueFull);
        }
        self.update_expiry_timer();
        Ok(PublishTicket { id, packet_id })
    }

    /// Subscribes to `filters`, each becoming a subscription with its own key (in order).
    /// The result arrives as [`Event::Subscribed`]. On v5 the session gives the SUBSCRIBE a
    /// Subscription Identifier (unless `properties` has one, or the server has none) so that
    /// messages are routed exactly.
    pub fn subscribe(
        &mut self,
        _now: I,
        filters: Vec<SubscribeFilter>,
        properties: SubscribeProperties,
    ) -> Result<(RequestId, Vec<SubscriptionKey>), Error> {
        if self.user_closed {
            return Err(Error::Closing);
        }
        if filters.is_empty() {
            return Err(Error::Invalid(EncodeError::Invalid(
                mqtt_proto::Error::NoTopicFilters(PacketType::Subscribe),
            )));
        }
        if self.state == State::Connected {
            if !self.limits.wildcard_subscription_available
                && filters.iter().any(|f| f.filter.has_wildcards())
            {
                return Err(Error::SubscriptionNotSupported("wildcard subscriptions"));
            }
            if !self.limits.shared_subscription_available
                && filters.iter().any(|f| f.filter.is_shared())
            {
                return Err(Error::SubscriptionNotSupported("shared subscriptions"));
            }
        }
        // Check the packet encodes before taking an id.
        Subscribe {
            packet_id: PacketId::MIN,
            filters: filters.clone(),
            properties: properties.clone(),
        }
        .encoded_len(self.config.protocol_version)?;
        if self.subs.subscribes.is_full() {
            return Err(Error::RequestsFull);
        }
        let packet_id = self.ids.allocate().ok_or(Error::NoFreePacketId)?;
        let request = self.next_request();
        let mut keys = Vec::with_capacity(filters.len());
        for filter in filters {
            let key = self.subs.new_key();
            keys.push(key);
            self.subs.list.push(Subscription {
                key,
                request,
                filter,
                identifier: properties.subscription_identifier,
                active: false,
                remake: false,
            });
        }
        // Room was checked above.
        let _ = self.subs.subscribes.push(PendingSubscribe {
            request,
            packet_id,
            keys: keys.clone(),
            properties,
            resubscribe: false,
            sent: false,
        });
        Ok((request, keys))
    }

    /// Unsubscribes from `filters` (matched by their exact text). The result arrives as
    /// [`Event::Unsubscribed`]; the subscriptions stay routable until then.
    pub fn unsubscribe(
        &mut self,
        _now: I,
        filters: Vec<TopicFilter>,
        properties: UnsubscribeProperties,
    ) -> Result<RequestId, Error> {
        if self.user_closed {
            return Err(Error::Closing);
        }
        Unsubscribe {
            packet_id: PacketId::MIN,
            filters: filters.clone(),
            properties: properties.clone(),
        }
        .encoded_len(self.config.protocol_version)?;
        if self.subs.unsubscribes.is_full() {
            return Err(Error::RequestsFull);
        }
        let packet_id = self.ids.allocate().ok_or(Error::NoFreePacketId)?;
        let request = self.next_request();
        // Room was checked above.
        let _ = self.subs.unsubscribes.push(PendingUnsubscribe {
            request,
            packet_id,
            filters,
            properties,
            sent: false,
        });
        Ok(request)
    }

    /// Acknowledges a message received in manual-ack mode. Acknowledgements go out in the
    /// order the messages arrived, whatever order the application acks them in
    /// [MQTT-4.6.0-2], [MQTT-4.6.0-3].
    pub fn ack(&mut self, _now: I, token: AckToken) -> Result<(), Error> {
        self.settle(token, ReasonCode::Success)
    }

    /// Refuses a message received in manual-ack mode (v5): its PUBACK, or for QoS 2 its
    /// PUBREC, carries `reason`, one of the errors those packets may carry (0x80 Unspecified
    /// error, 0x83 Implementation specific error, 0x87 Not authorized, 0x90 Topic Name
    /// invalid, 0x91 Packet Identifier in use, 0x97 Quota exceeded, 0x99 Payload format
    /// invalid). Like [`Session::ack`], it goes out in the order the messages arrived.
    ///
    /// A refused message is done with: the server does not send it again, and for QoS 2 no
    /// PUBREL follows; a later PUBLISH with the same Packet Identifier is a new message
    /// [MQTT-4.3.3-9]. A QoS 2 message refused while the connection is down is answered
    /// with that PUBREC when the server sends it again on the next one.
    ///
    /// Fails with [`Error::NotAvailable`] on v3.1.1, which has no way to refuse a message,
    /// and with [`Error::RejectReason`] for a reason that is not one of those errors.
    pub fn reject(&mut self, _now: I, token: AckToken, reason: ReasonCode) -> Result<(), Error> {
        if self.config.protocol_version != ProtocolVersion::V5 {
            return Err(Error::NotAvailable(
                "refusing a message needs MQTT v5 (v3.1.1 acknowledgements carry no reason)",
            ));
        }
        if !reason.refuses_publish() {
            return Err(Error::RejectReason(reason));
        }
        self.settle(token, reason)
    }

    /// [`Session::ack`] and [`Session::reject`]: records the application's answer and queues
    /// the acknowledgements it releases, in arrival order.
    fn settle(&mut self, token: AckToken, reason: ReasonCode) -> Result<(), Error> {
        if !self.inbound.ack(token, reason) {
            return Err(Error::UnknownAckToken);
        }
        let connected = self.state == State::Connected;
        while let Some(r) = self.inbound.pop_released() {
            let kind = match r.qos {
                QoS::ExactlyOnce => {
                    let state = if r.reason.is_error() {
                        Qos2::Rejected(r.reason)
                    } else {
                        Qos2::Received
                    };
                    // The entry is there (AwaitingApp) unless the server released it early.
                    let _ = self.inbound.set_qos2(r.packet_id, state);
                    PacketType::PubRec
                }
                _ => PacketType::PubAck,
            };
            // Disconnected, a QoS 1 message comes again (its token goes stale); a QoS 2 one
            // is answered with this PUBREC when it does.
            if connected {
                self.control
                    .push_back(Control::Ack(kind, r.packet_id, r.reason));
            }
        }
        Ok(())
    }

    /// Ends the connection with DISCONNECT (`reason_code`, and on v5 `properties`, e.g. a
    /// Session Expiry Interval) and stops reconnecting. Acknowledgements already queued go
    /// out first; publishes not yet sent stay in the session. A later
    /// [`Session::handle_connected`] starts again.
    pub fn disconnect(
        &mut self,
        now: I,
        reason_code: ReasonCode,
        properties: DisconnectProperties,
    ) -> Result<(), Error> {
        let packet = Disconnect {
            reason_code,
            properties,
        };
        packet.encoded_len(self.config.protocol_version)?;
        // v5 3.14.2.2.2: a Session Expiry Interval on DISCONNECT may not turn a session that
        // CONNECT gave no expiry into one that outlives the connection (a Protocol Error).
        if self.config.protocol_version == ProtocolVersion::V5
            && self.config.session_expiry_interval == 0
            && packet
                .properties
                .session_expiry_interval
                .is_some_and(|e| e != 0)
        {
            return Err(Error::NotAvailable(
                "a non-zero session expiry on DISCONNECT needs one in CONNECT",
            ));
        }
        self.user_closed = true;
        self.timers.stop(Timer::Reconnect);
        match self.state {
            State::Connected => {
                if let Some(expiry) = packet.properties.session_expiry_interval {
                    self.resumable = expiry != 0;
                }
                // Acknowledgements already queued still go out, before the DISCONNECT.
                let queued = core::mem::take(&mut self.control);
                self.end_connection(now, DisconnectReason::Local);
                self.control = queued;
                self.control
                    .push_back(Control::Disconnect(Box::new(packet)));
                self.state = State::Closing;
            }
            State::Connecting => {
                self.end_connection(now, DisconnectReason::Local);
                self.state = State::Idle;
            }
            State::Closing | State::Idle => {}
        }
        Ok(())
    }

    /// Asks for a connection: [`Session::should_connect`] is true from now on while the
    /// session is idle. This is how the application connects again after
    /// [`Event::ReconnectStopped`] (reconnecting is off, or the server refused the connection
    /// for good) or after [`Session::disconnect`] (the session takes new work again); it also
    /// cuts a backoff delay short. While a connection is open it changes nothing for that
    /// connection, and the backoff keeps its counts, so a refusal that comes again is not
    /// retried sooner than the policy says.
    pub fn reconnect(&mut self, _now: I) {
        self.reconnect.allow();
        self.user_closed = false;
        self.timers.stop(Timer::Reconnect);
    }

    /// Sends AUTH (v5 enhanced authentication): the answer to an
    /// [`Event::AuthChallenge`] (Continue authentication) or a re-authentication
    /// (Re-authenticate) while connected. An application that finds the server's answer
    /// wanting ends the connection with [`Session::fail_authentication`] and a reason such as
    /// 0x87 Not authorized [MQTT-4.12.1-2].
    pub fn auth(
        &mut self,
        _now: I,
        reason_code: ReasonCode,
        properties: AuthProperties,
    ) -> Result<(), Error> {
        if self.config.protocol_version != ProtocolVersion::V5 {
            return Err(Error::NotAvailable("AUTH needs MQTT v5"));
        }
        if !matches!(self.state, State::Connecting | State::Connected) {
            return Err(Error::NotAvailable("AUTH needs a connection"));
        }
        // [MQTT-4.12.0-7]: no AUTH without an Authentication Method in CONNECT;
        // [MQTT-4.12.0-5], [MQTT-4.12.1-1]: every AUTH repeats that method.
        // The client continues an exchange (0x18) [MQTT-4.12.0-3], or starts a
        // re-authentication (0x19) once connected.
        let reason_ok = match reason_code {
            ReasonCode::ContinueAuthentication => true,
            ReasonCode::ReAuthenticate => self.state == State::Connected,
            _ => false,
        };
        if !reason_ok {
            return Err(Error::NotAvailable(
                "a client AUTH carries Continue authentication, or Re-authenticate when connected",
            ));
        }
        let Some(method) = &self.config.authentication_method else {
            return Err(Error::NotAvailable(
                "AUTH needs an authentication method in the configuration",
            ));
        };
        let mut properties = properties;
        match &properties.authentication_method {
            None => properties.authentication_method = Some(method.clone()),
            Some(m) if m == method => {}
            Some(_) => {
                return Err(Error::NotAvailable(
                    "AUTH must use the configured authentication method",
                ))
            }
        }
        let packet = Auth {
            reason_code,
            properties,
        };
        packet.encoded_len(ProtocolVersion::V5)?;
        if reason_code == ReasonCode::ReAuthenticate {
            self.reauthenticating = true;
            self.reauthenticated = true;
        }
        self.control.push_back(Control::Auth(Box::new(packet)));
        Ok(())
    }

    /// Sets the Authentication Data of the CONNECT of the next connection (v5 enhanced
    /// authentication): an authenticator's initial data, new for each connection (a SCRAM
    /// client-first message carries a fresh nonce). Call it before
    /// [`Session::handle_connected`]. Refused, changing nothing, when the CONNECT would not
    /// encode with it.
    pub fn set_authentication_data(&mut self, data: Option<Bytes>) -> Result<(), Error> {
        let old = core::mem::replace(&mut self.config.authentication_data, data);
        let check = self
            .config
            .connect(&self.client_id, self.clean_sent)
            .encoded_len(self.config.protocol_version);
        if let Err(e) = check {
            self.config.authentication_data = old;
            return Err(e.into());
        }
        Ok(())
    }

    /// Sets the User Name and Password of the CONNECT of the next connection: credentials
    /// that change between connections (a token refreshed before each connect). Call it
    /// before [`Session::handle_connected`]. Refused, changing nothing, when the CONNECT would
    /// not encode with them (a v3.1.1 password without a user name [MQTT-3.1.2-22]).
    pub fn set_credentials(
        &mut self,
        username: Option<MqttString>,
        password: Option<Bytes>,
    ) -> Result<(), Error> {
        let old_username = core::mem::replace(&mut self.config.username, username);
        let old_password = core::mem::replace(&mut self.config.password, password);
        let check = self
            .config
            .connect(&self.client_id, self.clean_sent)
            .encoded_len(self.config.protocol_version);
        if let Err(e) = check {
            self.config.username = old_username;
            self.config.password = old_password;
            return Err(e.into());
        }
        Ok(())
    }

    /// Ends the connection because the client found the server's side of enhanced
    /// authentication wanting (v5): final data that fails the method's check, or a challenge
    /// the method cannot answer. Sends DISCONNECT with `reason_code` (0x87 Not authorized, or
    /// another DISCONNECT reason code) and reports
    /// [`DisconnectReason::AuthenticationFailed`]: during a re-authentication
    /// [MQTT-4.12.1-2], and in the exchange of the CONNECT too (section 4.12: the client may
    /// close the connection at any point of it, with a DISCONNECT first), the check of the
    /// CONNACK's data included. The reconnect policy takes a failed exchange of the CONNECT
    /// as a CONNACK refusal with `reason_code` (0x87 stops reconnecting unless
    /// [`Backoff::retry_refused`](crate::Backoff::retry_refused)), and a failed
    /// re-authentication as any connection that ended.
    pub fn fail_authentication(&mut self, now: I, reason_code: ReasonCode) -> Result<(), Error> {
        if self.config.protocol_version != ProtocolVersion::V5 {
            return Err(Error::NotAvailable("enhanced authentication needs MQTT v5"));
        }
        if !matches!(self.state, State::Connecting | State::Connected) {
            return Err(Error::NotAvailable("no connection to end"));
        }
        let packet = Disconnect::new(reason_code);
        packet.encoded_len(ProtocolVersion::V5)?;
        if !self.reauthenticated {
            // The exchange of the CONNECT failed, its CONNACK's data included: the server
            // never proved itself, so the connection counts as refused, not as one that was
            // up.
            self.connected_at = None;
        }
        self.end_connection(now, DisconnectReason::AuthenticationFailed(reason_code));
        self.control
            .push_back(Control::Disconnect(Box::new(packet)));
        self.state = State::Closing;
        Ok(())
    }

    // ----------------------------------------------------------------- outputs

    /// Encodes into `buf` every packet that is due and returns how many bytes it wrote.
    /// Call after every input and command until it returns 0, and again once `buf` has been
    /// written out: publishes stop once `buf` holds
    /// [`Config::transmit_buffer_limit`](crate::Config::transmit_buffer_limit) bytes.
    pub fn poll_transmit(&mut self, now: I, buf: &mut BytesMut) -> usize {
        let start = buf.len();
        let version = self.config.protocol_version;
        match self.state {
            State::Idle => return 0,
            State::Connecting | State::Closing => {
                // Before CONNACK only CONNECT and AUTH may go [MQTT-3.1.2-30]; while closing,
                // what is queued, the DISCONNECT last: nothing follows it on this connection
                // and the driver closes the transport [MQTT-3.14.4-1], [MQTT-3.14.4-2].
                let closing = self.state == State::Closing;
                while let Some(c) = self.control.front() {
                    if !closing && !matches!(c, Control::Connect { .. } | Control::Auth(_)) {
                        break;
                    }
                    if let Some(c) = self.control.pop_front() {
                        self.write_control(c, buf);
                    }
                }
                if closing && self.control.is_empty() {
                    self.state = State::Idle;
                }
            }
            State::Connected => {
                // Acknowledgements and other control packets never wait for flow-control room
                // [MQTT-3.3.4-8], [MQTT-4.9.0-3].
                while let Some(c) = self.control.pop_front() {
                    self.write_control(c, buf);
                }
                self.subs.write_pending(
                    self.config.protocol_version,
                    self.limits.subscription_identifier_available,
                    buf,
                );
                self.write_publishes(now, buf);
            }
        }
        let written = buf.len() - start;
        if written > 0 && self.state == State::Connected && !self.keep_alive.is_zero() {
            self.timers
                .set(Timer::KeepAlive, after(now, self.keep_alive));
        }
        let _ = version;
        self.update_expiry_timer();
        written
    }

    /// The earliest deadline; call [`Session::handle_timeout`] when it passes.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<I> {
        self.timers.next().map(|(at, _)| at)
    }

    /// The next event for the application.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    // ----------------------------------------------------------------- internals

    /// How many QoS 1/2 publishes may be unacknowledged at once: the server's Receive Maximum
    /// (v5), capped by our own `max_inflight` (v3.1.1 has no negotiation, and brokers drop or
    /// refuse what exceeds their window).
    fn send_quota(&self) -> u16 {
        self.limits
            .receive_maximum
            .min(self.config.max_inflight)
            .max(1)
    }

    fn response_timeout(&self) -> Duration {
        match self.config.response_timeout {
            Some(t) => t,
            None if !self.keep_alive.is_zero() => self.keep_alive,
            None => Duration::from_secs(30),
        }
    }

    fn next_request(&mut self) -> RequestId {
        self.request_seq += 1;
        RequestId(self.request_seq)
    }

    /// Whether the limits let this publish go ([`limits::check`]): checked when it is
    /// accepted and again when it is sent (the server's limits may change across a reconnect,
    /// a restored message may predate the configuration).
    fn check_limits(&self, publish: &Publish, size: usize) -> Result<(), Exceeded> {
        let server = (self.state == State::Connected).then_some(&self.limits);
        limits::check(publish, size, self.config.max_outgoing_packet_size, server)
    }

    fn write_control(&mut self, control: Control, buf: &mut BytesMut) {
        let version = self.config.protocol_version;
        // Everything below was validated when it was queued; an encoding error cannot happen,
        // and if it did the packet would be skipped rather than the session panicking.
        let _ = match control {
            Control::Connect { clean_start } => self
                .config
                .connect(&self.client_id, clean_start)
                .encode(version, buf),
            Control::Ack(kind, id, reason) => {
                if kind == PacketType::PubRec && reason.is_error() {
                    // Once this PUBREC is out, a PUBLISH with this id is a new message
                    // [MQTT-4.3.3-9] (no PUBREL follows a failed PUBREC, section 4.3.3).
                    self.inbound.release_qos2(id);
                }
                PubResponse::with_reason(id, reason).encode(kind, version, buf)
            }
            Control::PingReq => Packet::PingReq.encode(version, buf),
            Control::Disconnect(mut d) => {
                // [MQTT-3.14.2-3], [MQTT-3.14.2-4]
                let max = self.limits.maximum_packet_size;
                if too_large(max, d.encoded_len(version)) {
                    d.properties.reason_string = None;
                }
                if too_large(max, d.encoded_len(version)) {
                    d.properties.user_properties = UserProperties::default();
                }
                d.encode(version, buf)
            }
            Control::Auth(mut a) => {
                // [MQTT-3.15.2-2], [MQTT-3.15.2-3]
                let max = self.limits.maximum_packet_size;
                if too_large(max, a.encoded_len(version)) {
                    a.properties.reason_string = None;
                }
                if too_large(max, a.encoded_len(version)) {
                    a.properties.user_properties = UserProperties::default();
                }
                a.encode(version, buf)
            }
        };
    }

    /// PUBLISH and PUBREL packets of the outbound queue, in order, within flow control.
    fn write_publishes(&mut self, now: I, buf: &mut BytesMut) {
        let version = self.config.protocol_version;
        while buf.len() < self.config.transmit_buffer_limit {
            let Some(index) = self.outbound.next_due(self.send_quota()) else {
                break;
            };
            let Some(entry) = self.outbound.entry(index) else {
                break;
            };
            if entry.stage == Stage::Released {
                if let Some(id) = entry.packet_id() {
                    let _ = PubResponse::new(id).encode(PacketType::PubRel, version, buf);
                }
                self.outbound.mark_written(index);
                continue;
            }
            // The server's limits may have changed since the message was accepted.
            let size = entry.publish.encoded_len(version).unwrap_or(usize::MAX);
            if let Err(exceeded) = self.check_limits(&entry.publish, size) {
                if let Some(entry) = self.outbound.remove(index) {
                    self.fail(entry, exceeded.failure());
                }
                continue;
            }
            self.outbound.refresh_expiry(index, now);
            let Some(entry) = self.outbound.entry(index) else {
                break;
            };
            // A new alias adds a property (three bytes, and at most two more when the lengths
            // grow); it is only set up when the packet still fits the server's limit
            // [MQTT-3.2.2-15]. Reusing one only makes the packet smaller.
            let room_for_alias = self
                .limits
                .maximum_packet_size
                .is_none_or(|max| size + 5 <= max as usize);
            let alias = if version == ProtocolVersion::V5 {
                self.out_aliases
                    .use_for(&entry.publish.topic, room_for_alias)
            } else {
                AliasUse::None
            };
            let _ = match alias {
                AliasUse::None => entry.publish.encode(version, buf),
                AliasUse::Assign(a) | AliasUse::Reuse(a) => {
                    let mut aliased = entry.publish.clone();
                    aliased.properties.topic_alias = Some(a);
                    if matches!(alias, AliasUse::Reuse(_)) {
                        aliased.topic = TopicName::empty();
                    }
                    aliased.encode(version, buf)
                }
            };
            if let Some(done) = self.outbound.mark_written(index) {
                // QoS 0: complete once written.
                self.events.push_back(Event::PublishCompleted {
                    id: done.id,
                    packet_id: None,
                    reason_code: ReasonCode::Success,
                });
            }
        }
    }

    /// Reports a publish that will not be delivered and frees its id.
    fn fail(&mut self, entry: Outgoing<I>, reason: PublishFailure) {
        let packet_id = entry.packet_id();
        if let Some(id) = packet_id {
            self.ids.release(id);
        }
        self.events.push_back(Event::PublishFailed {
            id: entry.id,
            packet_id,
            reason,
        });
    }

    fn expire(&mut self, now: I) {
        let mut expired = Vec::new();
        self.outbound.take_expired(now, |e| expired.push(e));
        for entry in expired {
            self.fail(entry, PublishFailure::Expired);
        }
    }

    fn update_expiry_timer(&mut self) {
        let next = self.outbound.next_expiry();
        self.timers.set(Timer::MessageExpiry, next);
    }

    /// A packet from the server.
    fn on_packet(&mut self, now: I, packet: Packet) {
        // Any packet shows the server is alive.
        self.timers.stop(Timer::PingResponse);
        self.ping_outstanding = false;
        if self.state == State::Connecting {
            match packet {
                Packet::ConnAck(ack) => self.on_connack(now, *ack),
                Packet::Auth(auth) => self.on_auth(now, auth),
                Packet::Disconnect(d) => self.on_server_disconnect(now, d),
                // [MQTT-3.2.0-1]: the server's first packet is CONNACK (or AUTH in v5).
                other => self.protocol_error(
                    now,
                    ReasonCode::ProtocolError,
                    ProtocolViolation::BeforeConnAck(other.packet_type()),
                ),
            }
            return;
        }
        match packet {
            Packet::Publish(p) => self.on_publish(now, p),
            Packet::PubAck(a) => self.on_puback(a),
            Packet::PubRec(a) => self.on_pubrec(a),
            Packet::PubRel(a) => self.on_pubrel(a),
            Packet::PubComp(a) => self.on_pubcomp(a),
            Packet::SubAck(a) => self.on_suback(now, a),
            Packet::UnsubAck(a) => self.on_unsuback(now, a),
            Packet::PingResp => {}
            Packet::Disconnect(d) => self.on_server_disconnect(now, d),
            Packet::Auth(a) => self.on_auth(now, a),
            // [MQTT-3.2.0-2]: one CONNACK per connection. The decoder lets through only what a
            // server sends, so a second CONNACK is all that can arrive here.
            Packet::ConnAck(_) => self.protocol_error(
                now,
                ReasonCode::ProtocolError,
                ProtocolViolation::SecondConnAck,
            ),
            other => self.protocol_error(
                now,
                ReasonCode::ProtocolError,
                unexpected(other.packet_type()).into(),
            ),
        }
    }

    fn on_connack(&mut self, now: I, ack: ConnAck) {
        self.timers.stop(Timer::ConnAck);
        // [MQTT-4.13.2-1]: a refusing CONNACK ends the connection.
        if ack.reason_code.is_error() {
            let reason = DisconnectReason::Refused(ack.reason_code, Box::new(ack.properties));
            self.end_connection(now, reason);
            self.state = State::Idle;
            return;
        }
        // v5 [MQTT-3.2.2-4]; v3.1.1 [MQTT-3.2.2-1]: a clean start is never answered with a
        // session.
        if self.clean_sent && ack.session_present {
            self.protocol_error(
                now,
                ReasonCode::ProtocolError,
                ProtocolViolation::SessionPresentAfterCleanStart,
            );
            return;
        }
        let v5 = self.config.protocol_version == ProtocolVersion::V5;
        // [MQTT-4.12.0-5]: a successful CONNACK after enhanced authentication repeats the
        // method.
        if let Some(sent) = &self.config.authentication_method {
            if v5 && ack.properties.authentication_method.as_ref() != Some(sent) {
                let violation = ProtocolViolation::AuthenticationMethod {
                    packet: PacketType::ConnAck,
                    got: ack.properties.authentication_method.clone(),
                    sent: sent.clone(),
                };
                self.protocol_error(now, ReasonCode::ProtocolError, violation);
                return;
            }
        }
        let p = &ack.properties;
        // [MQTT-3.1.2-21], [MQTT-3.2.2-21]: the server's keep-alive replaces ours.
        self.keep_alive = match p.server_keep_alive {
            Some(secs) if v5 => Duration::from_secs(u64::from(secs)),
            _ => self.config.keep_alive,
        };
        self.limits = if v5 {
            ServerLimits {
                // Each connection's send quota starts at the server's Receive Maximum of this
                // CONNACK, non-zero (the decoder refuses 0) [MQTT-4.9.0-1].
                receive_maximum: p.receive_maximum.map_or(u16::MAX, |r| r.get()),
                maximum_qos: p.maximum_qos.unwrap_or(QoS::ExactlyOnce),
                retain_available: p.retain_available.unwrap_or(true),
                maximum_packet_size: p.maximum_packet_size.map(|m| m.get()),
                topic_alias_maximum: p.topic_alias_maximum.unwrap_or(0),
                wildcard_subscription_available: p.wildcard_subscription_available.unwrap_or(true),
                subscription_identifier_available: p
                    .subscription_identifier_available
                    .unwrap_or(true),
                shared_subscription_available: p.shared_subscription_available.unwrap_or(true),
                keep_alive: self.keep_alive,
                session_expiry_interval: p.session_expiry_interval,
            }
        } else {
            ServerLimits::v311(self.keep_alive)
        };
        if let Some(id) = &p.assigned_client_identifier {
            self.client_id = id.clone();
        }
        // Whether the next connection resumes: the session outlives this connection when its
        // expiry is non-zero (v5 [MQTT-3.1.2-23]) or Clean Session was 0 (v3.1.1
        // [MQTT-3.1.2-4]); with Clean Start / Clean Session 1 it starts afresh ([MQTT-3.1.2-4]
        // v5, [MQTT-3.1.2-6] v3.1.1).
        self.resumable = if v5 {
            p.session_expiry_interval
                .unwrap_or(self.config.session_expiry_interval)
                != 0
        } else {
            !self.config.clean_start
        };
        self.out_aliases.reset(
            self.config
                .outbound_topic_aliases
                .min(self.limits.topic_alias_maximum),
        );
        self.state = State::Connected;
        self.connected_at = Some(now);
        if !self.keep_alive.is_zero() {
            self.timers
                .set(Timer::KeepAlive, after(now, self.keep_alive));
        }
        self.events.push_back(Event::Connected(Box::new(Connected {
            session_present: ack.session_present,
            limits: self.limits.clone(),
            client_id: self.client_id.clone(),
            properties: ack.properties,
        })));
        if ack.session_present {
            // [MQTT-4.4.0-1]: resend unacknowledged PUBLISH (DUP) and PUBREL, in order.
            self.outbound.resume(self.send_quota());
            // What an earlier lost session left to subscribe again, if the table had no room.
            self.remake_subscriptions();
        } else {
            // The server has no session: discard the protocol state of the old one
            // [MQTT-3.2.2-5] (inbound QoS 2 ids, packets in flight). This happens here, at
            // the next CONNACK, and never while a connection is open, so a session that ends
            // with its connection still lasts as long as it does (v3.1.1 [MQTT-4.1.0-2]).
            // The application's work is kept: publishes start over as new ones, and everything
            // that was granted is subscribed again.
            let mut done = Vec::new();
            self.outbound.restart(|e| done.push(e));
            for entry in done {
                if let Some(id) = entry.packet_id() {
                    self.ids.release(id);
                }
                self.events.push_back(Event::PublishCompleted {
                    id: entry.id,
                    packet_id: entry.packet_id(),
                    reason_code: entry.rec_reason,
                });
            }
            self.inbound.discard();
            self.resubscribe();
        }
    }

    /// The server lost the session: every granted subscription that no unanswered request
    /// covers is to be made again, in groups (one per original request, keeping its
    /// Subscription Identifier).
    fn resubscribe(&mut self) {
        let Subscriptions {
            list, subscribes, ..
        } = &mut self.subs;
        for s in list.iter_mut().filter(|s| s.active) {
            s.remake = !subscribes.iter().any(|p| p.keys.contains(&s.key));
        }
        self.remake_subscriptions();
    }

    /// Queues a SUBSCRIBE for each group of subscriptions still to be made again, as far as
    /// the request table and the Packet Identifiers have room; the rest go once an answer
    /// frees some.
    fn remake_subscriptions(&mut self) {
        while !self.subs.subscribes.is_full() {
            let Some(request) = self.subs.list.iter().find(|s| s.remake).map(|s| s.request) else {
                return;
            };
            let Some(packet_id) = self.ids.allocate() else {
                return;
            };
            let mut keys: Vec<SubscriptionKey> = Vec::new();
            for s in self.subs.list.iter_mut().filter(|s| s.request == request) {
                if s.active {
                    keys.push(s.key);
                }
                s.remake = false;
            }
            let identifier = self
                .subs
                .list
                .iter()
                .find(|s| s.request == request)
                .and_then(|s| s.identifier);
            let properties = SubscribeProperties {
                subscription_identifier: identifier,
                ..SubscribeProperties::default()
            };
            // Room was checked by the loop.
            let _ = self.subs.subscribes.push(PendingSubscribe {
                request,
                packet_id,
                keys,
                properties,
                resubscribe: true,
                sent: false,
            });
        }
    }

    fn on_publish(&mut self, now: I, mut publish: Publish) {
        if let Some(alias) = publish.properties.topic_alias {
            match self.in_aliases.resolve(alias, &publish.topic) {
                Ok(topic) => publish.topic = topic,
                Err(AliasError::OutOfRange) => {
                    // [MQTT-3.3.2-10]: above the maximum we announced.
                    return self.protocol_error(
                        now,
                        ReasonCode::TopicAliasInvalid,
                        mqtt_proto::Error::InvalidPropertyValue(mqtt_proto::PropertyId::TopicAlias)
                            .into(),
                    );
                }
                Err(AliasError::Unknown) => {
                    return self.protocol_error(
                        now,
                        ReasonCode::ProtocolError,
                        ProtocolViolation::UnknownTopicAlias(alias.get()),
                    );
                }
            }
        }
        // Every PUBLISH is answered as its QoS requires, with its own Packet Identifier
        // ([MQTT-3.3.4-1], [MQTT-4.5.0-2], v5 [MQTT-2.2.1-5], [MQTT-4.3.2-4], [MQTT-4.3.3-8];
        // v3.1.1 [MQTT-2.3.1-6], [MQTT-4.3.2-2]); a QoS 2 message is delivered once, its
        // repeats only answered with PUBREC until the PUBREL ([MQTT-4.3.3-10]; v3.1.1
        // [MQTT-4.3.3-2]). Once a flow is finished its id names a new message
        // ([MQTT-4.3.2-5], [MQTT-4.3.3-12]). In manual-ack mode the answer waits for the
        // application. The client applies no Message Expiry to what it receives: an expired
        // QoS 2 message still gets its PUBREC and PUBCOMP [MQTT-4.3.3-13].
        let manual = self.config.manual_acks;
        let v5 = self.config.protocol_version == ProtocolVersion::V5;
        let over_receive_maximum =
            v5 && self.inbound.unacknowledged() >= usize::from(self.config.receive_maximum);
        // A fixed-capacity table that is full takes no more: on v5 the server went past the
        // Receive Maximum (which is at most the capacity); v3.1.1 cannot tell the server, so
        // the connection ends there and the server sends the message again on the next one.
        let full = !self.inbound.has_room();
        match publish.qos_pid {
            QosPid::AtMostOnce => self.deliver(publish, None),
            QosPid::AtLeastOnce(id) => {
                if over_receive_maximum || (manual && full) {
                    return self.receive_maximum_exceeded(now);
                }
                if manual {
                    let Ok(token) = self.inbound.owe(id, QoS::AtLeastOnce) else {
                        return self.receive_maximum_exceeded(now);
                    };
                    self.deliver(publish, Some(token));
                } else {
                    self.control.push_back(Control::Ack(
                        PacketType::PubAck,
                        id,
                        ReasonCode::Success,
                    ));
                    self.deliver(publish, None);
                }
            }
            QosPid::ExactlyOnce(id) => match self.inbound.qos2_state(id) {
                // A resend of a message already delivered: never deliver it twice.
                Some(Qos2::Received) => self.control.push_back(Control::Ack(
                    PacketType::PubRec,
                    id,
                    ReasonCode::Success,
                )),
                Some(Qos2::Rejected(reason)) => {
                    self.control
                        .push_back(Control::Ack(PacketType::PubRec, id, reason));
                }
                Some(Qos2::AwaitingApp) => {}
                None => {
                    if over_receive_maximum || full {
                        return self.receive_maximum_exceeded(now);
                    }
                    if manual {
                        let token = match self.inbound.set_qos2(id, Qos2::AwaitingApp) {
                            Ok(()) => self.inbound.owe(id, QoS::ExactlyOnce),
                            Err(full) => Err(full),
                        };
                        let Ok(token) = token else {
                            return self.receive_maximum_exceeded(now);
                        };
                        self.deliver(publish, Some(token));
                    } else {
                        if self.inbound.set_qos2(id, Qos2::Received).is_err() {
                            return self.receive_maximum_exceeded(now);
                        }
                        self.control.push_back(Control::Ack(
                            PacketType::PubRec,
                            id,
                            ReasonCode::Success,
                        ));
                        self.deliver(publish, None);
                    }
                }
            },
        }
    }

    /// The server sent more QoS 1/2 messages than our Receive Maximum [MQTT-3.3.4-9]:
    /// DISCONNECT 0x93 (section 3.3.4).
    fn receive_maximum_exceeded(&mut self, now: I) {
        self.protocol_error(
            now,
            ReasonCode::ReceiveMaximumExceeded,
            ProtocolViolation::ReceiveMaximumExceeded(self.config.receive_maximum),
        );
    }

    fn deliver(&mut self, publish: Publish, ack_token: Option<AckToken>) {
        self.events
            .push_back(Event::Message(Message { publish, ack_token }));
    }

    fn on_puback(&mut self, ack: PubResponse) {
        let is_qos1 = self
            .outbound
            .get(ack.packet_id)
            .is_some_and(|e| e.publish.qos() == QoS::AtLeastOnce);
        if !is_qos1 {
            return; // Late or duplicate: nothing waits for it.
        }
        if let Some(entry) = self.outbound.complete(ack.packet_id, Stage::Sent) {
            self.finish(entry, ack);
        }
    }

    /// Ends a QoS 1 (PUBACK) or failed QoS 2 (PUBREC) flow; a failed one is never sent again
    /// [MQTT-4.4.0-2].
    fn finish(&mut self, entry: Outgoing<I>, ack: PubResponse) {
        if ack.reason_code.is_error() {
            self.fail(
                entry,
                PublishFailure::Rejected(ack.reason_code, ack.properties),
            );
        } else {
            self.ids.release(ack.packet_id);
            self.events.push_back(Event::PublishCompleted {
                id: entry.id,
                packet_id: Some(ack.packet_id),
                reason_code: ack.reason_code,
            });
        }
    }

    fn on_pubrec(&mut self, ack: PubResponse) {
        let id = ack.packet_id;
        let Some(entry) = self.outbound.get(id) else {
            // Nothing of ours: let the server finish its flow (v5: 0x92), unless its PUBREC
            // already ended it with an error.
            if ack.reason_code.is_error() {
                return;
            }
            self.control.push_back(Control::Ack(
                PacketType::PubRel,
                id,
                ReasonCode::PacketIdentifierNotFound,
            ));
            return;
        };
        if entry.publish.qos() != QoS::ExactlyOnce {
            return;
        }
        if ack.reason_code.is_error() {
            // A failed PUBREC ends the flow: no PUBREL (v5 section 4.3.3).
            if let Some(entry) = self.outbound.complete(id, Stage::Sent) {
                self.finish(entry, ack);
            }
        } else if self.outbound.release(id, ack.reason_code) {
            // [MQTT-4.3.3-4], in the order the PUBRECs arrived [MQTT-4.6.0-4].
            self.control
                .push_back(Control::Ack(PacketType::PubRel, id, ReasonCode::Success));
        }
    }

    /// PUBREL: answered with PUBCOMP and the same Packet Identifier [MQTT-4.3.3-11].
    fn on_pubrel(&mut self, ack: PubResponse) {
        let id = ack.packet_id;
        let reason = if self.inbound.release_qos2(id) {
            ReasonCode::Success
        } else {
            // Not a dropped connection: answer so the server can finish (v5: 0x92).
            ReasonCode::PacketIdentifierNotFound
        };
        self.control
            .push_back(Control::Ack(PacketType::PubComp, id, reason));
    }

    fn on_pubcomp(&mut self, ack: PubResponse) {
        if let Some(entry) = self.outbound.complete(ack.packet_id, Stage::Released) {
            self.ids.release(ack.packet_id);
            self.events.push_back(Event::PublishCompleted {
                id: entry.id,
                packet_id: Some(ack.packet_id),
                reason_code: entry.rec_reason,
            });
        }
    }

    fn on_suback(&mut self, now: I, ack: SubAck) {
        let Some(index) = self
            .subs
            .subscribes
            .iter()
            .position(|p| p.packet_id == ack.packet_id && p.sent)
        else {
            return;
        };
        let Some(pending) = self.subs.subscribes.remove(index) else {
            return;
        };
        self.subs.subscribes.free_if_empty();
        self.ids.release(pending.packet_id);
        self.remake_subscriptions();
        // [MQTT-3.8.4-6], [MQTT-3.9.3-1]: one reason code per filter, in order.
        if ack.reason_codes.len() != pending.keys.len() {
            let violation = ProtocolViolation::ReasonCodeCount {
                packet: PacketType::SubAck,
                expected: pending.keys.len(),
                got: ack.reason_codes.len(),
            };
            return self.protocol_error(now, ReasonCode::ProtocolError, violation);
        }
        let mut results: Vec<SubscribeResult> = Vec::with_capacity(pending.keys.len());
        for (&key, &code) in pending.keys.iter().zip(&ack.reason_codes) {
            let granted = match code {
                ReasonCode::Success => Some(QoS::AtMostOnce),
                ReasonCode::GrantedQoS1 => Some(QoS::AtLeastOnce),
                ReasonCode::GrantedQoS2 => Some(QoS::ExactlyOnce),
                _ => None,
            };
            match granted {
                Some(qos) => {
                    let filter = self.subs.get(key).map(|s| s.filter.filter.clone());
                    if let Some(filter) = filter {
                        // A new subscription to the same filter replaces the old one
                        // [MQTT-3.8.4-3].
                        self.subs
                            .list
                            .retain(|s| s.key == key || s.filter.filter != filter || !s.active);
                    }
                    if let Some(s) = self.subs.get_mut(key) {
                        s.active = true;
                    }
                    results.push(Ok(qos));
                }
                None => {
                    self.subs.list.retain(|s| s.key != key);
                    results.push(Err(code));
                }
            }
        }
        self.events.push_back(Event::Subscribed {
            id: pending.request,
            keys: pending.keys,
            results,
            resubscribe: pending.resubscribe,
        });
    }

    fn on_unsuback(&mut self, now: I, ack: UnsubAck) {
        let Some(index) = self
            .subs
            .unsubscribes
            .iter()
            .position(|p| p.packet_id == ack.packet_id && p.sent)
        else {
            return;
        };
        let Some(pending) = self.subs.unsubscribes.remove(index) else {
            return;
        };
        self.subs.unsubscribes.free_if_empty();
        self.ids.release(pending.packet_id);
        self.remake_subscriptions();
        let results = match self.config.protocol_version {
            ProtocolVersion::V311 => alloc::vec![ReasonCode::Success; pending.filters.len()],
            ProtocolVersion::V5 => ack.reason_codes,
        };
        if results.len() != pending.filters.len() {
            let violation = ProtocolViolation::ReasonCodeCount {
                packet: PacketType::UnsubAck,
                expected: pending.filters.len(),
                got: results.len(),
            };
            return self.protocol_error(now, ReasonCode::ProtocolError, violation);
        }
        for (filter, code) in pending.filters.iter().zip(&results) {
            if !code.is_error() {
                self.subs.remove_filter(filter);
            }
        }
        self.events.push_back(Event::Unsubscribed {
            id: pending.request,
            results,
        });
    }

    /// The server answered a v5 CONNECT as a 3.1.1-only server does: the connection ends
    /// (nothing is sent: it speaks no v5), and with the fallback the next one speaks 3.1.1.
    fn v5_not_supported(&mut self, now: I) {
        self.timers.stop(Timer::ConnAck);
        let fallback = self.config.v311_fallback;
        self.end_connection(now, DisconnectReason::V5NotSupported { fallback });
        self.state = State::Idle;
        if fallback {
            self.config.protocol_version = ProtocolVersion::V311;
        }
    }

    /// The server's DISCONNECT closes the connection, whatever its reason: among others the
    /// end of a re-authentication the server found failed [MQTT-4.12.1-2].
    fn on_server_disconnect(&mut self, now: I, d: Disconnect) {
        self.end_connection(
            now,
            DisconnectReason::Server(d.reason_code, Box::new(d.properties)),
        );
        self.state = State::Idle;
    }

    fn on_auth(&mut self, now: I, auth: Auth) {
        // AUTH only answers an Authentication Method we sent, and repeats it (section 4.12,
        // [MQTT-4.12.0-5]).
        // Re-authenticate (0x19) is the client's to send; Success ends an exchange only after
        // CONNACK ([MQTT-4.12.0-2]: before it the server sends 0x18).
        // Once connected, the server never starts an exchange: it answers the client's
        // Re-authenticate (section 4.12.1), with 0x18 or, at the end, 0x00.
        let connected = self.state == State::Connected;
        let reason_ok = match auth.reason_code {
            ReasonCode::ContinueAuthentication => !connected || self.reauthenticating,
            ReasonCode::Success => connected && self.reauthenticating,
            _ => false,
        };
        let violation = match &self.config.authentication_method {
            // [MQTT-4.12.0-6]
            None => Some(ProtocolViolation::UnrequestedAuth),
            Some(_) if !reason_ok => Some(ProtocolViolation::AuthReason(auth.reason_code)),
            Some(sent) if auth.properties.authentication_method.as_ref() != Some(sent) => {
                Some(ProtocolViolation::AuthenticationMethod {
                    packet: PacketType::Auth,
                    got: auth.properties.authentication_method.clone(),
                    sent: sent.clone(),
                })
            }
            Some(_) => None,
        };
        if let Some(violation) = violation {
            return self.protocol_error(now, ReasonCode::ProtocolError, violation);
        }
        if auth.reason_code == ReasonCode::Success {
            self.reauthenticating = false;
        }
        self.events.push_back(Event::AuthChallenge {
            reason_code: auth.reason_code,
            properties: auth.properties,
        });
    }

    /// The server broke the protocol: on v5, DISCONNECT with the reason; then the connection
    /// ends [MQTT-4.8.0-1], and the error is reported once. The session's state is kept
    /// ([MQTT-4.1.0-1]: it lives as long as the session, not the connection).
    fn protocol_error(&mut self, now: I, reason: ReasonCode, error: ProtocolViolation) {
        self.end_connection(now, DisconnectReason::ProtocolError(reason, error));
        if self.config.protocol_version == ProtocolVersion::V5 {
            self.control
                .push_back(Control::Disconnect(Box::new(Disconnect::new(reason))));
            self.state = State::Closing;
        } else {
            self.state = State::Idle;
        }
    }

    /// Gives back the memory of queues that grew in a burst and are empty again; small queues
    /// keep theirs. Called when the connection has been quiet for a keep-alive period, and when
    /// it ends: not each time a queue drains, because steady traffic drains them after every
    /// read, and shrinking there made each read grow its queue again (six reallocations,
    /// `mremap` and page faults per 16 KiB read in `cargo bench -p mqtt-tokio --bench clients`).
    fn give_back_burst_memory(&mut self) {
        shrink_if_drained(&mut self.events);
        shrink_if_drained(&mut self.control);
        self.outbound.shrink_if_drained();
    }

    /// What every end of a connection does: stop its timers, forget what belonged to it, report
    /// it, and schedule the next attempt. The caller sets the state after.
    fn end_connection(&mut self, now: I, reason: DisconnectReason) {
        let ended = match (self.connected_at, &reason) {
            (Some(at), _) => Ended::Accepted(now.saturating_duration_since(at)),
            (None, DisconnectReason::Refused(code, _))
            | (None, DisconnectReason::AuthenticationFailed(code)) => Ended::Refused(*code),
            (None, DisconnectReason::V5NotSupported { fallback: false }) => {
                Ended::Refused(ReasonCode::UnsupportedProtocolVersion)
            }
            (None, _) => Ended::Failed,
        };
        self.closed_by_session = true;
        self.reauthenticating = false;
        self.timers.stop_connection_timers();
        self.control.clear();
        self.give_back_burst_memory();
        let mut poisoned = Vec::new();
        let by_server = reason != DisconnectReason::Local;
        self.outbound
            .connection_lost(by_server, self.config.poison_limit, |e| poisoned.push(e));
        self.inbound.connection_lost();
        self.subs.connection_lost();
        self.ping_outstanding = false;
        self.connected_at = None;
        self.events.push_back(Event::Disconnected(reason));
        for entry in poisoned {
            let connections = entry.strikes.count();
            self.fail(entry, PublishFailure::NeverAcknowledged { connections });
        }
        if self.user_closed {
            self.reconnect.record(&self.config.backoff, ended);
        } else {
            self.plan_next(now, ended);
        }
    }

    /// Schedules the next attempt after `ended`, or stops reconnecting, as the policy says.
    fn plan_next(&mut self, now: I, ended: Ended) {
        match self.reconnect.after(&self.config.backoff, ended) {
            Next::After { delay, attempt } => {
                self.timers.set(Timer::Reconnect, after(now, delay));
                self.events
                    .push_back(Event::ReconnectScheduled { delay, attempt });
            }
            Next::Stop(stop) => {
                self.timers.stop(Timer::Reconnect);
                self.events.push_back(Event::ReconnectStopped(stop));
            }
        }
    }

    // ------------------------------------------------------------- persistence hooks

    #[allow(clippy::type_complexity)]
    pub(crate) fn parts(
        &self,
    ) -> (
        &PacketIds<T::PacketIds>,
        &Outbound<I, T>,
        &Inbound<T>,
        &Subscriptions<T>,
        u64,
    ) {
        (
            &self.ids,
            &self.outbound,
            &self.inbound,
            &self.subs,
            self.publish_seq,
        )
    }

    /// See [`Outbound::take_changes`].
    pub(crate) fn take_outgoing_changes(&mut self, into: &mut Vec<u64>) -> bool {
        self.outbound.take_changes(into)
    }

    pub(crate) fn restore_parts(
        &mut self,
        client_id: MqttString,
        next_packet_id: u16,
        publish_seq: u64,
        outgoing: Vec<Outgoing<I>>,
        inbound_qos2: Vec<PacketId>,
        subscriptions: Vec<(SubscribeFilter, Option<SubscriptionIdentifier>)>,
    ) -> Result<(), ConfigError> {
        self.client_id = client_id;
        self.resumable = true;
        // Never hand out a PublishId or a Subscription Identifier that a restored entry has.
        self.publish_seq = outgoing.iter().map(|e| e.id.0).fold(publish_seq, u64::max);
        self.request_seq = subscriptions
            .iter()
            .filter_map(|(_, id)| id.map(|i| u64::from(i.get())))
            .fold(self.request_seq, u64::max);
        for entry in outgoing {
            if let Some(id) = entry.packet_id() {
                self.ids.claim(id);
            }
            self.outbound
                .restore(entry)
                .map_err(|_| ConfigError::SnapshotTooLarge("outbound publishes"))?;
        }
        self.ids.set_next(next_packet_id);
        for id in inbound_qos2 {
            self.inbound
                .set_qos2(id, Qos2::Received)
                .map_err(|_| ConfigError::SnapshotTooLarge("inbound QoS 2 messages"))?;
        }
        for (filter, identifier) in subscriptions {
            let request = self.next_request();
            let key = self.subs.new_key();
            self.subs.list.push(Subscription {
                key,
                request,
                filter,
                identifier,
                active: true,
                remake: false,
            });
        }
        Ok(())
    }
}

/// Gives back the memory of a queue that grew in a burst and is empty again; small queues keep
/// theirs, so steady traffic allocates nothing.
fn shrink_if_drained<T>(queue: &mut VecDeque<T>) {
    if queue.is_empty() && queue.capacity() > 16 {
        queue.shrink_to(4);
    }
}

fn unexpected(packet: PacketType) -> mqtt_proto::Error {
    mqtt_proto::Error::UnexpectedPacket {
        packet,
        from: Role::Server,
    }
}

/// Whether a packet of `len` bytes is over the server's Maximum Packet Size. The optional
/// Reason String and User Properties of DISCONNECT and AUTH are left out, in that order, until
/// the packet fits; PUBACK, PUBREC, PUBREL and PUBCOMP never carry them ([MQTT-3.4.2-2],
/// [MQTT-3.4.2-3], [MQTT-3.5.2-2], [MQTT-3.5.2-3], [MQTT-3.6.2-2], [MQTT-3.6.2-3],
/// [MQTT-3.7.2-2], [MQTT-3.7.2-3]).
fn too_large(max: Option<u32>, len: Result<usize, EncodeError>) -> bool {
    matches!((max, len), (Some(max), Ok(len)) if len > max as usize)
}
