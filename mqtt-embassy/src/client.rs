//! The [`Client`]: one MQTT connection over an embassy-net TCP socket, driven by the caller's
//! awaits.

use crate::{DefaultTables, Error, Instant};
use alloc::vec;
use bytes::{Bytes, BytesMut};
use embassy_futures::select::{select, Either};
use embassy_net::tcp::TcpSocket;
use embassy_net::{IpEndpoint, Stack};
use embassy_time::Timer;
use mqtt_proto::{QoS, ReasonCode, SubscribeFilter, TopicFilter, TopicName};
use mqtt_session::{
    Config, DisconnectReason, Event, Message, OutboundMessage, PublishFailure, PublishId,
    ReconnectStop, RequestId, Session, State, Tables,
};

/// Bytes asked of the socket per read: the session keeps a partial packet between reads.
const READ_CHUNK: usize = 512;

/// What the awaiting operation waits for, matched against the session's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    Nothing,
    Publish(PublishId),
    Subscribe(RequestId),
}

/// The outcome of the awaited operation, once its event came.
#[derive(Debug)]
enum Outcome {
    Published(Result<(), PublishFailure>),
    Subscribed(Result<QoS, ReasonCode>),
}

/// An MQTT client over one embassy-net [`TcpSocket`]: it owns the sans-IO
/// [`Session`] and moves bytes and time between it and the socket while one of its methods is
/// awaited. Keep-alive, acknowledgements and reconnecting (with the session's
/// [`Backoff`](mqtt_session::Backoff)) happen inside those awaits; a program that has nothing
/// to do between readings awaits [`Client::run_for`] instead of a bare timer, so PINGREQ goes
/// out on time.
///
/// The type parameters fix the memory at compile time:
///
/// * `T`, the session's [`Tables`]: [`DefaultTables`] unless told, fixed-capacity tables
///   (`Bounded<OUTBOUND, INBOUND, ALIASES, REQUESTS>`) that refuse new work when full instead
///   of growing; [`Growable`](mqtt_session::Growable) keeps them on the heap instead.
/// * `INBOX` (at least 1): how many received messages wait for [`Client::next_message`].
///   While the inbox is full the client stops taking the session's events and reading from
///   the broker, and says so ([`Error::InboxFull`]); nothing is dropped.
///
/// Each QoS 1/2 message is acknowledged when [`Client::next_message`] hands it over, never
/// before (the session's manual-ack mode): a device that resets before it took a message
/// gets it again.
pub struct Client<'a, T: Tables = DefaultTables, const INBOX: usize = 4> {
    socket: TcpSocket<'a>,
    broker: IpEndpoint,
    session: Session<Instant, T>,
    /// Bytes read and not yet a whole packet. Its allocation is reused from read to read;
    /// the session's `maximum_packet_size` bounds it.
    rx: BytesMut,
    /// Bytes the session encoded; cleared (keeping its allocation) once the socket took them.
    tx: BytesMut,
    /// How much of `tx` the socket has taken.
    tx_sent: usize,
    /// The topic of the last publish, reused while the next one names the same topic, so a
    /// sensor publishing to one topic does not copy it for every reading.
    last_topic: Option<TopicName>,
    /// Whether the TCP connection is up (the session may already have ended the MQTT one).
    open: bool,
    inbox: heapless::Deque<Message, INBOX>,
    waiting: Waiting,
    outcome: Option<Outcome>,
    /// MQTT connections accepted by the server so far.
    connections: u32,
    last_disconnect: Option<DisconnectReason>,
    stopped: Option<ReconnectStop>,
}

impl<'a, T: Tables, const INBOX: usize> Client<'a, T, INBOX> {
    /// A client of the broker at `broker` over a TCP socket of `stack` with the caller's
    /// receive and transmit buffers (their sizes are the TCP windows). `config` is the
    /// session's: client identifier, protocol version, keep-alive, backoff, ... Its
    /// `manual_acks` is turned on: messages are acknowledged when the application takes them.
    /// Its `transmit_buffer_limit` is lowered to the transmit buffer's size: the session
    /// encodes no more publishes at once than the socket can take. Nothing is sent until an
    /// operation is awaited.
    pub fn new(
        stack: Stack<'a>,
        socket_rx: &'a mut [u8],
        socket_tx: &'a mut [u8],
        broker: impl Into<IpEndpoint>,
        mut config: Config,
    ) -> Result<Self, Error> {
        const { assert!(INBOX > 0, "a Client's INBOX holds at least one message") };
        config.manual_acks = true;
        config.transmit_buffer_limit = config.transmit_buffer_limit.min(socket_tx.len());
        Ok(Client {
            socket: TcpSocket::new(stack, socket_rx, socket_tx),
            broker: broker.into(),
            session: Session::with_tables(config)?,
            rx: BytesMut::new(),
            tx: BytesMut::new(),
            tx_sent: 0,
            last_topic: None,
            open: false,
            inbox: heapless::Deque::new(),
            waiting: Waiting::Nothing,
            outcome: None,
            connections: 0,
            last_disconnect: None,
            stopped: None,
        })
    }

    /// The session, for what this client does not wrap (its state, server limits, ...).
    pub fn session(&self) -> &Session<Instant, T> {
        &self.session
    }

    /// Whether an MQTT connection is up (CONNACK accepted it and it has not ended).
    pub fn is_connected(&self) -> bool {
        self.open && self.session.is_connected()
    }

    /// How many MQTT connections the server has accepted so far, reconnections included.
    pub fn connections(&self) -> u32 {
        self.connections
    }

    /// Why the last connection ended, if one did.
    pub fn last_disconnect(&self) -> Option<&DisconnectReason> {
        self.last_disconnect.as_ref()
    }

    /// Connects: opens TCP, sends CONNECT and returns once a CONNACK accepted it, retrying
    /// with the session's backoff while the broker is unreachable or refuses for a reason
    /// that may pass. Wrap it in `embassy_time::with_timeout` to bound the wait.
    pub async fn connect(&mut self) -> Result<(), Error> {
        self.session.reconnect(Instant::now());
        self.stopped = None;
        self.run_until(None, |c| c.is_connected().then_some(()))
            .await
            .map(|_| ())
    }

    /// Publishes `payload` to `topic` and returns once the QoS flow completed: QoS 0 once
    /// written to the socket, QoS 1 at PUBACK, QoS 2 at PUBCOMP. A connection lost on the
    /// way is made again and the publish sent again (with DUP), so QoS 1 is delivered at least
    /// once and QoS 2 exactly once.
    pub async fn publish(&mut self, topic: &str, payload: &[u8], qos: QoS) -> Result<(), Error> {
        let topic = match &self.last_topic {
            Some(last) if last.as_str() == topic => last.clone(),
            _ => {
                let name = TopicName::new(topic)?;
                self.last_topic = Some(name.clone());
                name
            }
        };
        let message = OutboundMessage::new(topic, Bytes::copy_from_slice(payload), qos);
        let ticket = self.session.publish(Instant::now(), message)?;
        self.waiting = Waiting::Publish(ticket.id);
        let outcome = self.wait_outcome().await?;
        match outcome {
            Outcome::Published(Ok(())) => Ok(()),
            Outcome::Published(Err(failure)) => Err(Error::PublishFailed(failure)),
            Outcome::Subscribed(_) => Err(Error::Disconnected),
        }
    }

    /// Subscribes to `filter` with maximum QoS `qos` and returns the QoS the server granted
    /// once SUBACK came. The session subscribes again by itself when a server lost the
    /// session across a reconnect.
    pub async fn subscribe(&mut self, filter: &str, qos: QoS) -> Result<QoS, Error> {
        let filter = SubscribeFilter::new(TopicFilter::new(filter)?, qos);
        let (request, _) =
            self.session
                .subscribe(Instant::now(), vec![filter], Default::default())?;
        self.waiting = Waiting::Subscribe(request);
        match self.wait_outcome().await? {
            Outcome::Subscribed(Ok(granted)) => Ok(granted),
            Outcome::Subscribed(Err(code)) => Err(Error::SubscribeRefused(code)),
            Outcome::Published(_) => Err(Error::Disconnected),
        }
    }

    /// The next received message, waiting for one (and keeping the connection alive) while
    /// the inbox is empty. A QoS 1/2 message is acknowledged to the broker now.
    pub async fn next_message(&mut self) -> Result<Message, Error> {
        let message = self
            .run_until(None, |c| c.inbox.pop_front())
            .await?
            .ok_or(Error::Disconnected)?;
        if let Some(token) = message.ack_token {
            // The token is stale only when its connection ended; the broker then sends the
            // message again, and its next copy is acknowledged.
            let _ = self.session.ack(Instant::now(), token);
        }
        self.service().await?;
        Ok(message)
    }

    /// Keeps the connection alive for `duration`: keep-alive, acknowledgements, reconnecting,
    /// and received messages into the inbox. What a sensor awaits between readings.
    pub async fn run_for(&mut self, duration: embassy_time::Duration) -> Result<(), Error> {
        let until = Instant(embassy_time::Instant::now() + duration);
        self.run_until(Some(until), |_| None::<()>)
            .await
            .map(|_| ())
    }

    /// Disconnects gracefully: DISCONNECT (after any acknowledgement already due), then the TCP
    /// connection is closed. Publishes not yet completed stay in the session;
    /// [`Client::connect`] continues.
    pub async fn disconnect(&mut self) -> Result<(), Error> {
        self.session.disconnect(
            Instant::now(),
            ReasonCode::NORMAL_DISCONNECTION,
            Default::default(),
        )?;
        self.service().await?;
        Ok(())
    }

    /// Drives the connection until the awaited operation's event came.
    async fn wait_outcome(&mut self) -> Result<Outcome, Error> {
        let result = self.run_until(None, |c| c.outcome.take()).await;
        self.waiting = Waiting::Nothing;
        result?.ok_or(Error::Disconnected)
    }

    /// Drives the connection until `done` gives a value, or `until` passed (`Ok(None)`).
    async fn run_until<R>(
        &mut self,
        until: Option<Instant>,
        mut done: impl FnMut(&mut Self) -> Option<R>,
    ) -> Result<Option<R>, Error> {
        loop {
            self.service().await?;
            if let Some(value) = done(self) {
                return Ok(Some(value));
            }
            let now = Instant::now();
            if until.is_some_and(|u| u <= now) {
                return Ok(None);
            }
            if !self.open && !self.session.should_connect(now) {
                if self.inbox.is_full() {
                    // The events that say why the session stopped wait behind the messages.
                    return Err(Error::InboxFull);
                }
                if let Some(stop) = self.stopped {
                    let reason = self
                        .last_disconnect
                        .clone()
                        .unwrap_or(DisconnectReason::TransportClosed);
                    return Err(Error::ReconnectStopped { stop, reason });
                }
                if self.session.poll_timeout().is_none() {
                    return Err(Error::Disconnected);
                }
            }
            self.wait(until).await?;
        }
    }

    /// One turn of the driver: connects when the session wants a connection, writes what
    /// the session has to send, closes the transport when the session ended the
    /// connection, and takes the session's events.
    async fn service(&mut self) -> Result<(), Error> {
        let now = Instant::now();
        if !self.open && self.session.should_connect(now) {
            self.open_transport(now).await;
        }
        if self.open {
            while self.session.poll_transmit(Instant::now(), &mut self.tx) > 0 {
                if self.write_out().await.is_err() {
                    self.transport_lost();
                    break;
                }
            }
            if self.open && self.session.state() == State::Idle {
                // The session ended this connection (DISCONNECT sent, a protocol error, no
                // answer to PINGREQ): close the transport [MQTT-3.14.4-1].
                self.close_transport().await;
                self.session.handle_closed(Instant::now());
            }
        }
        // Events wait in the session while the inbox is full, so a message is never taken
        // without a place to put it.
        while !self.inbox.is_full() {
            let Some(event) = self.session.poll_event() else {
                break;
            };
            self.on_event(event);
        }
        Ok(())
    }

    /// Opens the TCP connection, bounded by the CONNACK timeout, and tells the session.
    async fn open_transport(&mut self, now: Instant) {
        // A socket is reused for every connection: it must be closed before it connects.
        self.socket.abort();
        let _ = self.socket.flush().await;
        let limit = crate::embassy_duration(self.session.config().connack_timeout);
        match select(self.socket.connect(self.broker), Timer::after(limit)).await {
            Either::First(Ok(())) => {
                self.open = true;
                self.rx.clear();
                self.tx.clear();
                self.tx_sent = 0;
                self.session.handle_connected(Instant::now());
            }
            Either::First(Err(_)) | Either::Second(()) => {
                self.socket.abort();
                // A connection attempt that failed before the transport came up: the session
                // schedules the next one by its backoff.
                self.session.handle_closed(now);
            }
        }
    }

    /// Writes all of `tx` to the socket, then empties it (keeping its allocation for the
    /// next packets).
    async fn write_out(&mut self) -> Result<(), embassy_net::tcp::Error> {
        while let Some(rest) = self.tx.get(self.tx_sent..).filter(|r| !r.is_empty()) {
            let n = self.socket.write(rest).await?;
            self.tx_sent += n;
        }
        self.tx.clear();
        self.tx_sent = 0;
        Ok(())
    }

    /// Waits for bytes from the broker or the session's next deadline (or `until`),
    /// whichever comes first, and hands what happened to the session.
    async fn wait(&mut self, until: Option<Instant>) -> Result<(), Error> {
        let wake = match (self.session.poll_timeout(), until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if self.open && self.inbox.is_full() {
            return Err(Error::InboxFull);
        }
        if self.open {
            let filled = self.rx.len();
            self.rx.resize(filled + READ_CHUNK, 0);
            let read = self.socket.read(&mut self.rx[filled..]);
            let result = match wake {
                Some(at) => match select(read, Timer::at(at.0)).await {
                    Either::First(result) => Some(result),
                    Either::Second(()) => None,
                },
                None => Some(read.await),
            };
            match result {
                Some(Ok(n)) if n > 0 => {
                    self.rx.truncate(filled + n);
                    self.session.handle_read(Instant::now(), &mut self.rx);
                }
                Some(_) => {
                    // End of stream or a reset: the connection is gone.
                    self.rx.truncate(filled);
                    self.transport_lost();
                }
                None => self.rx.truncate(filled),
            }
        } else if let Some(at) = wake {
            Timer::at(at.0).await;
        }
        self.session.handle_timeout(Instant::now());
        Ok(())
    }

    /// The connection broke under us: tell the session, which plans the reconnection.
    fn transport_lost(&mut self) {
        self.socket.abort();
        self.open = false;
        self.session.handle_closed(Instant::now());
    }

    /// Closes the TCP connection the session is done with, letting what was written go out
    /// first (bounded by the session's CONNACK timeout).
    async fn close_transport(&mut self) {
        self.socket.close();
        let limit = crate::embassy_duration(self.session.config().connack_timeout);
        let _ = select(self.socket.flush(), Timer::after(limit)).await;
        self.socket.abort();
        self.open = false;
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Connected(_) => {
                self.connections = self.connections.saturating_add(1);
                self.stopped = None;
            }
            Event::Message(message) => {
                // `service` takes an event only while the inbox has room.
                let _ = self.inbox.push_back(message);
            }
            Event::PublishCompleted { id, .. } if self.waiting == Waiting::Publish(id) => {
                self.outcome = Some(Outcome::Published(Ok(())));
            }
            Event::PublishFailed { id, reason, .. } if self.waiting == Waiting::Publish(id) => {
                self.outcome = Some(Outcome::Published(Err(reason)));
            }
            Event::Subscribed { id, results, .. } if self.waiting == Waiting::Subscribe(id) => {
                let granted = results
                    .first()
                    .copied()
                    .unwrap_or(Err(ReasonCode::UnspecifiedError));
                self.outcome = Some(Outcome::Subscribed(granted));
            }
            Event::Disconnected(reason) => self.last_disconnect = Some(reason),
            Event::ReconnectStopped(stop) => self.stopped = Some(stop),
            _ => {}
        }
    }
}
