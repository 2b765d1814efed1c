//! The application's side: a cheap, clonable `Client` that sends commands to the connection
//! task, subscriptions as streams, and handles for publishes in flight.

use bytes::Bytes;
use futures_channel::oneshot;
use mqtt_proto::{
    PacketId, QoS, ReasonCode, SubscribeFilter, SubscribeProperties, TopicFilter, TopicName,
};
use mqtt_session::{AckToken, OutboundMessage, PublishId};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::completion::{Completer, Completions};
use crate::report::{ClientError, ConnectionEvent, Message, PublishDone};
use crate::statistics::{Counters, Statistics};
use crate::subscribing::UnsubscribeResult;
pub use crate::subscription::{Subscription, SubscriptionSink};

/// A command from a `Client` to the connection task.
#[derive(Debug)]
pub enum Command {
    /// Publish the message `completer` holds ([`Completer::take_message`]); `completer`
    /// says when the session took it and how it ended.
    Publish {
        /// The connection task's hold on the publish's slot.
        completer: Completer,
    },
    /// Subscribe.
    Subscribe {
        /// Filters and options.
        filters: Vec<SubscribeFilter>,
        /// Properties (boxed: every slot of the command queue is as large as the largest
        /// command, and subscribing is rare).
        properties: Box<SubscribeProperties>,
        /// Where the subscription goes.
        reply: oneshot::Sender<Result<Subscription, ClientError>>,
    },
    /// Unsubscribe from the filters of a subscription (explicitly or on drop).
    Unsubscribe {
        /// Which subscription stream.
        stream: u64,
        /// Where the result goes, if anyone waits.
        reply: Option<oneshot::Sender<Result<Vec<ReasonCode>, ClientError>>>,
    },
    /// Unsubscribe from some filters of a subscription
    /// ([`Subscription::unsubscribe_filters`]).
    UnsubscribeFilters {
        /// Which subscription stream.
        stream: u64,
        /// The filters, each one the stream holds.
        filters: Vec<TopicFilter>,
        /// Where the results go, one per filter.
        reply: oneshot::Sender<Result<Vec<UnsubscribeResult>, ClientError>>,
    },
    /// Acknowledge a message in manual-ack mode. No reply: the command queue keeps the order
    /// of a client's commands, so whatever the client sends after it is handled after it.
    Ack(AckToken),
    /// Refuse a message in manual-ack mode (v5), with the reason its PUBACK or PUBREC carries.
    Reject(
        AckToken,
        ReasonCode,
        oneshot::Sender<Result<(), ClientError>>,
    ),
    /// Graceful disconnect.
    Disconnect(oneshot::Sender<Result<(), ClientError>>),
    /// Connect again (after [`ConnectionEvent::ReconnectStopped`]), or now instead of after
    /// the backoff delay.
    Reconnect,
    /// Wait for a response (see [`Client::request`]): `ready` gets the Response Topic and
    /// Correlation Data to publish the request with, `answer` the response.
    Request {
        /// How long the request may wait for its response, from now.
        timeout: std::time::Duration,
        /// Where the request's Response Topic and Correlation Data go.
        ready: crate::request::Ready,
        /// Where the response goes.
        answer: crate::request::Answer,
    },
    /// Re-authenticate (v5 enhanced authentication), with where the outcome goes.
    Reauthenticate(oneshot::Sender<Result<(), ClientError>>),
}

/// The connection events of a client, as a stream ([`Client::events`]); each event goes to
/// one of the receivers that share it.
pub type ConnectionEvents = async_channel::Receiver<ConnectionEvent>;

/// The handle applications use: cheap to clone, `Send + Sync`, usable from many tasks.
#[derive(Debug, Clone)]
pub struct Client {
    commands: crate::queue::Sender<Command>,
    events: async_channel::Receiver<ConnectionEvent>,
    completions: Arc<Completions>,
    statistics: Arc<Counters>,
}

impl Client {
    /// A client and the receiving end of its commands, for a driver to run.
    #[doc(hidden)]
    pub fn new(
        command_capacity: usize,
        events: async_channel::Receiver<ConnectionEvent>,
    ) -> (Client, crate::queue::Receiver<Command>) {
        let (tx, rx) = crate::queue::bounded(command_capacity);
        (
            Client {
                commands: tx,
                events,
                completions: Completions::new(),
                statistics: Arc::default(),
            },
            rx,
        )
    }

    async fn send(&self, command: Command) -> Result<(), ClientError> {
        self.commands
            .send(command)
            .await
            .map_err(|_| ClientError::Closed)
    }

    /// Publishes `payload` to `topic` at `qos`: queues the publish and returns its
    /// [`PublishHandle`] as soon as the connection task's command queue took it, with no round
    /// trip to the connection task, so a burst of publishes from one task goes out in few
    /// writes. Waits only while that queue is full (backpressure).
    ///
    /// The handle gives the rest when it is wanted: [`PublishHandle::accepted`] the Packet
    /// Identifier once the session took the publish (with a store, once it is on disk), and
    /// awaiting the handle (or [`PublishHandle::completed`]) the end of the QoS flow (PUBACK,
    /// PUBCOMP, or written for QoS 0). Dropping the handle does not cancel the publish, and
    /// [`Client::disconnect`] waits for publishes in flight.
    ///
    /// ```no_run
    /// # async fn demo(client: mqtt_client::Client) -> Result<(), mqtt_client::ClientError> {
    /// use mqtt_proto::QoS;
    /// // Fire and forget: returns without waiting for the server.
    /// client.publish("sensors/1", "21.5", QoS::AtLeastOnce).await?;
    /// // Waits for the PUBACK.
    /// let done = client.publish("sensors/1", "21.6", QoS::AtLeastOnce).await?.await?;
    /// println!("acknowledged: {:?}", done.reason_code);
    /// # Ok(()) }
    /// ```
    pub async fn publish(
        &self,
        topic: &str,
        payload: impl Into<Bytes>,
        qos: QoS,
    ) -> Result<PublishHandle, ClientError> {
        let topic = TopicName::new(topic.to_string())
            .map_err(|e| ClientError::Session(mqtt_session::Error::Invalid(e.into())))?;
        self.publish_message(OutboundMessage::new(topic, payload, qos))
            .await
    }

    /// Publishes a message built in full (retain, properties, an expiry, ...), as
    /// [`Client::publish`] does: queued, with no round trip to the connection task.
    ///
    /// The message is then in this process's memory only: a crash before the session took it
    /// loses it. With a store ([`Options::store`](crate::Options)), a QoS 1 or 2 publish is
    /// accepted ([`PublishHandle::accepted`] resolves) only once it is on disk: from then on a
    /// crash can no longer lose it.
    ///
    /// No allocation: the message and its outcome travel in a slot of a table the client's
    /// publishes share and reuse.
    pub async fn publish_message(
        &self,
        message: OutboundMessage,
    ) -> Result<PublishHandle, ClientError> {
        let key = self.completions.open(message);
        // The caller's hold first: if this future is dropped while the queue is full, both
        // holds are let go (the command, dropped with it, closes the slot).
        let handle = PublishHandle {
            completions: self.completions.clone(),
            key,
        };
        let completer = Completer::new(self.completions.clone(), key);
        self.send(Command::Publish { completer }).await?;
        Ok(handle)
    }

    /// Sends a request and waits for its response (MQTT v5 request/response, section 4.10):
    /// publishes `message` with a Response Topic and Correlation Data of the client's own,
    /// and resolves with the message a responder publishes there with the same Correlation
    /// Data (see [`Message::response`]). Every request of a client shares one response
    /// subscription, made with the first: the server's Response Information followed by
    /// `rr` when [`Options::request_response_information`](crate::Options) asked for it,
    /// `rr/<client id>` otherwise.
    ///
    /// Fails with [`ClientError::Timeout`] when no response came within `timeout` (counted
    /// from the call), and with [`ClientError::Unsupported`] on MQTT 3.1.1. Dropping the
    /// future cancels the wait (a late response is dropped), not the published request.
    pub async fn request(
        &self,
        mut message: OutboundMessage,
        timeout: std::time::Duration,
    ) -> Result<Message, ClientError> {
        let (ready, topic) = oneshot::channel();
        let (answer, response) = oneshot::channel();
        self.commands
            .send(Command::Request {
                timeout,
                ready,
                answer,
            })
            .await
            .map_err(|_| ClientError::Closed)?;
        let (topic, correlation) = topic.await.map_err(|_| ClientError::Closed)??;
        let properties = &mut message.properties;
        properties
            .set_response_topic(Some(topic))
            .and_then(|()| properties.set_correlation_data(Some(correlation)))
            .map_err(mqtt_session::Error::from)?;
        self.publish_message(message).await?.accepted().await?;
        response.await.map_err(|_| ClientError::Closed)?
    }

    /// Subscribes to one filter; resolves when the server answered. Fails with
    /// [`ClientError::SubscribeFailed`] when it refused the filter.
    pub async fn subscribe(&self, filter: &str, qos: QoS) -> Result<Subscription, ClientError> {
        let filter = TopicFilter::new(filter.to_string())
            .map_err(|e| ClientError::Session(mqtt_session::Error::Invalid(e.into())))?;
        self.subscribe_many(vec![SubscribeFilter::new(filter, qos)], Default::default())
            .await
    }

    /// Subscribes to several filters in one SUBSCRIBE; resolves when the server answered
    /// (SUBACK), with one outcome per filter.
    ///
    /// * When the server granted at least one filter, the [`Subscription`] carries the
    ///   messages of the granted filters; [`Subscription::results`] gives every filter's
    ///   outcome in filter order (the granted QoS, or the reason code of the refusal).
    /// * When it refused every filter, the call fails with [`ClientError::SubscribeFailed`],
    ///   which holds the reason code of each filter, in filter order.
    ///
    /// A refused filter was never subscribed: neither this call nor dropping or
    /// unsubscribing the subscription later sends an UNSUBSCRIBE for it [MQTT-3.9.3-1].
    pub async fn subscribe_many(
        &self,
        filters: Vec<SubscribeFilter>,
        properties: SubscribeProperties,
    ) -> Result<Subscription, ClientError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Subscribe {
            filters,
            properties: Box::new(properties),
            reply,
        })
        .await?;
        rx.await.map_err(|_| ClientError::Closed)?
    }

    /// Acknowledges a message (manual-ack mode). Acknowledgements go out in the order the
    /// messages arrived, whatever order they are acknowledged in [MQTT-4.6.0-2],
    /// [MQTT-4.6.0-3]: a PUBACK (or PUBREC) waits until every message before it is
    /// acknowledged too.
    ///
    /// Returns once the connection task has the acknowledgement in its queue, which keeps the
    /// order of this client's commands: a `disconnect` called after it sends it first. It
    /// allocates nothing and waits for no reply. A message without an ack token (QoS 0, or
    /// automatic acknowledgement) needs none, and a token acknowledged before, or from a
    /// session the server has since lost, is ignored (with a `tracing` warning). Fails only
    /// with [`ClientError::Closed`] when the connection task has stopped.
    pub async fn ack(&self, message: &Message) -> Result<(), ClientError> {
        let Some(token) = message.ack_token() else {
            return Ok(());
        };
        self.send(Command::Ack(token)).await
    }

    /// Refuses a message (manual-ack mode, MQTT v5): its PUBACK, or for QoS 2 its PUBREC,
    /// carries `reason`, an error those packets may carry
    /// ([`ReasonCode::refuses_publish`]), e.g. [`ReasonCode::PayloadFormatInvalid`] or
    /// [`ReasonCode::QuotaExceeded`]. The server does not send the message again. Like
    /// [`Client::ack`], the answer goes out in the order the messages arrived.
    ///
    /// Fails with [`mqtt_session::Error::NotAvailable`] on v3.1.1 (whose acknowledgements carry
    /// no reason) and [`mqtt_session::Error::RejectReason`] for any other code; the message
    /// can then still be acknowledged. A message without an ack token needs no answer, and a
    /// token answered before is ignored (with a `tracing` warning), as by [`Client::ack`].
    pub async fn reject(&self, message: &Message, reason: ReasonCode) -> Result<(), ClientError> {
        let Some(token) = message.ack_token() else {
            return Ok(());
        };
        let (reply, rx) = oneshot::channel();
        self.send(Command::Reject(token, reason, reply)).await?;
        rx.await.map_err(|_| ClientError::Closed)?
    }

    /// Waits for publishes in flight (up to `Options::disconnect_timeout`), sends DISCONNECT,
    /// closes the connection and stops the connection task.
    ///
    /// It returns once the server has closed the connection too (a server closes it after
    /// reading DISCONNECT), or once the same timeout has passed: the server has then read
    /// everything this client sent, acknowledgements included, and a client connecting next
    /// with the same client id cannot take the session over before it has.
    pub async fn disconnect(&self) -> Result<(), ClientError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Disconnect(reply)).await?;
        rx.await.map_err(|_| ClientError::Closed)?
    }

    /// Connects again: after [`ConnectionEvent::ReconnectStopped`] (reconnecting is off, or
    /// the server refused the connection for good), or at once instead of after the
    /// reconnect delay. An open connection is left as it is. Returns once the connection task
    /// has the request.
    pub async fn reconnect(&self) -> Result<(), ClientError> {
        self.send(Command::Reconnect).await
    }

    /// Re-authenticates on the open connection (v5 enhanced authentication, section
    /// 4.12.1): AUTH 0x19 Re-authenticate with a new exchange of the
    /// [`Options::authenticator`](crate::Options::authenticator), the server's challenges
    /// answered, and its final data (AUTH 0x00 Success) checked. Other traffic goes on
    /// meanwhile. Returns `Ok` once the server accepted and its data passed the check;
    /// [`ClientError::Auth`] when the check failed (the connection is then closed with 0x87
    /// Not authorized), [`ClientError::Disconnected`] when the connection ended first (a
    /// server that refuses sends DISCONNECT), and [`ClientError::Session`] when there is no
    /// connection or an exchange is under way.
    pub async fn reauthenticate(&self) -> Result<(), ClientError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Reauthenticate(reply)).await?;
        rx.await.map_err(|_| ClientError::Closed)?
    }

    /// The next connection event. Events are kept in a bounded buffer; when nobody reads them
    /// the oldest are dropped, never blocking the connection.
    pub async fn next_event(&self) -> Option<ConnectionEvent> {
        self.events.recv().await.ok()
    }

    /// Connection events as a stream.
    pub fn events(&self) -> ConnectionEvents {
        self.events.clone()
    }

    /// The completion slots of this client's publishes, which the connection task fills.
    /// What the connection task has done so far, and where it stands (see [`Statistics`]).
    /// Cheap (a few dozen relaxed loads, no lock, no message to the task), from any clone,
    /// at any time, also after the task ended.
    pub fn statistics(&self) -> Statistics {
        self.statistics.snapshot()
    }

    /// The counters the connection task keeps.
    pub(crate) fn counters(&self) -> Arc<Counters> {
        self.statistics.clone()
    }

    pub(crate) fn completions(&self) -> Arc<Completions> {
        self.completions.clone()
    }

    /// The sending side of the command channel, for the connection task (subscriptions send
    /// their unsubscribe through it).
    #[doc(hidden)]
    pub fn command_sender(&self) -> crate::queue::Sender<Command> {
        self.commands.clone()
    }
}

/// A publish on its way, from [`Client::publish`] or [`Client::publish_message`]: its
/// Packet Identifier once the session took it ([`PublishHandle::accepted`]), and its
/// completion (await the handle, or [`PublishHandle::completed`]). Dropping it does not cancel
/// the publish.
#[derive(Debug)]
pub struct PublishHandle {
    completions: Arc<Completions>,
    key: u32,
}

impl PublishHandle {
    /// Resolves once the session has taken the publish, with its id and Packet Identifier
    /// (QoS 1/2). With a store ([`Options::store`](crate::Options)) a QoS 1 or 2 publish is
    /// taken only once it is on disk, so that a crash after this resolved cannot lose it: the
    /// next process started from the store sends it. Publishes waiting together share one
    /// write and one sync. Fails as the publish does if the session refused it. May be called
    /// again, and before or after the completion.
    pub async fn accepted(&mut self) -> Result<(PublishId, Option<PacketId>), ClientError> {
        std::future::poll_fn(|cx| self.completions.poll_accepted(self.key, cx)).await
    }

    /// Resolves when the QoS flow completes (PUBACK for QoS 1, PUBCOMP for QoS 2, written
    /// for QoS 0), with the publish's id, Packet Identifier and the server's reason code; the
    /// same as awaiting the handle.
    pub async fn completed(self) -> Result<PublishDone, ClientError> {
        self.await
    }
}

impl Future for PublishHandle {
    type Output = Result<PublishDone, ClientError>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.completions.poll_done(self.key, cx)
    }
}

impl Drop for PublishHandle {
    fn drop(&mut self) {
        self.completions.release_caller(self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::Wake;

    /// A subscription dropped while the command queue is full still gets its unsubscribe to
    /// the connection task: the broker would otherwise keep sending what nobody reads.
    #[test]
    fn a_dropped_subscription_unsubscribes_even_when_the_queue_is_full() {
        let (_events_tx, events_rx) = async_channel::bounded(1);
        let (client, commands) = Client::new(1, events_rx);
        let (wake, _signals) = Wake::new();
        let (subscription, _sink, _taken) =
            Subscription::channel(4, client.command_sender(), Vec::new(), wake, 0);
        let stream = subscription.stream_id();
        let (reply, _) = oneshot::channel();
        client
            .commands
            .try_send(Command::Disconnect(reply))
            .unwrap();
        drop(subscription);
        assert!(matches!(commands.try_recv(), Ok(Command::Disconnect(_))));
        assert!(matches!(
            commands.try_recv(),
            Ok(Command::Unsubscribe { stream: s, reply: None }) if s == stream
        ));
    }

    /// A publish whose future is dropped while it waits for room in the command queue lets go
    /// of its slot (with its message); one whose command is dropped in the queue, because the
    /// connection task is gone, resolves with `Closed`; and a slot freed is taken again.
    #[test]
    fn publishes_dropped_on_either_side_free_their_slots() {
        let (_events_tx, events_rx) = async_channel::bounded(1);
        let (client, commands) = Client::new(1, events_rx);
        let message =
            || OutboundMessage::new(TopicName::try_from("t").unwrap(), "x", QoS::AtLeastOnce);
        let first = futures_lite::future::block_on(client.publish_message(message())).unwrap();
        assert_eq!(client.completions.usage().0, 1);
        {
            let mut second = Box::pin(client.publish_message(message()));
            let polled =
                futures_lite::future::block_on(futures_lite::future::poll_once(second.as_mut()));
            assert!(
                polled.is_none(),
                "the queue is full: the second publish waits"
            );
            assert_eq!(client.completions.usage().0, 2);
        }
        assert_eq!(
            client.completions.usage().0,
            1,
            "the dropped publish let go"
        );
        drop(commands);
        assert_eq!(
            futures_lite::future::block_on(first),
            Err(ClientError::Closed)
        );
        assert_eq!(client.completions.usage().0, 0);
    }
}
