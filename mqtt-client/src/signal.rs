//! How subscription readers tell the connection task that they took messages: the task then
//! acknowledges what the application now has (automatic acks wait for that), moves messages
//! that waited for room into the reader's buffer, and reads the socket again once the inbound
//! budget has room. A reader counts what it takes and wakes the task only when the task asked
//! for it or an acknowledgement waits; many takes between two turns of the task cost one wake.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};

use crate::queue;

/// The connection task's wake-up, shared by every reader of one connection.
#[derive(Debug)]
pub(crate) struct Wake {
    /// A wake-up is queued and the task has not yet looked: further ones are not needed.
    pending: AtomicBool,
    tx: queue::Sender<()>,
}

impl Wake {
    /// A wake-up and the receiving end the connection loop waits on.
    pub(crate) fn new() -> (Arc<Wake>, queue::Receiver<()>) {
        let (tx, rx) = queue::bounded(1);
        (
            Arc::new(Wake {
                pending: AtomicBool::new(false),
                tx,
            }),
            rx,
        )
    }

    /// Wakes the connection task, unless a wake-up is already on its way.
    ///
    /// A reader changes a count, then calls this; the task calls [`Wake::clear`], then reads
    /// the counts. Sequentially consistent on both sides (the two flags of this file are
    /// Dekker's pattern): either the reader sees the task's clear and wakes it, or the task
    /// sees the reader's count. With weaker orderings the task's clear may wait in the
    /// processor's store buffer while it reads an old count, the reader sees the flag still
    /// set, and the wake-up is lost: acknowledgements that never go out.
    pub(crate) fn wake(&self) {
        if !self.pending.swap(true, Ordering::SeqCst) {
            // Refused only when the task is gone.
            let _ = self.tx.send_over_capacity(());
        }
    }

    /// The task is looking now: takes made from here on wake it again.
    pub(crate) fn clear(&self) {
        self.pending.swap(false, Ordering::SeqCst);
    }
}

/// Wake-ups from subscription readers that took messages: a loop waits on
/// [`Signals::recv`] beside its commands and calls
/// [`Driver::signalled`](crate::Driver::signalled) for each.
#[derive(Debug)]
pub struct Signals(queue::Receiver<()>);

impl Signals {
    /// The loop's end of the readers' wake-ups (see [`Wake::new`]).
    pub(crate) fn new(rx: queue::Receiver<()>) -> Signals {
        Signals(rx)
    }

    /// The next wake-up. Never ends while the driver lives (it holds a sender).
    pub async fn recv(&self) {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// [`Signals::recv`], polled: ready with the next wake-up.
    pub fn poll_recv(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        match self.0.poll_recv(cx) {
            std::task::Poll::Ready(Ok(())) => std::task::Poll::Ready(()),
            // Closed: no wake-up comes again.
            _ => std::task::Poll::Pending,
        }
    }
}

/// What one reader took, as the connection task learns it.
#[derive(Debug, Default)]
pub(crate) struct Taken {
    /// Messages taken out of the reader's buffer so far.
    count: AtomicU64,
    /// The task wants to hear of every take (it holds messages for this reader, or stopped
    /// reading the socket until memory is given back).
    wake_on_take: AtomicBool,
    /// With a session store: the most messages the reader may have taken whose
    /// acknowledgements are not on disk yet (0: no limit). A process that dies can be handed
    /// those again, so the limit bounds what a crash delivers twice.
    limit: u64,
    /// Takes whose acknowledgements are on disk (or need none).
    durable: AtomicU64,
    /// The reader, waiting for `durable` to move.
    waiting: Mutex<Option<Waker>>,
}

impl Taken {
    /// A reader's count that lets it run at most `limit` takes ahead of the store (0: no
    /// limit).
    pub(crate) fn with_limit(limit: u64) -> Taken {
        Taken {
            limit,
            ..Taken::default()
        }
    }

    /// Whether the reader may take another message now. If not, the connection task is woken
    /// (it has the takes to account for and save) and so, later, is the reader.
    pub(crate) fn may_take(&self, wake: &Wake, cx: &mut Context<'_>) -> bool {
        if self.limit == 0 || self.ahead() < self.limit {
            return true;
        }
        *self.waiting.lock().unwrap_or_else(|e| e.into_inner()) = Some(cx.waker().clone());
        // The store may have caught up meanwhile.
        if self.ahead() < self.limit {
            return true;
        }
        wake.wake();
        false
    }

    fn ahead(&self) -> u64 {
        self.count
            .load(Ordering::Acquire)
            .saturating_sub(self.durable.load(Ordering::Acquire))
    }

    /// The acknowledgements of the first `count` takes are on disk.
    pub(crate) fn set_durable(&self, count: u64) {
        self.durable.fetch_max(count, Ordering::AcqRel);
        let waiting = self
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(waker) = waiting {
            waker.wake();
        }
    }

    /// The reader took a message; `owes_ack`: an automatic acknowledgement waits for it.
    pub(crate) fn take(&self, wake: &Wake, owes_ack: bool) {
        // Sequentially consistent: see `Wake::wake`.
        self.count.fetch_add(1, Ordering::SeqCst);
        if owes_ack || self.wake_on_take.load(Ordering::SeqCst) {
            wake.wake();
        }
    }

    /// How many messages the reader has taken so far.
    pub(crate) fn count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    /// Whether every take should wake the task.
    pub(crate) fn set_wake_on_take(&self, on: bool) {
        self.wake_on_take.swap(on, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_wake_the_task_once_until_it_looks() {
        let (wake, rx) = Wake::new();
        let taken = Taken::default();
        taken.take(&wake, false);
        assert!(rx.try_recv().is_err(), "nobody asked to hear of it");
        taken.set_wake_on_take(true);
        taken.take(&wake, false);
        taken.take(&wake, true);
        assert_eq!(rx.try_recv(), Ok(()));
        assert!(rx.try_recv().is_err(), "one wake-up for both");
        wake.clear();
        taken.set_wake_on_take(false);
        taken.take(&wake, true);
        assert_eq!(
            rx.try_recv(),
            Ok(()),
            "an owed acknowledgement always wakes"
        );
        assert_eq!(taken.count(), 4);
    }

    #[test]
    fn a_reader_ahead_of_the_store_waits_until_it_catches_up() {
        let (wake, rx) = Wake::new();
        let taken = Taken::with_limit(2);
        let (count, waker) = crate::test_waker::WakeCount::waker();
        let mut cx = Context::from_waker(&waker);
        assert!(taken.may_take(&wake, &mut cx));
        taken.take(&wake, false);
        taken.take(&wake, false);
        assert!(!taken.may_take(&wake, &mut cx), "two ahead");
        assert_eq!(rx.try_recv(), Ok(()), "the task is told");
        taken.set_durable(1);
        assert_eq!(count.wakes(), 1, "the reader is woken");
        assert!(taken.may_take(&wake, &mut cx));
        let unlimited = Taken::default();
        for _ in 0..10 {
            unlimited.take(&wake, false);
        }
        assert!(unlimited.may_take(&wake, &mut cx));
    }
}
