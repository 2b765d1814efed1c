//! The store's writes, as the loop's turns see them: outputs that wait for them, publishes
//! accepted once on disk, failures that close the connection.

use super::connack;
use crate::client::Command;
use crate::driver::{Driver, Step};
use crate::persistence::{SAVE_BUF_KEEP, SAVE_WINDOW};
use crate::queue::Receiver;
use crate::{Client, ConnectionEvent, Options, Store};
use bytes::BytesMut;
use mqtt_proto::{ProtocolVersion, QoS, TopicName};
use mqtt_session::OutboundMessage;
use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

const WORKS: u8 = 0;
const FAILS: u8 = 1;
const PANICS: u8 = 2;

/// A store in memory that works, fails or panics, as told.
#[derive(Debug, Clone, Default)]
struct Memory(Arc<(Mutex<Vec<u8>>, AtomicU8)>);

impl Memory {
    fn held(&self) -> usize {
        self.0 .0.lock().unwrap().len()
    }
    fn set(&self, mode: u8) {
        self.0 .1.store(mode, Ordering::Relaxed);
    }
    fn write(&self, bytes: &[u8], replace: bool) -> io::Result<()> {
        match self.0 .1.load(Ordering::Relaxed) {
            FAILS => return Err(io::Error::other("disk full")),
            PANICS => panic!("a store that panics"),
            _ => {}
        }
        let mut held = self.0 .0.lock().unwrap();
        if replace {
            held.clear();
        }
        held.extend_from_slice(bytes);
        Ok(())
    }
}

impl Store for Memory {
    fn load(&self) -> io::Result<Option<Vec<u8>>> {
        Ok(None)
    }
    fn save(&self, bytes: &[u8]) -> io::Result<()> {
        self.write(bytes, true)
    }
    fn append(&self, bytes: &[u8]) -> io::Result<()> {
        self.write(bytes, false)
    }
}

/// A client and its driver, with `store`.
fn start(store: &Memory, id: &str) -> (Client, Driver, Receiver<Command>) {
    let options = Options::new("mqtt://127.0.0.1:1883", id)
        .unwrap()
        .protocol_version(ProtocolVersion::V311)
        .clean_start(false)
        .store(store.clone());
    let pair = Driver::client_pair(options, 8, Instant::now()).unwrap();
    (pair.client, pair.driver, pair.commands)
}

/// `client.publish_message(message)`, taken by the driver.
fn take_publish(
    client: &Client,
    driver: &mut Driver,
    rx: &Receiver<Command>,
    now: Instant,
    message: OutboundMessage,
) {
    let mut queued = pin!(client.publish_message(message));
    let mut cx = Context::from_waker(Waker::noop());
    assert!(matches!(queued.as_mut().poll(&mut cx), Poll::Ready(Ok(_))));
    driver.commands(now, rx.try_recv().unwrap(), rx);
}

/// The outputs of a turn that changed the session wait in `tx` until the loop has run the
/// store write (`Step::Save`, then `saved`); a write that fails, or a store that panics,
/// drops them and closes the connection, with `StoreFailed`; the next write is the whole
/// journal again.
#[test]
fn outputs_wait_for_the_store_and_a_failed_write_closes() {
    let store = Memory::default();
    let (client, mut driver, rx) = start(&store, "saver");
    let now = Instant::now();
    let mut tx = BytesMut::new();
    driver.connected(now);
    assert_eq!(driver.step(now, true, &mut tx), Step::Save);
    assert!(!tx.is_empty(), "the CONNECT waits for the save");
    assert_eq!(driver.step(now, true, &mut tx), Step::Save, "not run yet");
    let job = driver.take_save().unwrap();
    assert!(driver.take_save().is_none(), "one write at a time");
    assert_eq!(store.held(), 0);
    let first = job.len();
    driver.saved(job.run());
    assert_eq!(store.held(), first, "the whole journal");
    assert_eq!(driver.step(now, true, &mut tx), Step::Wait);
    assert!(!tx.is_empty(), "the CONNECT is still there to write");
    tx.clear();
    let mut input = BytesMut::new();
    connack(&mut input);
    driver.read(now, &mut input);
    assert_eq!(
        driver.step(now, true, &mut tx),
        Step::Wait,
        "nothing to save"
    );

    // A QoS 2 publish the session took: appended before its PUBLISH may go out (sent
    // again after a crash that lost its packet identifier, it would be a new message).
    let message = |payload: &'static str, qos| {
        let topic = TopicName::new("saver/t").unwrap();
        OutboundMessage::new(topic, payload, qos)
    };
    take_publish(
        &client,
        &mut driver,
        &rx,
        now,
        message("one", QoS::ExactlyOnce),
    );
    assert_eq!(driver.step(now, true, &mut tx), Step::Save);
    assert!(!tx.is_empty(), "the PUBLISH waits for the save");
    let job = driver.take_save().unwrap();
    assert!(job.holds_output());
    let appended = job.len();
    driver.saved(job.run());
    assert_eq!(
        store.held(),
        first + appended,
        "the change alone is appended"
    );
    assert_eq!(driver.step(now, true, &mut tx), Step::Wait);
    tx.clear();

    // A QoS 1 publish goes out while the write that holds it runs (a crash may send it
    // twice, which QoS 1 allows); an output that depends on a change made meanwhile (a
    // QoS 2 publish) waits for that write and the next.
    take_publish(
        &client,
        &mut driver,
        &rx,
        now,
        message("fast", QoS::AtLeastOnce),
    );
    // The write waits a moment for more publishes (group commit); the PUBLISH does not.
    assert_eq!(driver.step(now, true, &mut tx), Step::Wait);
    assert!(!tx.is_empty(), "the QoS 1 PUBLISH goes out");
    tx.clear();
    assert_eq!(driver.next_deadline(), Some(now + SAVE_WINDOW));
    let now = now + SAVE_WINDOW;
    assert_eq!(driver.step(now, true, &mut tx), Step::Save);
    let running = driver.take_save().unwrap();
    assert!(!running.holds_output());
    assert_eq!(driver.step(now, true, &mut tx), Step::Wait);
    take_publish(
        &client,
        &mut driver,
        &rx,
        now,
        message("slow", QoS::ExactlyOnce),
    );
    assert_eq!(driver.step(now, true, &mut tx), Step::Save);
    assert!(driver.take_save().is_none(), "one write at a time");
    let held = store.held();
    driver.saved(running.run());
    assert!(store.held() > held);
    assert_eq!(driver.step(now, true, &mut tx), Step::Save);
    let job = driver.take_save().unwrap();
    assert!(job.holds_output(), "the QoS 2 PUBLISH waits for this one");
    driver.saved(job.run());
    assert_eq!(driver.step(now, true, &mut tx), Step::Wait);
    assert!(!tx.is_empty());
    tx.clear();

    // A write that fails: nothing of this turn is written, the connection closes.
    for mode in [FAILS, PANICS] {
        store.set(mode);
        take_publish(
            &client,
            &mut driver,
            &rx,
            now,
            message("two", QoS::ExactlyOnce),
        );
        assert_eq!(driver.step(now, true, &mut tx), Step::Save);
        let saved = driver.take_save().unwrap().run();
        assert_eq!(saved.is_none(), mode == PANICS);
        driver.saved(saved);
        assert_eq!(driver.step(now, true, &mut tx), Step::Close);
        assert!(tx.is_empty(), "what depended on the save is dropped");
        let mut cx = Context::from_waker(Waker::noop());
        let mut event = pin!(client.next_event());
        let failed = loop {
            match event.as_mut().poll(&mut cx) {
                Poll::Ready(Some(ConnectionEvent::StoreFailed(why))) => break why,
                Poll::Ready(Some(_)) => event.set(client.next_event()),
                other => panic!("no StoreFailed event: {other:?}"),
            }
        };
        assert!(failed.contains(if mode == FAILS {
            "disk full"
        } else {
            "panicked"
        }));
        driver.closed_by_us(now);
        store.set(WORKS);
        assert_eq!(driver.step(now, false, &mut tx), Step::Save);
        let job = driver.take_save().unwrap();
        let whole = job.len();
        assert!(
            whole > first,
            "the whole journal again, the publishes in it"
        );
        driver.saved(job.run());
        assert_eq!(store.held(), whole, "written whole, not appended");
        assert_eq!(driver.step(now, false, &mut tx), Step::Wait);
        driver.connected(now);
        assert_eq!(driver.step(now, true, &mut tx), Step::Wait);
        assert!(!tx.is_empty(), "CONNECT");
        tx.clear();
        let mut input = BytesMut::new();
        connack(&mut input);
        driver.read(now, &mut input);
        // The resumed session sends the pending publishes again (after saving that it
        // did, if that changed anything).
        loop {
            match driver.step(now, true, &mut tx) {
                Step::Save => {
                    let job = driver.take_save().unwrap();
                    driver.saved(job.run());
                }
                Step::Wait => break,
                other => panic!("{other:?}"),
            }
        }
        tx.clear();
    }
}

/// With a store, a QoS 1/2 publish is accepted (its `PublishHandle::accepted` resolves)
/// only once the write that holds it is done:
/// several publishes taken in one turn share that write. A write that fails accepts none of
/// them; the whole journal written next does. QoS 0 is accepted at once (it is not kept).
#[test]
fn publishes_are_accepted_once_they_are_on_disk() {
    let store = Memory::default();
    let (client, mut driver, rx) = start(&store, "durable");
    let now = Instant::now();
    let mut tx = BytesMut::new();
    let mut cx = Context::from_waker(Waker::noop());
    let message = |qos| OutboundMessage::new(TopicName::new("durable/t").unwrap(), "x", qos);
    let mut queued = Vec::new();
    for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce, QoS::AtMostOnce] {
        let mut publish = pin!(client.publish_message(message(qos)));
        match publish.as_mut().poll(&mut cx) {
            Poll::Ready(Ok(completion)) => queued.push(completion),
            other => panic!("{other:?}"),
        }
    }
    driver.commands(now, rx.try_recv().unwrap(), &rx);
    // A publish waited for until accepted: not before it is on disk.
    let mut handed = pin!(async {
        let mut handle = client.publish_message(message(QoS::AtLeastOnce)).await?;
        handle.accepted().await
    });
    assert!(handed.as_mut().poll(&mut cx).is_pending());
    driver.commands(now, rx.try_recv().unwrap(), &rx);
    assert!(
        handed.as_mut().poll(&mut cx).is_pending(),
        "not on disk yet"
    );
    let accepted = |queued: &mut Vec<crate::PublishHandle>| -> Vec<bool> {
        let mut cx = Context::from_waker(Waker::noop());
        queued
            .iter_mut()
            .map(|c| pin!(c.accepted()).poll(&mut cx).is_ready())
            .collect()
    };
    assert_eq!(accepted(&mut queued), [false, false, true], "QoS 0 at once");
    assert_eq!(driver.step(now, false, &mut tx), Step::Save);
    store.set(FAILS);
    let job = driver.take_save().unwrap();
    driver.saved(job.run());
    assert_eq!(accepted(&mut queued), [false, false, true], "not on disk");
    let _ = driver.step(now, false, &mut tx);
    store.set(WORKS);
    assert_eq!(driver.step(now, false, &mut tx), Step::Save);
    let job = driver.take_save().unwrap();
    assert_eq!(accepted(&mut queued), [false, false, true], "being written");
    driver.saved(job.run());
    assert_eq!(
        accepted(&mut queued),
        [true, true, true],
        "one write for all"
    );
    assert!(handed.as_mut().poll(&mut cx).is_ready(), "on disk");
}

/// The buffer a write used is kept for the next one, unless it grew large: a whole journal
/// with a big message in it is not held for the small appends after it.
#[test]
fn a_large_write_buffer_is_not_kept() {
    let store = Memory::default();
    let (client, mut driver, rx) = start(&store, "big");
    let now = Instant::now();
    let mut tx = BytesMut::new();
    let kept = |driver: &Driver| driver.store.as_ref().unwrap().kept_buffer();
    assert_eq!(driver.step(now, false, &mut tx), Step::Save);
    let job = driver.take_save().unwrap();
    let small = job.len();
    driver.saved(job.run());
    assert!(kept(&driver) >= small, "kept for the next write");

    let topic = TopicName::new("big/t").unwrap();
    let payload = vec![7u8; 2 * SAVE_BUF_KEEP];
    let message = OutboundMessage::new(topic, payload, QoS::AtLeastOnce);
    take_publish(&client, &mut driver, &rx, now, message);
    assert_eq!(driver.step(now, false, &mut tx), Step::Wait, "group commit");
    let now = now + SAVE_WINDOW;
    assert_eq!(driver.step(now, false, &mut tx), Step::Save);
    let job = driver.take_save().unwrap();
    assert!(job.len() > SAVE_BUF_KEEP);
    driver.saved(job.run());
    assert!(
        store.held() >= small + 2 * SAVE_BUF_KEEP,
        "the message is in the store"
    );
    assert_eq!(kept(&driver), 0, "let go");
}
