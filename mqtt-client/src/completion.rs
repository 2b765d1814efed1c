//! How a publish gets from a caller to the connection task and its outcome back, without an
//! allocation per publish.
//!
//! Each publish takes a slot of one shared table ([`Completions`]) for as long as either side
//! holds it: the caller's [`PublishHandle`](crate::PublishHandle) (or the
//! `publish_message` future before it returns the handle) and the connection task's
//! [`Completer`], which is what the command queue carries. The slot holds the message until the connection task
//! takes it, then the outcome until the caller takes it. The table keeps its freed slots, so
//! steady traffic reuses them; before, each publish allocated a box for its message and the
//! shared state of a channel for its outcome. The table's lock is held only to read or write
//! a slot, never across a wait, and wakers are woken after it is released.
//!
//! A burst grows the table like a `Vec` (large ones are moved by `mremap`, not copied); slots
//! in fixed-size chunks that never move were tried and cost about 100 more instructions per
//! message (the index arithmetic on every access) in the clients bench under callgrind.
//!
//! A [`Completer`] dropped before it completed its slot (the connection task ended, or its
//! command was dropped in the queue) completes it with [`ClientError::Closed`], as a dropped
//! channel sender did, so no caller waits for a publish nobody will finish.

use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use mqtt_proto::PacketId;
use mqtt_session::{OutboundMessage, PublishId};

use crate::queue::keep_waker;
use crate::report::{ClientError, PublishDone};

/// What a caller learns when the session took its publish: the publish's id and its Packet
/// Identifier (QoS 1/2).
pub(crate) type Accepted = (PublishId, Option<PacketId>);

/// The completion slots of one client's publishes.
#[derive(Debug, Default)]
pub(crate) struct Completions {
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    slots: Vec<Slot>,
    /// Indices of the free slots.
    free: Vec<u32>,
}

impl Table {
    fn slot(&mut self, key: u32) -> &mut Slot {
        &mut self.slots[key as usize]
    }
}

#[derive(Debug, Default)]
struct Slot {
    /// The message, until the connection task takes it.
    message: Option<OutboundMessage>,
    /// Set when the session took the publish.
    accepted: Option<Accepted>,
    /// How the publish ended, once it has.
    outcome: Outcome,
    /// The caller waiting, and whether it waits for `accepted` (or only for the outcome).
    waker: Option<Waker>,
    waits_for_acceptance: bool,
    /// How many of the two sides still hold the slot: free at zero.
    holders: u8,
}

/// How a publish ended, as far as its caller knows.
#[derive(Debug, Default)]
enum Outcome {
    /// Not yet.
    #[default]
    Pending,
    /// Completed, failed, or refused; not yet handed to the caller. The error is boxed: it is
    /// rare, and unboxed it would make every slot 96 bytes larger.
    Ready(Result<PublishDone, Box<ClientError>>),
    /// Handed to the caller.
    Taken,
}

impl Completions {
    /// A new, empty table.
    pub(crate) fn new() -> Arc<Completions> {
        Arc::new(Completions::default())
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        // A panic while the lock was held left no slot half written (every write is one
        // assignment), so the table stays usable.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a free slot for a new publish of `message`, held by both sides; returns its index.
    pub(crate) fn open(&self, message: OutboundMessage) -> u32 {
        let mut table = self.lock();
        let slot = Slot {
            message: Some(message),
            holders: 2,
            ..Slot::default()
        };
        match table.free.pop() {
            Some(key) => {
                *table.slot(key) = slot;
                key
            }
            None => {
                table.slots.push(slot);
                // More slots than `u32::MAX` would need that many publishes in flight at once,
                // far beyond any memory.
                u32::try_from(table.slots.len() - 1).unwrap_or(u32::MAX)
            }
        }
    }

    /// One side lets go of slot `key`; the slot is free once both have.
    fn release(table: &mut Table, key: u32) {
        let slot = table.slot(key);
        slot.holders -= 1;
        if slot.holders == 0 {
            *slot = Slot::default();
            table.free.push(key);
        }
    }

    /// Gives back the memory a burst of publishes grew the table to, if no slot is in use.
    /// Called when the connection goes quiet (see [`Driver::timer_fired`]), not whenever the
    /// last slot is freed, which under steady traffic would make every burst grow the table
    /// again.
    ///
    /// [`Driver::timer_fired`]: crate::Driver::timer_fired
    pub(crate) fn shrink_if_unused(&self) {
        let mut table = self.lock();
        if table.free.len() == table.slots.len() {
            *table = Table::default();
        }
    }

    /// The connection task's side: takes the message out.
    fn take_message(&self, key: u32) -> Option<OutboundMessage> {
        self.lock().slot(key).message.take()
    }

    /// The connection task's side: records that the session took the publish.
    fn accept(&self, key: u32, accepted: Accepted) {
        let mut table = self.lock();
        let slot = table.slot(key);
        slot.accepted = Some(accepted);
        let waker = if slot.waits_for_acceptance {
            slot.waker.take()
        } else {
            None
        };
        drop(table);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// The connection task's side: records the outcome and lets go of the slot.
    fn complete(&self, key: u32, result: Result<PublishDone, ClientError>) {
        let mut table = self.lock();
        let slot = table.slot(key);
        slot.outcome = Outcome::Ready(result.map_err(Box::new));
        let waker = slot.waker.take();
        Completions::release(&mut table, key);
        drop(table);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// The caller's side: the publish's id once the session took it, or why it was refused.
    pub(crate) fn poll_accepted(
        &self,
        key: u32,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Accepted, ClientError>> {
        let mut table = self.lock();
        let slot = table.slot(key);
        if let Some(accepted) = slot.accepted {
            return Poll::Ready(Ok(accepted));
        }
        // Completed without being accepted: refused (or the connection task is gone).
        match &slot.outcome {
            Outcome::Pending => {}
            Outcome::Ready(Ok(done)) => return Poll::Ready(Ok((done.id, done.packet_id))),
            Outcome::Ready(Err(e)) => return Poll::Ready(Err(ClientError::clone(e))),
            Outcome::Taken => return Poll::Ready(Err(ClientError::Closed)),
        }
        slot.waits_for_acceptance = true;
        keep_waker(&mut slot.waker, cx.waker());
        Poll::Pending
    }

    /// The caller's side: the outcome, once there is one. Taken out of the slot: a second
    /// poll after `Ready` sees [`ClientError::Closed`].
    pub(crate) fn poll_done(
        &self,
        key: u32,
        cx: &mut Context<'_>,
    ) -> Poll<Result<PublishDone, ClientError>> {
        let mut table = self.lock();
        let slot = table.slot(key);
        match std::mem::replace(&mut slot.outcome, Outcome::Taken) {
            Outcome::Ready(done) => Poll::Ready(done.map_err(|e| *e)),
            Outcome::Taken => Poll::Ready(Err(ClientError::Closed)),
            Outcome::Pending => {
                slot.outcome = Outcome::Pending;
                slot.waits_for_acceptance = false;
                keep_waker(&mut slot.waker, cx.waker());
                Poll::Pending
            }
        }
    }

    /// The caller's side lets go of slot `key` (its handle was dropped).
    pub(crate) fn release_caller(&self, key: u32) {
        let mut table = self.lock();
        table.slot(key).waker = None;
        Completions::release(&mut table, key);
    }

    /// How many slots are in use (by either side), and how many the table has room for.
    #[cfg(test)]
    pub(crate) fn usage(&self) -> (usize, usize) {
        let table = self.lock();
        (table.slots.len() - table.free.len(), table.slots.capacity())
    }
}

/// The connection task's hold on one publish's slot: it says once whether the session took
/// the publish ([`Completer::accept`]) and once how it ended ([`Completer::complete`]).
/// Dropped before that, it completes the slot with [`ClientError::Closed`].
#[derive(Debug)]
pub struct Completer {
    completions: Arc<Completions>,
    key: u32,
    completed: bool,
}

impl Completer {
    pub(crate) fn new(completions: Arc<Completions>, key: u32) -> Completer {
        Completer {
            completions,
            key,
            completed: false,
        }
    }

    /// The message to publish: `Some` the first time only.
    pub fn take_message(&self) -> Option<OutboundMessage> {
        self.completions.take_message(self.key)
    }

    /// The session took the publish: a caller waiting for its id gets it.
    pub fn accept(&self, id: PublishId, packet_id: Option<PacketId>) {
        self.completions.accept(self.key, (id, packet_id));
    }

    /// The publish ended (or was refused): its caller gets `result`.
    pub fn complete(mut self, result: Result<PublishDone, ClientError>) {
        self.completed = true;
        self.completions.complete(self.key, result);
    }
}

impl Drop for Completer {
    fn drop(&mut self) {
        if !self.completed {
            self.completions
                .complete(self.key, Err(ClientError::Closed));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_waker::WakeCount;
    use mqtt_proto::ReasonCode;

    fn done(id: PublishId) -> PublishDone {
        PublishDone {
            id,
            packet_id: PacketId::new(7),
            reason_code: ReasonCode::Success,
        }
    }

    fn message() -> OutboundMessage {
        let topic = mqtt_proto::TopicName::try_from("t").unwrap();
        OutboundMessage::new(topic, "x", mqtt_proto::QoS::AtLeastOnce)
    }

    #[test]
    fn the_connection_task_takes_the_message_once() {
        let table = Completions::new();
        let (_, completer) = opened(&table);
        assert_eq!(completer.take_message(), Some(message()));
        assert_eq!(completer.take_message(), None);
    }

    /// The id of the `n`th publish of a session (ids are the session's to give).
    fn id(n: u64) -> PublishId {
        let config = mqtt_session::Config::new(
            mqtt_proto::ProtocolVersion::V311,
            mqtt_proto::MqttString::try_from("completion-test").unwrap(),
        );
        let mut session = mqtt_session::Session::new(config).unwrap();
        let topic = mqtt_proto::TopicName::try_from("t").unwrap();
        let mut last = None;
        for _ in 0..n {
            let message =
                mqtt_session::OutboundMessage::new(topic.clone(), "x", mqtt_proto::QoS::AtMostOnce);
            last = Some(
                session
                    .publish(std::time::Instant::now(), message)
                    .unwrap()
                    .id,
            );
        }
        let id = last.unwrap();
        assert_eq!(id.get(), n);
        id
    }

    /// A new slot of `table` and the connection task's hold on it.
    fn opened(table: &Arc<Completions>) -> (u32, Completer) {
        let key = table.open(message());
        (key, Completer::new(table.clone(), key))
    }

    #[test]
    fn a_slot_is_small() {
        // Every publish in flight has one: the message, and little besides.
        let besides = std::mem::size_of::<Slot>() - std::mem::size_of::<Option<OutboundMessage>>();
        assert!(besides <= 80, "{besides}");
    }

    #[test]
    fn the_caller_is_woken_with_the_outcome_and_the_slot_is_reused() {
        let table = Completions::new();
        let (key, completer) = opened(&table);
        let (count, waker) = WakeCount::waker();
        let mut cx = Context::from_waker(&waker);
        assert!(table.poll_done(key, &mut cx).is_pending());
        completer.complete(Ok(done(id(1))));
        assert_eq!(count.wakes(), 1);
        assert_eq!(table.poll_done(key, &mut cx), Poll::Ready(Ok(done(id(1)))));
        // The outcome was handed over once; polling again is a caller's mistake.
        assert_eq!(
            table.poll_done(key, &mut cx),
            Poll::Ready(Err(ClientError::Closed))
        );
        assert_eq!(table.usage().0, 1, "the caller still holds it");
        table.release_caller(key);
        assert_eq!(table.usage().0, 0);
        assert_eq!(table.open(message()), key, "a freed slot is taken again");
    }

    #[test]
    fn acceptance_wakes_only_a_caller_waiting_for_it() {
        let table = Completions::new();
        let (key, completer) = opened(&table);
        let (count, waker) = WakeCount::waker();
        let mut cx = Context::from_waker(&waker);
        assert!(table.poll_done(key, &mut cx).is_pending());
        completer.accept(id(3), PacketId::new(7));
        assert_eq!(count.wakes(), 0);
        assert_eq!(
            table.poll_accepted(key, &mut cx),
            Poll::Ready(Ok((id(3), PacketId::new(7))))
        );

        let (other, other_completer) = opened(&table);
        assert!(table.poll_accepted(other, &mut cx).is_pending());
        other_completer.accept(id(4), None);
        assert_eq!(count.wakes(), 1);
        assert_eq!(
            table.poll_accepted(other, &mut cx),
            Poll::Ready(Ok((id(4), None)))
        );
    }

    #[test]
    fn a_refusal_before_acceptance_is_what_the_caller_waiting_for_an_id_gets() {
        let table = Completions::new();
        let key = table.open(message());
        let (_, waker) = WakeCount::waker();
        let mut cx = Context::from_waker(&waker);
        Completer::new(table.clone(), key)
            .complete(Err(ClientError::Session(mqtt_session::Error::Closing)));
        assert_eq!(
            table.poll_accepted(key, &mut cx),
            Poll::Ready(Err(ClientError::Session(mqtt_session::Error::Closing)))
        );
    }

    #[test]
    fn a_dropped_completer_closes_its_slot_and_wakes_the_caller() {
        let table = Completions::new();
        let (key, completer) = opened(&table);
        let (count, waker) = WakeCount::waker();
        let mut cx = Context::from_waker(&waker);
        assert!(table.poll_done(key, &mut cx).is_pending());
        drop(completer);
        assert_eq!(count.wakes(), 1);
        assert_eq!(
            table.poll_done(key, &mut cx),
            Poll::Ready(Err(ClientError::Closed))
        );
        table.release_caller(key);
        assert_eq!(table.usage().0, 0);
    }

    #[test]
    fn a_caller_gone_first_leaves_the_slot_to_the_completer() {
        let table = Completions::new();
        let (key, completer) = opened(&table);
        table.release_caller(key);
        assert_eq!(table.usage().0, 1);
        completer.complete(Ok(done(id(1))));
        assert_eq!(table.usage().0, 0);
    }

    #[test]
    fn an_unused_table_gives_a_burst_back_when_asked() {
        let table = Completions::new();
        let keys: Vec<u32> = (0..100).map(|_| table.open(message())).collect();
        let (_, room) = table.usage();
        assert!(room >= 100);
        table.shrink_if_unused();
        assert_eq!(table.usage(), (100, room), "slots in use are kept");
        for key in keys {
            table.release_caller(key);
            Completer::new(table.clone(), key).complete(Ok(done(id(1))));
        }
        assert_eq!(
            table.usage(),
            (0, room),
            "freed slots are kept for the next burst"
        );
        table.shrink_if_unused();
        assert_eq!(table.usage(), (0, 0));
    }
}
