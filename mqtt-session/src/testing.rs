//! A scripted broker and a virtual clock (feature `testing`): drive a [`Session`] through a
//! conversation whose every server packet the test chooses, at simulated speed, and look at
//! exactly what the session wrote and reported. Hours of protocol time run in microseconds:
//! [`Pair::advance_to_next_timeout`] jumps the clock to the session's next deadline.
//!
//! This is for unit tests of exact protocol behaviour; integration tests use a real broker.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use alloc::vec::Vec;
use bytes::BytesMut;
use core::time::Duration;
use mqtt_proto::{ConnAck, Connect, Decoded, Decoder, Packet, ProtocolVersion, PubResponse, Role};

use crate::{Config, Event, Session, Tables, Timer};

/// A point in virtual time: the time since the test began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct VirtualInstant(pub Duration);

impl crate::Instant for VirtualInstant {
    fn checked_add(&self, duration: Duration) -> Option<Self> {
        self.0.checked_add(duration).map(VirtualInstant)
    }
    fn saturating_duration_since(&self, earlier: Self) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

/// The tables of the session a [`Pair`] drives: growable, or with feature `testing-bounded`
/// fixed ones, large enough for every test of this crate that is not about a full table, so
/// that the whole suite runs against the fixed-capacity tables too.
#[cfg(not(feature = "testing-bounded"))]
pub type TestTables = crate::Growable;
/// The tables of the session a [`Pair`] drives: growable, or with feature `testing-bounded`
/// fixed ones, large enough for every test of this crate that is not about a full table, so
/// that the whole suite runs against the fixed-capacity tables too.
#[cfg(feature = "testing-bounded")]
pub type TestTables = crate::Bounded<256, 64, 16, 256>;

/// The Receive Maximum a [`Pair`]'s CONNECT carries with a default configuration: none (the
/// default 65,535 is left out) with growable tables, the inbound capacity with bounded ones.
#[cfg(not(feature = "testing-bounded"))]
pub const CONNECT_RECEIVE_MAXIMUM: Option<core::num::NonZeroU16> = None;
/// The Receive Maximum a [`Pair`]'s CONNECT carries with a default configuration: none (the
/// default 65,535 is left out) with growable tables, the inbound capacity with bounded ones.
#[cfg(feature = "testing-bounded")]
pub const CONNECT_RECEIVE_MAXIMUM: Option<core::num::NonZeroU16> = core::num::NonZeroU16::new(64);

/// The session a [`Pair`] drives.
pub type TestSession = Session<VirtualInstant, TestTables>;

/// A session, the server end of its connection, and a virtual clock.
#[derive(Debug)]
pub struct Pair<T: Tables = TestTables> {
    /// The session under test.
    pub session: Session<VirtualInstant, T>,
    /// The virtual time.
    pub now: VirtualInstant,
    /// Whether the transport is open.
    pub open: bool,
    client_bytes: BytesMut,
    events: Vec<Event>,
}

impl Pair {
    /// A pair with a session made from `config`, not connected yet.
    pub fn new(config: Config) -> Self {
        Self::with_tables(config)
    }
}

impl<T: Tables> Pair<T> {
    /// A pair with a session made from `config` that keeps its tables in `T`, not connected
    /// yet.
    pub fn with_tables(config: Config) -> Self {
        Pair {
            session: Session::with_tables(config).expect("valid config"),
            now: VirtualInstant::default(),
            open: false,
            client_bytes: BytesMut::new(),
            events: Vec::new(),
        }
    }

    /// The protocol version the session speaks now (it may fall back from v5 to 3.1.1:
    /// `Config::v311_fallback`).
    pub fn version(&self) -> ProtocolVersion {
        self.session.protocol_version()
    }

    /// Drains the session's outputs: returns the packets it wrote (decoded as a server would)
    /// and keeps its events for [`Pair::events`]. Closes the transport when the session ended
    /// the connection.
    pub fn pump(&mut self) -> Vec<Packet> {
        let mut packets = Vec::new();
        loop {
            let mut buf = BytesMut::new();
            let n = self.session.poll_transmit(self.now, &mut buf);
            if self.open {
                self.client_bytes.extend_from_slice(&buf);
            }
            let decoder = Decoder::new(self.version(), Role::Client);
            while let Decoded::Packet(p) = decoder
                .decode(&mut self.client_bytes)
                .expect("the session writes valid packets")
            {
                packets.push(p);
            }
            while let Some(e) = self.session.poll_event() {
                self.events.push(e);
            }
            if n == 0 {
                break;
            }
        }
        if self.open && self.session.state() == crate::State::Idle {
            self.open = false;
            self.client_bytes.clear();
            self.session.handle_closed(self.now);
            while let Some(e) = self.session.poll_event() {
                self.events.push(e);
            }
        }
        packets
    }

    /// Opens the transport: the session writes its CONNECT, which is returned.
    pub fn open(&mut self) -> Connect {
        self.open = true;
        self.client_bytes.clear();
        self.session.handle_connected(self.now);
        let mut packets = self.pump();
        assert!(!packets.is_empty(), "no CONNECT written");
        match packets.remove(0) {
            Packet::Connect(c) => *c,
            other => panic!("expected CONNECT, got {other:?}"),
        }
    }

    /// Opens the transport and accepts the connection with this CONNACK; returns the packets
    /// the session wrote after it.
    pub fn connect_with(&mut self, connack: ConnAck) -> Vec<Packet> {
        self.open();
        self.send(connack)
    }

    /// Opens the transport and accepts the connection without a session.
    pub fn connect(&mut self) -> Vec<Packet> {
        self.connect_with(ConnAck::default())
    }

    /// Sends bytes as the server; returns the packets the session wrote in response.
    pub fn send_bytes(&mut self, bytes: &[u8]) -> Vec<Packet> {
        let mut buf = BytesMut::from(bytes);
        self.session.handle_read(self.now, &mut buf);
        self.pump()
    }

    /// Sends a packet as the server; returns the packets the session wrote in response.
    pub fn send(&mut self, packet: impl Into<Packet>) -> Vec<Packet> {
        let packet = packet.into();
        let mut buf = BytesMut::new();
        packet
            .encode(self.version(), &mut buf)
            .expect("the script sends valid packets");
        self.send_bytes(&buf)
    }

    /// Sends an acknowledgement packet (`kind` one of PUBACK, PUBREC, PUBREL, PUBCOMP).
    pub fn send_ack(&mut self, kind: mqtt_proto::PacketType, ack: PubResponse) -> Vec<Packet> {
        let mut buf = BytesMut::new();
        ack.encode(kind, self.version(), &mut buf)
            .expect("valid acknowledgement");
        self.send_bytes(&buf)
    }

    /// The transport breaks.
    pub fn drop_connection(&mut self) {
        self.open = false;
        self.client_bytes.clear();
        self.session.handle_closed(self.now);
        self.pump();
    }

    /// Moves the clock forward and lets the session handle its deadlines; returns what it
    /// wrote.
    pub fn advance(&mut self, by: Duration) -> Vec<Packet> {
        self.now = VirtualInstant(self.now.0 + by);
        self.session.handle_timeout(self.now);
        self.pump()
    }

    /// Jumps the clock to the next deadline (if any) and handles it; returns the reason and
    /// what the session wrote.
    pub fn advance_to_next_timeout(&mut self) -> Option<(Timer, Vec<Packet>)> {
        let (at, timer) = self.session.next_timeout()?;
        if at > self.now {
            self.now = at;
        }
        self.session.handle_timeout(self.now);
        Some((timer, self.pump()))
    }

    /// Runs a command on the session at the current time, then drains its outputs.
    pub fn command<R>(
        &mut self,
        f: impl FnOnce(&mut Session<VirtualInstant, T>, VirtualInstant) -> R,
    ) -> (R, Vec<Packet>) {
        let result = f(&mut self.session, self.now);
        (result, self.pump())
    }

    /// The events reported since the last call.
    pub fn events(&mut self) -> Vec<Event> {
        core::mem::take(&mut self.events)
    }
}
