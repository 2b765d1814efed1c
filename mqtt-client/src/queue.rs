//! The queues between the handles and the connection task: commands from `Client` and
//! `Subscription` to the task (bounded), and each subscription's messages from the task to its
//! reader (bounded by the sink).
//!
//! A queue with room for `capacity` items holds memory only for what it holds, growing as it
//! fills, instead of reserving every slot up front: an idle client with the default capacity of
//! 64 commands kept 3 KiB of empty slots in a preallocated queue, a third of all it held. The
//! memory a burst made it grow to is kept until [`Receiver::shrink_if_empty`], which the loops
//! call when their timer fires (never under steady traffic, which keeps moving the deadline),
//! so that a busy queue does not allocate again after every drain.
//!
//! Items are handed over under a mutex held only to push or pop, never across a wait. The one
//! receiver leaves its waker in the queue when it finds it empty, and the next item wakes it;
//! senders that find the queue full wait in line with their wakers in the queue, and each item
//! taken wakes the first of them. No allocation per wait: an `EventListener` per wait cost six
//! allocations per QoS 0 message between the two ends of a publish, and, for senders, about
//! one per message at QoS 1 and 2, where the session's in-flight window keeps the command
//! queue full (`BENCH_ONLY=allocs cargo bench -p mqtt-tokio --bench clients`).

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

/// A queue with room for `capacity` items (at least one), and its two ends.
///
/// ```
/// # futures_lite::future::block_on(async {
/// use mqtt_client::queue::{self, TrySendError};
///
/// let (tx, rx) = queue::bounded(1);
/// tx.send(1).await.unwrap();
/// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
/// tx.send_over_capacity(3).unwrap(); // never waits, never refused for want of room
/// assert_eq!(rx.recv().await, Ok(1));
/// assert_eq!(rx.try_recv(), Ok(3));
/// drop(tx);
/// assert!(rx.recv().await.is_err()); // every sender is gone
/// # });
/// ```
pub fn bounded<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::new(),
            closed: false,
            senders_gone: false,
            receiver: None,
            waiting: VecDeque::new(),
            next_waiter: 0,
        }),
        capacity: capacity.max(1),
        senders: AtomicUsize::new(1),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

/// A queue without a bound of its own, for senders that bound what they queue themselves (a
/// subscription's sink checks its reader's buffer before each message).
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    bounded(usize::MAX)
}

struct Shared<T> {
    state: Mutex<State<T>>,
    capacity: usize,
    /// Live [`Sender`]s ([`WeakSender`]s not counted).
    senders: AtomicUsize,
}

struct State<T> {
    items: VecDeque<T>,
    /// [`Receiver::close`] was called or the receiver is gone: nothing more is taken.
    closed: bool,
    /// Every [`Sender`] is gone: once empty, the queue stays empty.
    senders_gone: bool,
    /// The receiver's waker, left when it found the queue empty; taken by whatever it waits
    /// for (an item, the last sender leaving).
    receiver: Option<Waker>,
    /// Senders waiting for room, first come first: each with the number it waits under and
    /// its waker. An item taken wakes (and removes) the first; closing wakes them all.
    waiting: VecDeque<(u64, Waker)>,
    /// The number the next sender to wait gets.
    next_waiter: u64,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Nothing panics while the lock is held; should it, the queue is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        let receiver = state.receiver.take();
        let waiting = std::mem::take(&mut state.waiting);
        drop(state);
        for (_, waker) in waiting {
            waker.wake();
        }
        if let Some(waker) = receiver {
            waker.wake();
        }
    }

    fn shrink_if_empty(&self) {
        let mut state = self.lock();
        if state.items.is_empty() {
            state.items = VecDeque::new();
        }
    }

    /// After an item was taken: wakes the first sender waiting for room, for the room that
    /// one item made.
    fn made_room(&self, mut state: MutexGuard<'_, State<T>>) {
        let next = state.waiting.pop_front();
        drop(state);
        if let Some((_, waker)) = next {
            waker.wake();
        }
    }

    /// Pushes `item` unless the queue is closed, or full and `bounded`.
    fn push(&self, item: T, bounded: bool) -> Result<(), TrySendError<T>> {
        self.push_locked(self.lock(), item, bounded)
    }

    /// [`Shared::push`] under a lock already taken, which it releases.
    fn push_locked(
        &self,
        mut state: MutexGuard<'_, State<T>>,
        item: T,
        bounded: bool,
    ) -> Result<(), TrySendError<T>> {
        if state.closed {
            return Err(TrySendError::Closed(item));
        }
        if bounded && state.items.len() >= self.capacity {
            return Err(TrySendError::Full(item));
        }
        state.items.push_back(item);
        let receiver = state.receiver.take();
        drop(state);
        if let Some(waker) = receiver {
            waker.wake();
        }
        Ok(())
    }
}

/// Keeps `waker` in `slot` to be woken later, cloning it only when it is not the one already
/// there (`Waker::clone_from` compares first).
pub(crate) fn keep_waker(slot: &mut Option<Waker>, waker: &Waker) {
    match slot {
        Some(kept) => kept.clone_from(waker),
        None => *slot = Some(waker.clone()),
    }
}

/// The queue is closed: the item could not be sent and comes back.
#[derive(Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the queue is closed")]
pub struct SendError<T>(pub T);

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

/// Why [`Sender::try_send`] gave the item back.
#[derive(Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TrySendError<T> {
    /// The queue holds `capacity` items.
    #[error("the queue is full")]
    Full(T),
    /// The queue is closed.
    #[error("the queue is closed")]
    Closed(T),
}

impl<T> TrySendError<T> {
    /// The item that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(item) | TrySendError::Closed(item) => item,
        }
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

/// The queue is empty and every sender is gone, or it was closed and is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the queue is empty and closed")]
pub struct RecvError;

/// Why [`Receiver::try_recv`] returned no item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TryRecvError {
    /// Nothing is queued now.
    #[error("the queue is empty")]
    Empty,
    /// Nothing is queued, and nothing ever will be.
    #[error("the queue is empty and closed")]
    Closed,
}

/// The sending end; cloning it makes another sender.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Queues `item`, waiting while the queue is full. Dropping the future before it completes
    /// drops the item unsent.
    pub fn send(&self, item: T) -> SendFuture<'_, T> {
        SendFuture {
            shared: &self.shared,
            item: Some(item),
            waiter: None,
        }
    }

    /// Queues `item` if there is room now.
    pub fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        self.shared.push(item, true)
    }

    /// Queues `item` even when the queue is full, without waiting: for what must not be lost
    /// and cannot wait (a subscription dropped sends its unsubscribe this way). The capacity
    /// bounds what callers can queue by waiting; what goes past it is bounded by the caller.
    pub fn send_over_capacity(&self, item: T) -> Result<(), SendError<T>> {
        self.shared
            .push(item, false)
            .map_err(|e| SendError(e.into_inner()))
    }

    /// How many items are queued, or `None` if the queue is closed (nothing sent now would
    /// be received).
    pub fn open_len(&self) -> Option<usize> {
        let state = self.shared.lock();
        (!state.closed).then_some(state.items.len())
    }

    /// Gives back the memory the queue grew to, if it is empty (see [`Receiver::shrink_if_empty`]).
    pub fn shrink_if_empty(&self) {
        self.shared.shrink_if_empty();
    }

    /// Whether the queue is closed.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }

    /// A sender that does not keep the queue open (see [`WeakSender::upgrade`]).
    pub fn downgrade(&self) -> WeakSender<T> {
        WeakSender {
            shared: self.shared.clone(),
        }
    }
}

/// The future of [`Sender::send`]: resolves once the item is queued, or with the item when
/// the queue is closed. Polled again after that it stays pending.
#[must_use = "futures do nothing unless polled"]
pub struct SendFuture<'a, T> {
    shared: &'a Shared<T>,
    /// The item, until it is queued or given back.
    item: Option<T>,
    /// The number this sender waits under in the queue's line, once it has waited.
    waiter: Option<u64>,
}

// The future never relies on being pinned: the item is moved out of it by value.
impl<T> Unpin for SendFuture<'_, T> {}

impl<T> Future for SendFuture<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let Some(item) = this.item.take() else {
            return Poll::Pending;
        };
        let mut state = this.shared.lock();
        let waiting_at = this
            .waiter
            .and_then(|id| state.waiting.iter().position(|(w, _)| *w == id));
        if !state.closed && state.items.len() >= this.shared.capacity {
            // Full: wait in line (again, when the room this sender was woken for was taken by
            // one that did not wait).
            match waiting_at {
                Some(at) => state.waiting[at].1.clone_from(cx.waker()),
                None => {
                    let id = state.next_waiter;
                    state.next_waiter += 1;
                    state.waiting.push_back((id, cx.waker().clone()));
                    this.waiter = Some(id);
                }
            }
            this.item = Some(item);
            return Poll::Pending;
        }
        // In (or refused: the queue is closed); out of the line either way.
        if let Some(at) = waiting_at {
            state.waiting.remove(at);
        }
        this.waiter = None;
        Poll::Ready(
            this.shared
                .push_locked(state, item, true)
                .map_err(|e| SendError(e.into_inner())),
        )
    }
}

impl<T> Drop for SendFuture<'_, T> {
    /// A sender that leaves the line gives up its place; one that was woken for room and
    /// leaves without using it passes the room on to the next in line, which would otherwise
    /// wait for a wake-up that was spent.
    fn drop(&mut self) {
        let Some(id) = self.waiter else {
            return;
        };
        let mut state = self.shared.lock();
        match state.waiting.iter().position(|(w, _)| *w == id) {
            Some(at) => {
                state.waiting.remove(at);
            }
            None if state.items.len() < self.shared.capacity => {
                let next = state.waiting.pop_front();
                drop(state);
                if let Some((_, waker)) = next {
                    waker.wake();
                }
            }
            None => {}
        }
    }
}

impl<T> fmt::Debug for SendFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendFuture")
            .field("waiting", &self.waiter.is_some())
            .finish_non_exhaustive()
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            let mut state = self.shared.lock();
            state.senders_gone = true;
            let receiver = state.receiver.take();
            drop(state);
            if let Some(waker) = receiver {
                waker.wake();
            }
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("capacity", &self.shared.capacity)
            .finish_non_exhaustive()
    }
}

/// A sender that does not count as one: once every [`Sender`] is gone the receiver sees the
/// queue end, and [`WeakSender::upgrade`] fails.
pub struct WeakSender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> WeakSender<T> {
    /// A sender, while some other sender is still alive.
    pub fn upgrade(&self) -> Option<Sender<T>> {
        let mut count = self.shared.senders.load(Ordering::Relaxed);
        loop {
            if count == 0 {
                return None;
            }
            match self.shared.senders.compare_exchange_weak(
                count,
                count + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    return Some(Sender {
                        shared: self.shared.clone(),
                    })
                }
                Err(now) => count = now,
            }
        }
    }
}

impl<T> WeakSender<T> {
    /// Closes the queue, as [`Receiver::close`] does: for the side that holds the receiver
    /// elsewhere and must refuse further items before it reads the last ones.
    pub fn close(&self) {
        self.shared.close();
    }
}

impl<T> Clone for WeakSender<T> {
    fn clone(&self) -> Self {
        WeakSender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> fmt::Debug for WeakSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WeakSender(..)")
    }
}

/// The receiving end (one per queue). Dropping it closes the queue.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Receiver<T> {
    /// The next item, waiting while the queue is empty; an error once it is empty and closed
    /// or without senders. Dropping the future loses nothing.
    pub async fn recv(&self) -> Result<T, RecvError> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The next item, or the waker of `cx` left to be woken when one arrives (or the queue
    /// ends). Only the latest waker is kept.
    pub fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        match self.take(Some(cx.waker())) {
            Ok(item) => Poll::Ready(Ok(item)),
            Err(TryRecvError::Closed) => Poll::Ready(Err(RecvError)),
            Err(TryRecvError::Empty) => Poll::Pending,
        }
    }

    /// The next item, if one is queued.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.take(None)
    }

    /// Takes the next item; on an empty, open queue leaves `waker` (if any) to be woken.
    fn take(&self, waker: Option<&Waker>) -> Result<T, TryRecvError> {
        let mut state = self.shared.lock();
        match state.items.pop_front() {
            Some(item) => {
                self.shared.made_room(state);
                Ok(item)
            }
            None if state.closed || state.senders_gone => Err(TryRecvError::Closed),
            None => {
                if let Some(waker) = waker {
                    keep_waker(&mut state.receiver, waker);
                }
                Err(TryRecvError::Empty)
            }
        }
    }

    /// Refuses further items (senders get their items back); those already queued can still
    /// be received.
    pub fn close(&self) {
        self.shared.close();
    }

    /// Gives back the memory the queue grew to, if it is empty.
    pub fn shrink_if_empty(&self) {
        self.shared.shrink_if_empty();
    }
}

impl<T> Drop for Receiver<T> {
    /// Closes the queue and drops what is in it, so that whatever those items would have
    /// answered (a reply channel, a publish's completion) is answered now by their drop,
    /// instead of when the last sender is gone.
    fn drop(&mut self) {
        self.shared.close();
        // Dropped outside the lock: an item's drop may take other locks.
        let items = std::mem::take(&mut self.shared.lock().items);
        drop(items);
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("capacity", &self.shared.capacity)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use crate::test_waker::WakeCount;

    fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        f.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn holds_no_memory_until_used_and_gives_back_a_burst() {
        let (tx, rx) = bounded::<u64>(64);
        assert_eq!(rx.shared.lock().items.capacity(), 0);
        for i in 0..64 {
            tx.try_send(i).unwrap();
        }
        assert_eq!(tx.try_send(64), Err(TrySendError::Full(64)));
        assert!(rx.shared.lock().items.capacity() >= 64);
        rx.shrink_if_empty();
        assert!(rx.shared.lock().items.capacity() >= 64, "not empty: kept");
        for i in 0..64 {
            assert_eq!(rx.try_recv(), Ok(i));
        }
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        rx.shrink_if_empty();
        assert_eq!(rx.shared.lock().items.capacity(), 0);
    }

    #[test]
    fn a_sender_waits_for_room_and_is_woken_when_it_frees_up() {
        let (tx, rx) = bounded(2);
        tx.try_send(1).unwrap();
        tx.try_send(2).unwrap();
        let mut third = pin!(tx.send(3));
        let mut fourth = pin!(tx.send(4));
        assert!(poll_once(third.as_mut()).is_pending());
        assert!(poll_once(fourth.as_mut()).is_pending());
        // Two items taken: both waiting senders get in, in turn.
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(rx.try_recv(), Ok(2));
        assert_eq!(poll_once(third.as_mut()), Poll::Ready(Ok(())));
        assert_eq!(poll_once(fourth.as_mut()), Poll::Ready(Ok(())));
        assert_eq!(rx.try_recv(), Ok(3));
        assert_eq!(rx.try_recv(), Ok(4));
    }

    #[test]
    fn waiting_senders_are_woken_one_per_item_taken() {
        // Each sender's waker records that it was woken; each item taken wakes the first
        // sender in line.
        let (tx, rx) = bounded(3);
        for i in 0..3 {
            tx.try_send(i).unwrap();
        }
        let flags: Vec<_> = (0..3).map(|_| WakeCount::waker().0).collect();
        let mut sends: Vec<_> = (10..13).map(|i| Box::pin(tx.send(i))).collect();
        for (send, flag) in sends.iter_mut().zip(&flags) {
            let waker = Waker::from(flag.clone());
            assert!(send
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending());
        }
        for i in 0..3 {
            assert_eq!(rx.try_recv(), Ok(i));
        }
        let mut done = 0;
        for _ in 0..3 {
            for (send, flag) in sends.iter_mut().zip(&flags) {
                if flag.woken() {
                    let waker = Waker::from(flag.clone());
                    if send
                        .as_mut()
                        .poll(&mut Context::from_waker(&waker))
                        .is_ready()
                    {
                        done += 1;
                    }
                }
            }
        }
        assert_eq!(done, 3, "every waiting sender got in");
        let mut got: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        got.sort_unstable();
        assert_eq!(got, [10, 11, 12]);
    }

    #[test]
    fn a_receiver_is_woken_by_an_item_by_the_last_sender_leaving_and_by_closing() {
        let (tx, rx) = bounded(4);
        let tx2 = tx.clone();
        let weak = tx.downgrade();
        let (flag, waker) = WakeCount::waker();
        let mut cx = Context::from_waker(&waker);
        assert!(rx.poll_recv(&mut cx).is_pending());
        tx2.try_send(7).unwrap();
        assert!(flag.woken(), "an item wakes the receiver");
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Ok(7)));
        assert!(rx.poll_recv(&mut cx).is_pending());
        drop(tx);
        assert!(!flag.woken(), "one sender is left");
        let upgraded = weak.upgrade().unwrap();
        drop(tx2);
        assert!(!flag.woken(), "the upgraded one is a sender");
        assert!(rx.poll_recv(&mut cx).is_pending());
        drop(upgraded);
        assert!(flag.woken(), "the last sender leaving wakes the receiver");
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Err(RecvError)));
        assert!(weak.upgrade().is_none());
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));

        let (tx, rx) = bounded::<u8>(4);
        assert!(rx.poll_recv(&mut cx).is_pending());
        weak_close(&tx);
        assert!(flag.woken(), "closing wakes the receiver");
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Err(RecvError)));
    }

    fn weak_close<T>(tx: &Sender<T>) {
        tx.downgrade().close();
    }

    #[test]
    fn closing_refuses_new_items_and_keeps_queued_ones() {
        let (tx, rx) = bounded(1);
        tx.try_send(1).unwrap();
        let mut waiting = pin!(tx.send(2));
        assert!(poll_once(waiting.as_mut()).is_pending());
        rx.close();
        assert_eq!(poll_once(waiting.as_mut()), Poll::Ready(Err(SendError(2))));
        assert!(tx.is_closed());
        assert_eq!(tx.try_send(3), Err(TrySendError::Closed(3)));
        assert_eq!(tx.send_over_capacity(4), Err(SendError(4)));
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
        drop(rx);
        assert_eq!(tx.try_send(5), Err(TrySendError::Closed(5)));
    }

    /// A sender waiting for room, and the record of its wake-ups.
    type Waiting<'a> = (Pin<Box<SendFuture<'a, u32>>>, Arc<WakeCount>);

    /// A full queue of capacity one (`tx` and its receiver) with two senders waiting in line
    /// for room, each polled with a waker that records its wake-ups.
    fn two_waiting(tx: &Sender<u32>) -> [Waiting<'_>; 2] {
        tx.try_send(0).unwrap();
        [1, 2].map(|item| {
            let (flag, waker) = WakeCount::waker();
            let mut send = Box::pin(tx.send(item));
            let polled = send.as_mut().poll(&mut Context::from_waker(&waker));
            assert!(polled.is_pending(), "the queue is full");
            (send, flag)
        })
    }

    #[test]
    fn a_sender_woken_for_room_it_does_not_use_passes_it_on() {
        let (tx, rx) = bounded(1);
        let [(first, first_flag), (mut second, second_flag)] = two_waiting(&tx);
        assert_eq!(rx.try_recv(), Ok(0));
        assert!(first_flag.woken() && !second_flag.woken());
        // The first leaves without using the room it was woken for: the second gets it.
        drop(first);
        assert!(second_flag.woken());
        assert_eq!(poll_once(second.as_mut()), Poll::Ready(Ok(())));
        assert_eq!(rx.try_recv(), Ok(2));
    }

    #[test]
    fn a_sender_that_leaves_the_line_is_not_woken_in_the_next_ones_place() {
        let (tx, rx) = bounded(1);
        let [(first, first_flag), (mut second, second_flag)] = two_waiting(&tx);
        drop(first);
        assert!(!first_flag.woken());
        assert_eq!(rx.try_recv(), Ok(0));
        assert!(second_flag.woken());
        assert_eq!(poll_once(second.as_mut()), Poll::Ready(Ok(())));
        assert_eq!(rx.try_recv(), Ok(2));
    }

    #[test]
    fn a_sender_whose_room_was_taken_waits_again_and_closing_wakes_every_sender() {
        let (tx, rx) = bounded(1);
        let [(mut first, first_flag), (mut second, second_flag)] = two_waiting(&tx);
        let first_waker = Waker::from(first_flag.clone());
        let mut cx1 = Context::from_waker(&first_waker);
        assert_eq!(rx.try_recv(), Ok(0));
        // A sender that did not wait takes the room first.
        tx.try_send(3).unwrap();
        assert!(first_flag.woken());
        assert!(first.as_mut().poll(&mut cx1).is_pending(), "in line again");
        rx.close();
        assert!(second_flag.woken());
        assert_eq!(
            first.as_mut().poll(&mut cx1),
            Poll::Ready(Err(SendError(1)))
        );
        assert_eq!(poll_once(second.as_mut()), Poll::Ready(Err(SendError(2))));
    }

    #[test]
    fn a_dropped_receiver_drops_the_queued_items_while_senders_live() {
        let item = std::sync::Arc::new(());
        let (tx, rx) = bounded(2);
        tx.try_send(item.clone()).unwrap();
        assert_eq!(std::sync::Arc::strong_count(&item), 2);
        drop(rx);
        assert_eq!(std::sync::Arc::strong_count(&item), 1);
        assert!(tx.is_closed());
    }

    #[test]
    fn items_cross_threads_in_order_per_sender_and_none_is_lost() {
        let (tx, rx) = bounded(4);
        let senders: Vec<_> = (0..4u64)
            .map(|t| {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    futures_lite::future::block_on(async {
                        for i in 0..10_000u64 {
                            tx.send((t, i)).await.unwrap();
                        }
                    })
                })
            })
            .collect();
        drop(tx);
        let mut next = [0u64; 4];
        futures_lite::future::block_on(async {
            while let Ok((t, i)) = rx.recv().await {
                assert_eq!(next[t as usize], i, "sender {t} out of order");
                next[t as usize] += 1;
            }
        });
        for s in senders {
            s.join().unwrap();
        }
        assert_eq!(next, [10_000; 4]);
    }
}
