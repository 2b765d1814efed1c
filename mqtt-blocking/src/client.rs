//! The blocking face of the client: each call waits on the calling thread for what the async
//! `mqtt_client::Client` call would resolve to.

use crate::executor::{block_on, block_on_within};
use crate::runtime::Threads;
use bytes::Bytes;
use mqtt_client::event_loop;
use mqtt_client::{ClientError, ConnectionEvent, Message, Options, PublishDone, StartError};
use mqtt_proto::{PacketId, QoS, ReasonCode};
use mqtt_session::{OutboundMessage, PublishId};
use std::time::Duration;

/// Events a connection keeps for readers who come late; older ones are dropped.
const EVENT_BUFFER: usize = 16;

/// Why [`Client::connect`] failed.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The session configuration is invalid, or its store could not be loaded.
    #[error(transparent)]
    Start(#[from] StartError),
    /// The connection thread could not be started.
    #[error("starting the connection thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// A connection task not yet running: run it on a thread of your own with
/// [`Connection::run_blocking`] (or poll [`Connection::run`] from any executor).
#[derive(Debug)]
pub struct Connection(event_loop::Connection<Threads>);

impl Connection {
    /// Runs until `disconnect` (or until every client handle and subscription is dropped).
    pub fn run(self) -> impl std::future::Future<Output = ()> + Send {
        self.0.run()
    }

    /// [`Connection::run`] on this thread.
    pub fn run_blocking(self) {
        block_on(self.0.run());
    }
}

/// An async client handle and its connection task, not yet running. The handle works from
/// any executor; [`Client::from_async`] gives its blocking face.
pub fn new(options: Options) -> Result<(mqtt_client::Client, Connection), StartError> {
    let (client, connection) = event_loop::Connection::new(options, EVENT_BUFFER, Threads)?;
    Ok((client, Connection(connection)))
}

/// The client, for threads that wait: cheap to clone, `Send + Sync`. Its connection runs on
/// a thread of its own, connects at once and reconnects with backoff until
/// [`Client::disconnect`].
#[derive(Debug, Clone)]
pub struct Client {
    inner: mqtt_client::Client,
}

impl Client {
    /// Starts the connection thread for `options`.
    pub fn connect(options: Options) -> Result<Client, SpawnError> {
        let (inner, connection) = new(options)?;
        std::thread::Builder::new()
            .name("mqtt-connection".into())
            .spawn(move || connection.run_blocking())?;
        Ok(Client { inner })
    }

    /// The blocking face of an async handle.
    pub fn from_async(inner: mqtt_client::Client) -> Client {
        Client { inner }
    }

    /// The async handle, for the calls this face does not wrap (run them with
    /// [`block_on`](crate::block_on)).
    pub fn as_async(&self) -> &mqtt_client::Client {
        &self.inner
    }

    /// Queues a publish and returns once the connection's queue took it, without waiting
    /// for the server (a burst of publishes goes out in few writes): [`Publish::accepted`]
    /// and [`Publish::wait`] then wait for the session (and the store) and for the
    /// completion (PUBACK / PUBCOMP, or written for QoS 0).
    pub fn publish(
        &self,
        topic: &str,
        payload: impl Into<Bytes>,
        qos: QoS,
    ) -> Result<Publish, ClientError> {
        let inner = block_on(self.inner.publish(topic, payload, qos))?;
        Ok(Publish { inner })
    }

    /// [`Client::publish`] for a message with properties (v5), retain or a QoS of its own.
    pub fn publish_message(&self, message: OutboundMessage) -> Result<Publish, ClientError> {
        let inner = block_on(self.inner.publish_message(message))?;
        Ok(Publish { inner })
    }

    /// Subscribes to `filter`; waits for the server's answer.
    pub fn subscribe(&self, filter: &str, qos: QoS) -> Result<Subscription, ClientError> {
        let inner = block_on(self.inner.subscribe(filter, qos))?;
        Ok(Subscription { inner })
    }

    /// Acknowledges a message received in manual-ack mode (in order; see
    /// `mqtt_client::Client::ack`).
    pub fn ack(&self, message: &Message) -> Result<(), ClientError> {
        block_on(self.inner.ack(message))
    }

    /// Refuses a message received in manual-ack mode with `reason` (v5).
    pub fn reject(&self, message: &Message, reason: ReasonCode) -> Result<(), ClientError> {
        block_on(self.inner.reject(message, reason))
    }

    /// Disconnects gracefully (publishes in flight complete first, within the options'
    /// disconnect timeout) and stops the connection thread.
    pub fn disconnect(&self) -> Result<(), ClientError> {
        block_on(self.inner.disconnect())
    }

    /// Drops the connection and connects again at once.
    pub fn reconnect(&self) -> Result<(), ClientError> {
        block_on(self.inner.reconnect())
    }

    /// The next connection event; `None` once the connection task has ended.
    pub fn next_event(&self) -> Option<ConnectionEvent> {
        block_on(self.inner.next_event())
    }

    /// [`Client::next_event`], waiting at most `limit`: `Err` when it passed first.
    pub fn next_event_within(&self, limit: Duration) -> Result<Option<ConnectionEvent>, Elapsed> {
        block_on_within(limit, self.inner.next_event()).ok_or(Elapsed)
    }
}

/// A wait with a limit reached its limit first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the time allowed passed first")]
pub struct Elapsed;

/// A queued publish (see [`Client::publish`]).
#[derive(Debug)]
pub struct Publish {
    inner: mqtt_client::PublishHandle,
}

impl Publish {
    /// Waits until the session has taken the publish (with a store: until it is on disk);
    /// returns its id and Packet Identifier (QoS 1/2).
    pub fn accepted(&mut self) -> Result<(PublishId, Option<PacketId>), ClientError> {
        block_on(self.inner.accepted())
    }

    /// Waits until the QoS flow completes.
    pub fn wait(self) -> Result<PublishDone, ClientError> {
        block_on(self.inner)
    }
}

/// The messages of one subscription, as an iterator that waits for each; it ends when the
/// client is gone.
#[derive(Debug)]
pub struct Subscription {
    inner: mqtt_client::Subscription,
}

impl Subscription {
    /// The next message, waiting at most `limit`: `Err` when it passed first, `Ok(None)`
    /// when the subscription ended.
    pub fn next_within(&mut self, limit: Duration) -> Result<Option<Message>, Elapsed> {
        block_on_within(limit, self.inner.next_message()).ok_or(Elapsed)
    }

    /// Unsubscribes; waits for the server's answer (its reason codes).
    pub fn unsubscribe(self) -> Result<Vec<ReasonCode>, ClientError> {
        block_on(self.inner.unsubscribe())
    }

    /// The async subscription underneath.
    pub fn into_async(self) -> mqtt_client::Subscription {
        self.inner
    }
}

impl Iterator for Subscription {
    type Item = Message;

    fn next(&mut self) -> Option<Message> {
        block_on(self.inner.next_message())
    }
}
