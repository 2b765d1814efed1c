//! Operation statistics: what a connection task has done, readable at any time from any clone
//! of the [`Client`](crate::Client) ([`Client::statistics`](crate::Client::statistics)), also
//! after the task ended.
//!
//! The connection task is the only writer. It keeps its counters in atomics shared with the
//! clients (one `Arc`), and, being the only writer, adds to them with a relaxed load and store
//! rather than a locked read-modify-write: counting costs a few plain memory operations on the
//! hot path, no lock, no allocation, no system call. A reader takes a [`Statistics`] snapshot
//! with relaxed loads: each figure is one the task wrote, though figures taken together may
//! be a turn of the task apart.
//!
//! With the `metrics` feature, [`Statistics::record_metrics`] hands a snapshot to the
//! [`metrics`](https://docs.rs/metrics) facade (see its docs for the names).

use mqtt_proto::{QoS, ReasonCode};
use mqtt_session::DisconnectReason;
use std::sync::atomic::{AtomicU64, Ordering};

#[cfg(feature = "metrics")]
mod export;

/// A counter or gauge with one writer: the connection task.
#[derive(Debug, Default)]
struct Cell(AtomicU64);

impl Cell {
    /// Adds `n`. A load and a store, not an atomic add: only the connection task writes, so
    /// no update can come between them.
    #[inline]
    fn add(&self, n: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    #[inline]
    fn set(&self, n: u64) {
        self.0.store(n, Ordering::Relaxed);
    }

    #[inline]
    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Why a connection ended, in a few categories (the [`DisconnectReason`]s of the session,
/// grouped by what an operator does about them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectCause {
    /// The transport closed or failed: the server or the network closed it, or a read or a
    /// write failed ([`DisconnectReason::TransportClosed`]).
    TransportClosed,
    /// No PINGRESP in time after a PINGREQ ([`DisconnectReason::KeepAliveTimeout`]).
    KeepAliveTimeout,
    /// No CONNACK in time ([`DisconnectReason::ConnAckTimeout`]).
    ConnAckTimeout,
    /// The server sent DISCONNECT (v5) ([`DisconnectReason::Server`]).
    ServerDisconnect,
    /// The server refused the connection in its CONNACK, or refused MQTT 5
    /// ([`DisconnectReason::Refused`], [`DisconnectReason::V5NotSupported`]).
    ConnectRefused,
    /// The server broke the protocol ([`DisconnectReason::ProtocolError`]).
    ProtocolError,
    /// The server's side of enhanced authentication failed its check
    /// ([`DisconnectReason::AuthenticationFailed`]).
    AuthenticationFailed,
    /// The application disconnected ([`DisconnectReason::Local`]).
    Local,
}

impl DisconnectCause {
    /// Every cause, in the order of [`Disconnects`]' fields.
    pub const ALL: [DisconnectCause; 8] = [
        DisconnectCause::TransportClosed,
        DisconnectCause::KeepAliveTimeout,
        DisconnectCause::ConnAckTimeout,
        DisconnectCause::ServerDisconnect,
        DisconnectCause::ConnectRefused,
        DisconnectCause::ProtocolError,
        DisconnectCause::AuthenticationFailed,
        DisconnectCause::Local,
    ];

    /// The category of `reason`.
    pub fn of(reason: &DisconnectReason) -> DisconnectCause {
        match reason {
            DisconnectReason::TransportClosed => DisconnectCause::TransportClosed,
            DisconnectReason::KeepAliveTimeout => DisconnectCause::KeepAliveTimeout,
            DisconnectReason::ConnAckTimeout => DisconnectCause::ConnAckTimeout,
            DisconnectReason::Server(..) => DisconnectCause::ServerDisconnect,
            DisconnectReason::Refused(..) | DisconnectReason::V5NotSupported { .. } => {
                DisconnectCause::ConnectRefused
            }
            DisconnectReason::ProtocolError(..) => DisconnectCause::ProtocolError,
            DisconnectReason::AuthenticationFailed(_) => DisconnectCause::AuthenticationFailed,
            DisconnectReason::Local => DisconnectCause::Local,
        }
    }

    /// A short name in snake case (the `reason` label of the exported metrics).
    pub fn name(self) -> &'static str {
        match self {
            DisconnectCause::TransportClosed => "transport_closed",
            DisconnectCause::KeepAliveTimeout => "keep_alive_timeout",
            DisconnectCause::ConnAckTimeout => "connack_timeout",
            DisconnectCause::ServerDisconnect => "server_disconnect",
            DisconnectCause::ConnectRefused => "connect_refused",
            DisconnectCause::ProtocolError => "protocol_error",
            DisconnectCause::AuthenticationFailed => "authentication_failed",
            DisconnectCause::Local => "local",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// No reason code recorded yet (reason codes are bytes).
const NO_REASON: u64 = 0x100;

/// The counters and gauges of one connection task, shared with its clients.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    messages_sent: [Cell; 3],
    payload_bytes_sent: [Cell; 3],
    messages_received: [Cell; 3],
    payload_bytes_received: [Cell; 3],
    bytes_sent: Cell,
    bytes_received: Cell,
    publishes_completed: Cell,
    publishes_failed: Cell,
    publishes_in_flight: Cell,
    publishes_queued: Cell,
    acks_owed: Cell,
    inbound_buffered_bytes: Cell,
    connections: Cell,
    connect_failures: Cell,
    redirects: Cell,
    disconnects: [Cell; DisconnectCause::ALL.len()],
    /// The reason code of the last DISCONNECT or refusing CONNACK from the server, or
    /// [`NO_REASON`].
    last_server_reason: LastReason,
}

/// [`Counters::last_server_reason`]: starts at [`NO_REASON`].
#[derive(Debug)]
struct LastReason(Cell);

impl Default for LastReason {
    fn default() -> Self {
        LastReason(Cell(AtomicU64::new(NO_REASON)))
    }
}

impl Counters {
    /// The connection task took a publish of `payload` bytes at `qos` from the application.
    #[inline]
    pub(crate) fn message_sent(&self, qos: QoS, payload: usize) {
        let q = qos as usize;
        self.messages_sent[q].add(1);
        self.payload_bytes_sent[q].add(payload as u64);
    }

    /// A message of `payload` bytes arrived at `qos`.
    #[inline]
    pub(crate) fn message_received(&self, qos: QoS, payload: usize) {
        let q = qos as usize;
        self.messages_received[q].add(1);
        self.payload_bytes_received[q].add(payload as u64);
    }

    /// `n` bytes of MQTT packets were encoded for the transport.
    #[inline]
    pub(crate) fn wrote(&self, n: usize) {
        self.bytes_sent.add(n as u64);
    }

    /// `n` bytes of MQTT packets were read and decoded.
    #[inline]
    pub(crate) fn read(&self, n: usize) {
        self.bytes_received.add(n as u64);
    }

    /// A publish completed (QoS 0 written, QoS 1 acknowledged, QoS 2 completed).
    pub(crate) fn publish_completed(&self) {
        self.publishes_completed.add(1);
    }

    /// A publish ended without delivery.
    pub(crate) fn publish_failed(&self) {
        self.publishes_failed.add(1);
    }

    /// The gauges, as the connection task knows them after a turn.
    #[inline]
    pub(crate) fn set_gauges(&self, in_flight: usize, queued: usize, acks: usize, held: usize) {
        self.publishes_in_flight.set(in_flight as u64);
        self.publishes_queued.set(queued as u64);
        self.acks_owed.set(acks as u64);
        self.inbound_buffered_bytes.set(held as u64);
    }

    /// The server accepted a connection (CONNACK).
    pub(crate) fn connected(&self) {
        self.connections.add(1);
    }

    /// A connection attempt failed before MQTT began.
    pub(crate) fn connect_failed(&self) {
        self.connect_failures.add(1);
    }

    /// The next connection follows a server's redirect.
    pub(crate) fn redirected(&self) {
        self.redirects.add(1);
    }

    /// A connection ended for `reason`.
    pub(crate) fn disconnected(&self, reason: &DisconnectReason) {
        self.disconnects[DisconnectCause::of(reason).index()].add(1);
        let code = match reason {
            DisconnectReason::Server(code, _) | DisconnectReason::Refused(code, _) => *code,
            _ => return,
        };
        self.last_server_reason.0.set(u64::from(code.value()));
    }

    /// A snapshot.
    pub(crate) fn snapshot(&self) -> Statistics {
        let per_qos = |cells: &[Cell; 3]| PerQoS {
            at_most_once: cells[0].get(),
            at_least_once: cells[1].get(),
            exactly_once: cells[2].get(),
        };
        let d = |cause: DisconnectCause| self.disconnects[cause.index()].get();
        let connections = self.connections.get();
        Statistics {
            messages_sent: per_qos(&self.messages_sent),
            payload_bytes_sent: per_qos(&self.payload_bytes_sent),
            messages_received: per_qos(&self.messages_received),
            payload_bytes_received: per_qos(&self.payload_bytes_received),
            bytes_sent: self.bytes_sent.get(),
            bytes_received: self.bytes_received.get(),
            publishes_completed: self.publishes_completed.get(),
            publishes_failed: self.publishes_failed.get(),
            publishes_in_flight: self.publishes_in_flight.get(),
            publishes_queued: self.publishes_queued.get(),
            acks_owed: self.acks_owed.get(),
            inbound_buffered_bytes: self.inbound_buffered_bytes.get(),
            connections,
            reconnects: connections.saturating_sub(1),
            connect_failures: self.connect_failures.get(),
            redirects: self.redirects.get(),
            disconnects: Disconnects {
                transport_closed: d(DisconnectCause::TransportClosed),
                keep_alive_timeout: d(DisconnectCause::KeepAliveTimeout),
                connack_timeout: d(DisconnectCause::ConnAckTimeout),
                server_disconnect: d(DisconnectCause::ServerDisconnect),
                connect_refused: d(DisconnectCause::ConnectRefused),
                protocol_error: d(DisconnectCause::ProtocolError),
                authentication_failed: d(DisconnectCause::AuthenticationFailed),
                local: d(DisconnectCause::Local),
            },
            last_server_reason: u8::try_from(self.last_server_reason.0.get())
                .ok()
                .and_then(ReasonCode::from_u8),
        }
    }
}

/// A figure for each QoS level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PerQoS {
    /// At QoS 0, at most once.
    pub at_most_once: u64,
    /// At QoS 1, at least once.
    pub at_least_once: u64,
    /// At QoS 2, exactly once.
    pub exactly_once: u64,
}

impl PerQoS {
    /// The figure for `qos`.
    pub fn get(&self, qos: QoS) -> u64 {
        match qos {
            QoS::AtMostOnce => self.at_most_once,
            QoS::AtLeastOnce => self.at_least_once,
            QoS::ExactlyOnce => self.exactly_once,
        }
    }

    /// The sum over the three levels.
    pub fn total(&self) -> u64 {
        self.at_most_once + self.at_least_once + self.exactly_once
    }
}

/// How many connections ended, by [`DisconnectCause`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Disconnects {
    /// The transport closed or failed (server or network closed it, a read or write failed).
    pub transport_closed: u64,
    /// No PINGRESP in time.
    pub keep_alive_timeout: u64,
    /// No CONNACK in time.
    pub connack_timeout: u64,
    /// The server sent DISCONNECT (v5; its reason code: [`Statistics::last_server_reason`]).
    pub server_disconnect: u64,
    /// The server refused the connection (CONNACK with an error, or MQTT 5 refused).
    pub connect_refused: u64,
    /// The server broke the protocol.
    pub protocol_error: u64,
    /// The server failed enhanced authentication.
    pub authentication_failed: u64,
    /// The application disconnected.
    pub local: u64,
}

impl Disconnects {
    /// The count for `cause`.
    pub fn get(&self, cause: DisconnectCause) -> u64 {
        match cause {
            DisconnectCause::TransportClosed => self.transport_closed,
            DisconnectCause::KeepAliveTimeout => self.keep_alive_timeout,
            DisconnectCause::ConnAckTimeout => self.connack_timeout,
            DisconnectCause::ServerDisconnect => self.server_disconnect,
            DisconnectCause::ConnectRefused => self.connect_refused,
            DisconnectCause::ProtocolError => self.protocol_error,
            DisconnectCause::AuthenticationFailed => self.authentication_failed,
            DisconnectCause::Local => self.local,
        }
    }

    /// Every connection that ended, whatever the cause.
    pub fn total(&self) -> u64 {
        DisconnectCause::ALL.iter().map(|&c| self.get(c)).sum()
    }
}

/// What a client's connection task has done since it started, and where it stands
/// ([`Client::statistics`](crate::Client::statistics)). Counters only grow; gauges
/// (`publishes_in_flight`, `publishes_queued`, `acks_owed`, `inbound_buffered_bytes`) are as
/// the task left them after its last turn.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Statistics {
    /// Publishes the connection task handed to the session, by QoS: sent at once, or queued
    /// for a connection or for room in the server's Receive Maximum. Publishes refused at once
    /// (an invalid message, the queue full while disconnecting) are not counted.
    pub messages_sent: PerQoS,
    /// The payload bytes of [`Statistics::messages_sent`].
    pub payload_bytes_sent: PerQoS,
    /// Messages that arrived from the server, by the QoS they arrived with (a QoS 2 message
    /// once, a QoS 1 message sent again with DUP once more).
    pub messages_received: PerQoS,
    /// The payload bytes of [`Statistics::messages_received`].
    pub payload_bytes_received: PerQoS,
    /// Bytes of MQTT packets written to the transport, every packet kind (the TLS and
    /// WebSocket framing around them not counted).
    pub bytes_sent: u64,
    /// Bytes of whole MQTT packets read from the transport, every packet kind (the TLS and
    /// WebSocket framing around them not counted).
    pub bytes_received: u64,
    /// Publishes that completed: QoS 0 written, QoS 1 acknowledged (PUBACK), QoS 2 completed
    /// (PUBCOMP), whatever the reason code.
    pub publishes_completed: u64,
    /// Publishes that ended without delivery (expired, refused, the session lost).
    pub publishes_failed: u64,
    /// Gauge: QoS 1/2 publishes sent and not yet acknowledged on this connection.
    pub publishes_in_flight: u64,
    /// Gauge: publishes waiting to be sent (for a connection, for room in the server's
    /// Receive Maximum, or for room in the session's queue).
    pub publishes_queued: u64,
    /// Gauge: QoS 1/2 messages received whose acknowledgement (PUBACK, PUBREC) has not gone
    /// out yet: waiting for a reader to take them, or for the application's manual ack.
    pub acks_owed: u64,
    /// Gauge: bytes of received messages held for subscription readers, counted against
    /// [`Options::inbound_budget`](crate::Options::inbound_budget).
    pub inbound_buffered_bytes: u64,
    /// Connections the server accepted (CONNACK with success).
    pub connections: u64,
    /// Connections accepted after the first.
    pub reconnects: u64,
    /// Connection attempts that failed before MQTT began (DNS, TCP, TLS, WebSocket, proxy,
    /// credentials, a TLS port reached with a plain scheme).
    pub connect_failures: u64,
    /// Server redirects (v5 Server Reference) the client followed.
    pub redirects: u64,
    /// Connections that ended, by cause.
    pub disconnects: Disconnects,
    /// The reason code of the last DISCONNECT from the server, or of the last CONNACK that
    /// refused a connection.
    pub last_server_reason: Option<ReasonCode>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_up_per_qos_and_gauges_hold_the_last_value() {
        let c = Counters::default();
        c.message_sent(QoS::AtMostOnce, 10);
        c.message_sent(QoS::AtLeastOnce, 20);
        c.message_sent(QoS::AtLeastOnce, 5);
        c.message_sent(QoS::ExactlyOnce, 7);
        c.message_received(QoS::ExactlyOnce, 3);
        c.wrote(100);
        c.wrote(1);
        c.read(42);
        c.publish_completed();
        c.publish_failed();
        c.set_gauges(1, 2, 3, 4);
        c.set_gauges(5, 6, 7, 8);
        let s = c.snapshot();
        assert_eq!(
            s.messages_sent,
            PerQoS {
                at_most_once: 1,
                at_least_once: 2,
                exactly_once: 1
            }
        );
        assert_eq!(s.payload_bytes_sent.get(QoS::AtLeastOnce), 25);
        assert_eq!(s.payload_bytes_sent.total(), 42);
        assert_eq!(s.messages_received.total(), 1);
        assert_eq!(s.payload_bytes_received.get(QoS::ExactlyOnce), 3);
        assert_eq!((s.bytes_sent, s.bytes_received), (101, 42));
        assert_eq!((s.publishes_completed, s.publishes_failed), (1, 1));
        assert_eq!(
            (
                s.publishes_in_flight,
                s.publishes_queued,
                s.acks_owed,
                s.inbound_buffered_bytes
            ),
            (5, 6, 7, 8)
        );
    }

    #[test]
    fn disconnects_are_counted_by_cause_and_reconnects_after_the_first_connection() {
        let c = Counters::default();
        assert_eq!(c.snapshot().reconnects, 0);
        assert_eq!(c.snapshot().last_server_reason, None);
        c.connected();
        c.disconnected(&DisconnectReason::KeepAliveTimeout);
        c.connect_failed();
        c.connected();
        c.disconnected(&DisconnectReason::Server(
            ReasonCode::ServerShuttingDown,
            Box::default(),
        ));
        c.disconnected(&DisconnectReason::TransportClosed);
        c.connected();
        c.disconnected(&DisconnectReason::Refused(
            ReasonCode::NotAuthorized,
            Box::default(),
        ));
        c.disconnected(&DisconnectReason::TransportClosed);
        c.redirected();
        let s = c.snapshot();
        assert_eq!((s.connections, s.reconnects), (3, 2));
        assert_eq!((s.connect_failures, s.redirects), (1, 1));
        assert_eq!(
            s.disconnects,
            Disconnects {
                transport_closed: 2,
                keep_alive_timeout: 1,
                server_disconnect: 1,
                connect_refused: 1,
                ..Disconnects::default()
            }
        );
        assert_eq!(s.disconnects.total(), 5);
        assert_eq!(s.last_server_reason, Some(ReasonCode::NotAuthorized));
    }

    #[test]
    fn every_cause_has_its_own_name_and_field() {
        let mut names: Vec<_> = DisconnectCause::ALL.iter().map(|c| c.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DisconnectCause::ALL.len());
        for (i, cause) in DisconnectCause::ALL.iter().enumerate() {
            assert_eq!(cause.index(), i);
            let c = Counters::default();
            c.disconnects[i].add(1);
            assert_eq!(c.snapshot().disconnects.get(*cause), 1);
        }
    }

    /// The snapshot is readable from another thread while the task counts.
    #[test]
    fn a_snapshot_is_read_from_another_thread() {
        let c = std::sync::Arc::new(Counters::default());
        let reader = {
            let c = c.clone();
            std::thread::spawn(move || {
                let mut last = 0;
                for _ in 0..1000 {
                    let now = c.snapshot().bytes_sent;
                    assert!(now >= last, "a counter never goes back");
                    last = now;
                }
            })
        };
        for _ in 0..1000 {
            c.wrote(1);
        }
        reader.join().unwrap();
        assert_eq!(c.snapshot().bytes_sent, 1000);
    }
}
