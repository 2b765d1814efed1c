//! A subscription's two ends: the application's [`Subscription`], a stream of only the
//! messages routed to it, and the connection task's [`SubscriptionSink`] that fills it.

use futures_channel::oneshot;
use futures_core::Stream;
use mqtt_proto::{ReasonCode, TopicFilter};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::client::Command;
use crate::report::{ClientError, Delivery, Message};
use crate::signal::{Taken, Wake};
use crate::subscribing::Filters;

static STREAM_IDS: AtomicU64 = AtomicU64::new(1);

/// What a subscription's buffer carries: a message, and whether an automatic acknowledgement
/// waits for the reader to take it.
#[derive(Debug)]
pub(crate) struct Item {
    message: Message,
    owes_ack: bool,
}

/// The sending side of one subscription stream, kept by the connection task.
#[derive(Debug)]
pub struct SubscriptionSink {
    // Unbounded underneath, bounded by `capacity` here: memory follows the backlog instead
    // of being reserved up front for every subscription.
    tx: crate::queue::Sender<Item>,
    capacity: usize,
    lagged: Arc<AtomicU64>,
}

impl SubscriptionSink {
    /// Whether the reader's buffer has room for another message (a reader that is gone always
    /// has: nobody will read what it is given).
    pub fn has_room(&self) -> bool {
        self.tx.open_len().is_none_or(|len| len < self.capacity)
    }

    /// Counts a QoS 0 message dropped because the buffer was full; the reader learns it from
    /// [`Delivery::Lagged`].
    pub fn lagged(&self) {
        self.lagged.fetch_add(1, Ordering::Relaxed);
    }

    /// Puts a message in the reader's buffer; check [`Self::has_room`] first, the capacity is
    /// enforced there (the channel underneath is unbounded). `owes_ack`: the connection task
    /// acknowledges the message once the reader took it. Returns `false` when the reader is
    /// gone (and nobody will take it).
    pub(crate) fn deliver(&mut self, message: Message, owes_ack: bool) -> bool {
        self.tx
            .send_over_capacity(Item { message, owes_ack })
            .is_ok()
    }

    /// Gives back the memory the reader's buffer grew to in a burst, if it is empty.
    pub fn shrink_if_empty(&self) {
        self.tx.shrink_if_empty();
    }
}

/// A subscription: a stream of only the messages routed to it. Dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    pub(crate) stream: u64,
    rx: crate::queue::Receiver<Item>,
    /// Messages dropped because the buffer was full, not yet reported.
    lagged: Arc<AtomicU64>,
    /// What this reader took, and how it tells the connection task.
    taken: Arc<Taken>,
    wake: Arc<Wake>,
    pub(crate) commands: crate::queue::Sender<Command>,
    /// Its filters and the server's answer to each (see [`crate::subscribing`]).
    pub(crate) filters: Filters,
    /// No UNSUBSCRIBE is to be sent when it is dropped.
    pub(crate) unsubscribed: bool,
}

impl Subscription {
    /// A subscription stream for the SUBSCRIBE of `filters`, its sink and its count of taken
    /// messages, for the connection task (which `wake` wakes).
    pub(crate) fn channel(
        capacity: usize,
        commands: crate::queue::Sender<Command>,
        filters: Vec<TopicFilter>,
        wake: Arc<Wake>,
        ahead_of_store: u64,
    ) -> (Subscription, SubscriptionSink, Arc<Taken>) {
        let (tx, rx) = crate::queue::unbounded();
        let capacity = capacity.max(1);
        let stream = STREAM_IDS.fetch_add(1, Ordering::Relaxed);
        let lagged = Arc::new(AtomicU64::new(0));
        let taken = Arc::new(Taken::with_limit(ahead_of_store));
        (
            Subscription {
                stream,
                rx,
                lagged: lagged.clone(),
                taken: taken.clone(),
                wake,
                commands,
                filters: Filters::asked(filters),
                unsubscribed: false,
            },
            SubscriptionSink {
                tx,
                capacity,
                lagged,
            },
            taken,
        )
    }

    /// The number the connection task knows this stream by.
    #[doc(hidden)]
    pub fn stream_id(&self) -> u64 {
        self.stream
    }

    /// The next delivery, or `None` once the connection task has ended.
    pub async fn next(&mut self) -> Option<Delivery> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// The next message, skipping lag reports.
    pub async fn next_message(&mut self) -> Option<Message> {
        loop {
            match self.next().await? {
                Delivery::Message(m) => return Some(m),
                Delivery::Lagged(_) => continue,
            }
        }
    }

    /// Push delivery: calls `on_message` with every message and `on_lagged` with every count
    /// of QoS 0 messages dropped for this subscription (see [`Delivery::Lagged`]), until the
    /// connection task ends. The drivers' `subscribe_with` runs this on a task or thread of
    /// its own; dropping the future unsubscribes.
    pub async fn dispatch<F, L>(mut self, mut on_message: F, mut on_lagged: L)
    where
        F: FnMut(Message),
        L: FnMut(u64),
    {
        while let Some(delivery) = self.next().await {
            match delivery {
                Delivery::Message(m) => on_message(m),
                Delivery::Lagged(n) => on_lagged(n),
            }
        }
    }

    /// Unsubscribes and waits for the server's answer (one reason code per filter
    /// unsubscribed; v3.1.1: Success for each).
    pub async fn unsubscribe(mut self) -> Result<Vec<ReasonCode>, ClientError> {
        self.unsubscribed = true;
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Unsubscribe {
                stream: self.stream,
                reply: Some(reply),
            })
            .await
            .map_err(|_| ClientError::Closed)?;
        rx.await.map_err(|_| ClientError::Closed)?
    }
}

impl Stream for Subscription {
    type Item = Delivery;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Delivery>> {
        // Missed messages are reported before what arrived after them is read.
        let missed = self.lagged.swap(0, Ordering::Relaxed);
        if missed > 0 {
            return Poll::Ready(Some(Delivery::Lagged(missed)));
        }
        if !self.taken.may_take(&self.wake, cx) {
            return Poll::Pending;
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Ok(item)) => {
                // The application has the message now: an automatic acknowledgement may go.
                self.taken.take(&self.wake, item.owes_ack);
                Poll::Ready(Some(Delivery::Message(item.message)))
            }
            Poll::Ready(Err(_)) => Poll::Ready(None),
            Poll::Pending => {
                // A drop can race with the reader finding the buffer empty.
                let missed = self.lagged.swap(0, Ordering::Relaxed);
                if missed > 0 {
                    Poll::Ready(Some(Delivery::Lagged(missed)))
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if !self.unsubscribed {
            // Never waits, and is never refused for want of room: the broker must hear it.
            // (Only a closed queue refuses it: the connection task is gone.)
            let _ = self.commands.send_over_capacity(Command::Unsubscribe {
                stream: self.stream,
                reply: None,
            });
        }
    }
}
