//! What a session is configured with: the CONNECT it sends and the policies it follows.

use bytes::Bytes;
use core::time::Duration;
use mqtt_proto::{Connect, ConnectProperties, MqttString, ProtocolVersion, UserProperties, Will};

/// The reconnect policy: when the session wants its next connection after one ended without
/// [`Session::disconnect`](crate::Session::disconnect). Each delay is drawn uniformly from
/// zero to a ceiling ("full jitter"), so that clients cut off together do not come back
/// together; the ceiling follows what the last attempts say about the server:
///
/// * **An attempt the server never accepted** (the transport failed, no CONNACK in time, a
///   refusing CONNACK, a connection lost before its CONNACK) multiplies the ceiling by
///   `multiplier_tenths / 10`, up to `max`. This is what an overloaded or absent broker looks
///   like from the client, so a fleet spreads its attempts out to `max`.
/// * **A connection the server accepted** (CONNACK success) shows the broker can take the
///   client: when it is lost, the attempts start over from the first step, so a cut link is
///   back within `initial` rather than after a ceiling earlier failures raised.
/// * **Accepted connections that drop soon, one after another** (each before `stable_after`)
///   raise that first step by `initial` each, up to `flap_max`: a server that accepts and then
///   drops clients (shedding load, a client identifier taken over by another client) sees each
///   of them at most once per `flap_max / 2` on average instead of every `initial / 2`, while a
///   client on a flapping link still reconnects within a few seconds. A connection that stays
///   up `stable_after` clears it. Failed attempts after a dropped connection grow from that
///   step.
///
/// Refusals that retrying cannot change (bad credentials, banned, not authorized, an unusable
/// client identifier or protocol version, a CONNECT the server cannot take) stop reconnecting
/// unless `retry_refused` is set: see
/// [`DisconnectReason::is_permanent`](crate::DisconnectReason::is_permanent). With `enabled`
/// false every lost connection stops it. Either way the session reports
/// [`Event::ReconnectStopped`](crate::Event::ReconnectStopped) and waits for
/// [`Session::reconnect`](crate::Session::reconnect).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    /// Ceiling of the first delay (default 0.5 s).
    pub initial: Duration,
    /// The ceiling never grows past this (default 60 s).
    pub max: Duration,
    /// Each failed attempt multiplies the ceiling by this (in tenths: 20 = 2.0x, the default).
    pub multiplier_tenths: u32,
    /// The most the first step after an accepted connection grows to while accepted
    /// connections keep dropping before `stable_after` (default 2 s; never below `initial`,
    /// never above `max`).
    pub flap_max: Duration,
    /// A connection that stayed up this long clears the backoff (default 30 s).
    pub stable_after: Duration,
    /// Whether to reconnect at all after a connection ends without `disconnect` (default
    /// true). When false, the session connects again only once the application calls
    /// [`Session::reconnect`](crate::Session::reconnect).
    pub enabled: bool,
    /// Whether a refusal that retrying cannot change is retried with backoff like any other
    /// failed attempt (default false: reconnecting stops until
    /// [`Session::reconnect`](crate::Session::reconnect)). For brokers known to refuse
    /// credentials for a while (an authorization service that is down) and then accept them.
    pub retry_refused: bool,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(60),
            multiplier_tenths: 20,
            flap_max: Duration::from_secs(2),
            stable_after: Duration::from_secs(30),
            enabled: true,
            retry_refused: false,
        }
    }
}

/// What the session does with a publish when its offline queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueFullPolicy {
    /// Refuse the new publish with [`Error::QueueFull`](crate::Error::QueueFull): the caller
    /// decides (backpressure). Nothing already accepted is ever dropped.
    #[default]
    RejectNew,
}

/// The configuration of a [`Session`](crate::Session).
///
/// Every field has a default ([`Config::new`]); v5-only fields are ignored for v3.1.1. Its
/// `Debug` output leaves the password and the authentication data out.
#[derive(Clone)]
pub struct Config {
    /// The protocol version to speak.
    pub protocol_version: ProtocolVersion,
    /// Client Identifier; empty asks the server to assign one (v5), which is then kept for
    /// reconnects.
    pub client_id: MqttString,
    /// Clean Start on the first connection. Later connections of the same session always try
    /// to resume it (v5, and v3.1.1 when `clean_start` is false).
    pub clean_start: bool,
    /// Keep Alive; zero turns keep-alive off. Sent in whole seconds.
    pub keep_alive: Duration,
    /// How long a PINGREQ may go unanswered before the connection is declared dead; `None`
    /// means the keep-alive interval itself (30 s when keep-alive is off).
    pub response_timeout: Option<Duration>,
    /// How long after the transport came up the CONNACK may take (the whole enhanced
    /// authentication exchange included) before the attempt counts as failed. Default 10 s: a
    /// server that has not answered CONNECT by then is overloaded or not an MQTT server, and
    /// the keep-alive (minutes, even hours) would leave the client waiting that long.
    pub connack_timeout: Duration,
    /// User Name.
    pub username: Option<MqttString>,
    /// Password.
    pub password: Option<Bytes>,
    /// The will message.
    pub will: Option<Will>,
    /// Session Expiry Interval in seconds (v5). `u32::MAX` never expires.
    pub session_expiry_interval: u32,
    /// Receive Maximum: how many QoS 1/2 messages the server may have unacknowledged towards
    /// us (v5); also the client-side cap in manual-ack mode.
    pub receive_maximum: u16,
    /// Maximum Packet Size the client accepts; larger packets from the server are a
    /// DISCONNECT 0x95.
    pub maximum_packet_size: u32,
    /// The largest PUBLISH the client sends, whole packet counted; a larger message is
    /// refused by [`Session::publish`](crate::Session::publish) with
    /// [`Error::ExceedsOutgoingLimit`](crate::Error::ExceedsOutgoingLimit). On v5 the
    /// server's Maximum Packet Size applies as well (the lower one wins); v3.1.1 servers
    /// announce no limit and drop the connection of a client that goes over theirs, so set
    /// this to the broker's limit there. `None` (the default): no limit of the client's own.
    pub max_outgoing_packet_size: Option<u32>,
    /// Topic Alias Maximum the client accepts from the server (v5).
    pub topic_alias_maximum: u16,
    /// The most topic aliases the client assigns itself (capped by the server's maximum);
    /// zero turns outbound aliases off.
    pub outbound_topic_aliases: u16,
    /// Request Response Information (v5).
    pub request_response_information: bool,
    /// Request Problem Information (v5); `None` leaves the server's default (true).
    pub request_problem_information: Option<bool>,
    /// User Properties of CONNECT (v5).
    pub user_properties: UserProperties,
    /// Authentication Method for enhanced authentication (v5).
    pub authentication_method: Option<MqttString>,
    /// Initial Authentication Data (v5).
    pub authentication_data: Option<Bytes>,
    /// The most QoS 1/2 publishes unacknowledged at once, whatever the server allows (v5: the
    /// lower of this and the server's Receive Maximum). v3.1.1 has no way to learn the broker's
    /// window, and brokers drop or refuse publishes beyond it (a stock mosquitto acknowledges
    /// and silently discards the QoS 2 messages past its 20th in flight), so the default is
    /// 20, mosquitto's own; raise it for a broker known to take more. A publish waiting for
    /// the window goes as soon as an acknowledgement frees a place.
    pub max_inflight: u16,
    /// Whether inbound QoS 1/2 messages are acknowledged only when the application says so
    /// ([`Session::ack`](crate::Session::ack)). Acknowledgements then still go out in the order
    /// the messages arrived.
    pub manual_acks: bool,
    /// The most publishes (of any QoS) that wait for a connection or for flow-control room;
    /// beyond it [`QueueFullPolicy`] applies.
    pub max_queued: usize,
    /// What happens when the queue is full.
    pub queue_full: QueueFullPolicy,
    /// [`Session::poll_transmit`](crate::Session::poll_transmit) encodes no further PUBLISH
    /// once the caller's buffer holds this many bytes (one larger PUBLISH still goes into a
    /// buffer below it). The rest wait in the queue until the driver has written the buffer
    /// out, so the buffer stays about this size however many publishes are queued, and a burst
    /// reuses its memory instead of growing it. Acknowledgements and other control packets are
    /// never held back. Default 64 KiB.
    pub transmit_buffer_limit: usize,
    /// After how many connections in a row a QoS 1/2 publish is given up as one the server
    /// will not take. A connection that the server ended (not the application) counts against
    /// the first publish written on it that the server never showed it read (nothing written
    /// from it on was acknowledged): where the server stopped reading. Once a publish has
    /// been that point this many times in a row it fails with
    /// [`PublishFailure::NeverAcknowledged`](crate::PublishFailure::NeverAcknowledged) and
    /// leaves the queue, so the publishes behind it flow: a v3.1.1 broker drops the
    /// connection of a client whose message is too large or not allowed, and resending it on
    /// every reconnect would never end. Any acknowledgement of the publish, or of one written
    /// after it, starts its count over, so ordinary cuts while acknowledgements flow do not
    /// add up. Counts are not kept in snapshots.
    ///
    /// Default 0 (off): to a client, a broker that drops the connection on a message looks
    /// like a network that cuts it at that moment, and under a burst of cuts (a connection
    /// cut every few tens of milliseconds) a QoS 2 flow can go several connections without an
    /// acknowledgement; giving a message up then would lose it. Set it (5 is a fair choice)
    /// for a v3.1.1 broker whose limits are not known; where they are, set
    /// [`Config::max_outgoing_packet_size`] instead, which refuses such a message at once.
    pub poison_limit: u16,
    /// For a v5 session: when the server turns out to speak only MQTT 3.1.1 (it answers the
    /// v5 CONNECT with a v3.1.1 CONNACK "unacceptable protocol version", or closes the
    /// connection before any answer), speak 3.1.1 from the next connection on, for the rest of
    /// the session's life ([`Session::protocol_version`](crate::Session::protocol_version)
    /// says which is in use). Default false: the refusal is reported as
    /// [`DisconnectReason::V5NotSupported`](crate::DisconnectReason::V5NotSupported) and not
    /// retried, and a silent close is an ordinary failed attempt.
    pub v311_fallback: bool,
    /// The reconnect policy.
    pub backoff: Backoff,
    /// Seed of the generator that draws the backoff jitter; the session draws no other
    /// randomness. Give each client a different seed.
    pub random_seed: u64,
}

impl core::fmt::Debug for Config {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Config")
            .field("protocol_version", &self.protocol_version)
            .field("client_id", &self.client_id)
            .field("clean_start", &self.clean_start)
            .field("keep_alive", &self.keep_alive)
            .field("response_timeout", &self.response_timeout)
            .field("connack_timeout", &self.connack_timeout)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("will", &self.will)
            .field("session_expiry_interval", &self.session_expiry_interval)
            .field("receive_maximum", &self.receive_maximum)
            .field("maximum_packet_size", &self.maximum_packet_size)
            .field("max_outgoing_packet_size", &self.max_outgoing_packet_size)
            .field("topic_alias_maximum", &self.topic_alias_maximum)
            .field("outbound_topic_aliases", &self.outbound_topic_aliases)
            .field(
                "request_response_information",
                &self.request_response_information,
            )
            .field(
                "request_problem_information",
                &self.request_problem_information,
            )
            .field("user_properties", &self.user_properties)
            .field("authentication_method", &self.authentication_method)
            .field(
                "authentication_data",
                &self.authentication_data.as_ref().map(|_| "<redacted>"),
            )
            .field("max_inflight", &self.max_inflight)
            .field("manual_acks", &self.manual_acks)
            .field("max_queued", &self.max_queued)
            .field("queue_full", &self.queue_full)
            .field("transmit_buffer_limit", &self.transmit_buffer_limit)
            .field("poison_limit", &self.poison_limit)
            .field("backoff", &self.backoff)
            .field("random_seed", &self.random_seed)
            .finish()
    }
}

impl Config {
    /// A configuration with defaults: clean start, keep-alive 60 s, CONNACK within 10 s,
    /// receive maximum 65,535, maximum packet size 1 MiB, up to 16 outbound topic aliases
    /// (within the server's maximum), 1,000 queued publishes, reconnect with 0.5 s to 60 s
    /// backoff.
    pub fn new(protocol_version: ProtocolVersion, client_id: MqttString) -> Self {
        Config {
            protocol_version,
            client_id,
            clean_start: true,
            keep_alive: Duration::from_secs(60),
            response_timeout: None,
            connack_timeout: Duration::from_secs(10),
            username: None,
            password: None,
            will: None,
            session_expiry_interval: 0,
            receive_maximum: u16::MAX,
            maximum_packet_size: 1024 * 1024,
            max_outgoing_packet_size: None,
            topic_alias_maximum: 0,
            outbound_topic_aliases: 16,
            request_response_information: false,
            request_problem_information: None,
            user_properties: UserProperties::default(),
            authentication_method: None,
            authentication_data: None,
            max_inflight: 20,
            manual_acks: false,
            max_queued: 1000,
            queue_full: QueueFullPolicy::RejectNew,
            transmit_buffer_limit: 64 * 1024,
            poison_limit: 0,
            v311_fallback: false,
            backoff: Backoff::default(),
            random_seed: 0x5EED,
        }
    }

    /// The keep-alive in whole seconds as CONNECT carries it (at most 65,535).
    pub(crate) fn keep_alive_secs(&self) -> u16 {
        self.keep_alive.as_secs().min(u64::from(u16::MAX)) as u16
    }

    /// The CONNECT for one connection attempt.
    pub(crate) fn connect(&self, client_id: &MqttString, clean_start: bool) -> Connect {
        let mut c = Connect::new(self.protocol_version, client_id.clone());
        c.clean_start = clean_start;
        c.keep_alive = self.keep_alive_secs();
        c.username = self.username.clone();
        c.password = self.password.clone();
        c.will = self.will.clone();
        if self.protocol_version == ProtocolVersion::V5 {
            let p: &mut ConnectProperties = &mut c.properties;
            p.session_expiry_interval =
                (self.session_expiry_interval != 0).then_some(self.session_expiry_interval);
            p.receive_maximum =
                core::num::NonZeroU16::new(self.receive_maximum).filter(|r| r.get() != u16::MAX);
            p.maximum_packet_size = core::num::NonZeroU32::new(self.maximum_packet_size)
                .filter(|m| m.get() < mqtt_proto::MAX_VARINT + 5);
            p.topic_alias_maximum =
                (self.topic_alias_maximum != 0).then_some(self.topic_alias_maximum);
            p.request_response_information = self.request_response_information.then_some(true);
            p.request_problem_information = self.request_problem_information;
            p.user_properties = self.user_properties.clone();
            p.authentication_method = self.authentication_method.clone();
            p.authentication_data = self.authentication_data.clone();
        }
        c
    }
}
