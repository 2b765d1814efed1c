#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]
//! The client's hot path allocates nothing once its buffers have grown: a publish handed
//! through the command queue and back through its completion slot, a manual acknowledgement,
//! and a sender that waits for room in a full queue and is woken when an item is taken.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use futures_lite::future::block_on;
use mqtt_client::queue;
use mqtt_client::{Client, Command, Message, PublishDone};
use mqtt_proto::{
    ConnAck, MqttString, PacketId, ProtocolVersion, Publish, QoS, QosPid, ReasonCode, TopicName,
};
use mqtt_session::testing::Pair;
use mqtt_session::{Config, Event, OutboundMessage, PublishId, Session};
use mqtt_test_support::gated_alloc::{count_allocations_here, Gated};

#[global_allocator]
static GLOBAL: Gated = Gated;

/// The allocation counter is global: the tests of this file count one at a time.
static COUNTING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// `n` publish ids, which only a session gives out.
fn publish_ids(n: usize) -> Vec<PublishId> {
    let mut config = Config::new(
        ProtocolVersion::V311,
        MqttString::try_from("allocations").unwrap(),
    );
    config.max_queued = n;
    let mut session = Session::new(config).unwrap();
    let topic = TopicName::try_from("t").unwrap();
    (0..n)
        .map(|_| {
            let message = OutboundMessage::new(topic.clone(), "x", QoS::AtMostOnce);
            session
                .publish(std::time::Instant::now(), message)
                .unwrap()
                .id
        })
        .collect()
}

/// A client with room for 4 commands, the receiving end of its command queue (the
/// connection task's side), and the sending end of its events, kept open.
fn client() -> (
    Client,
    queue::Receiver<Command>,
    async_channel::Sender<mqtt_client::ConnectionEvent>,
) {
    let (events_tx, events_rx) = async_channel::bounded(1);
    let (client, commands) = Client::new(4, events_rx);
    (client, commands, events_tx)
}

#[test]
fn a_publish_through_the_client_allocates_nothing_once_warm() {
    let _one_at_a_time = COUNTING.lock().unwrap_or_else(|e| e.into_inner());
    let (client, commands, _events) = client();
    let topic = TopicName::try_from("sensors/1").unwrap();
    let payload = Bytes::from_static(b"21.5");
    let ids = publish_ids(2_000);
    // What a connection task does with each: take the message, say the session took it,
    // complete it; the caller awaits the completion.
    let round = |id: PublishId| {
        block_on(async {
            let message = OutboundMessage::new(topic.clone(), payload.clone(), QoS::AtMostOnce);
            let done = client.publish_message(message).await.unwrap();
            let Ok(Command::Publish { completer }) = commands.try_recv() else {
                panic!("the publish is queued");
            };
            let message = completer.take_message().unwrap();
            assert_eq!(message.payload, payload);
            completer.accept(id, None);
            completer.complete(Ok(PublishDone {
                id,
                packet_id: None,
                reason_code: ReasonCode::Success,
            }));
            assert_eq!(done.await.unwrap().id, id);
        })
    };
    for id in &ids[..1_000] {
        round(*id);
    }
    let ((), allocations) = count_allocations_here(|| {
        for id in &ids[1_000..] {
            round(*id);
        }
    });
    assert_eq!(allocations, 0, "allocations in 1,000 publishes");
}

#[test]
fn a_sender_waiting_for_room_allocates_nothing_once_warm() {
    let _one_at_a_time = COUNTING.lock().unwrap_or_else(|e| e.into_inner());
    let (tx, rx) = queue::bounded(1);
    let mut cx = Context::from_waker(Waker::noop());
    let mut round = |i: u32| {
        tx.try_send(i).unwrap();
        let mut send = pin!(tx.send(i + 1));
        assert!(
            send.as_mut().poll(&mut cx).is_pending(),
            "the queue is full"
        );
        assert_eq!(rx.try_recv(), Ok(i));
        assert_eq!(send.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
        assert_eq!(rx.try_recv(), Ok(i + 1));
    };
    for i in 0..1_000 {
        round(i);
    }
    let ((), allocations) = count_allocations_here(|| {
        for i in 0..1_000 {
            round(i);
        }
    });
    assert_eq!(allocations, 0, "allocations in 1,000 waits");
}

/// `n` QoS 1 messages as a session in manual-ack mode delivers them, each with its ack token.
fn manually_acknowledged_messages(n: u16) -> Vec<Message> {
    let mut config = Config::new(
        ProtocolVersion::V311,
        MqttString::try_from("allocations").unwrap(),
    );
    config.manual_acks = true;
    let mut pair = Pair::new(config);
    pair.open();
    pair.send(ConnAck {
        session_present: false,
        reason_code: ReasonCode::Success,
        properties: Default::default(),
    });
    let topic = TopicName::try_from("sensors/1").unwrap();
    (1..=n)
        .map(|id| {
            let packet_id = PacketId::new(id).unwrap();
            pair.send(Publish::new(
                topic.clone(),
                "21.5",
                QosPid::AtLeastOnce(packet_id),
            ));
            let message = pair.events().into_iter().find_map(|event| match event {
                Event::Message(m) => Some(m),
                _ => None,
            });
            let message = message.unwrap();
            assert!(message.ack_token.is_some());
            Message::from(message)
        })
        .collect()
}

#[test]
fn a_manual_ack_through_the_client_allocates_nothing_once_warm() {
    let _one_at_a_time = COUNTING.lock().unwrap_or_else(|e| e.into_inner());
    let (client, commands, _events) = client();
    let messages = manually_acknowledged_messages(2_000);
    // The connection task's side: the acknowledgement arrives with the message's token.
    let round = |message: &Message| {
        block_on(client.ack(message)).unwrap();
        let Ok(Command::Ack(token)) = commands.try_recv() else {
            panic!("the acknowledgement is queued");
        };
        assert_eq!(Some(token), message.ack_token());
    };
    for message in &messages[..1_000] {
        round(message);
    }
    let ((), allocations) = count_allocations_here(|| {
        for message in &messages[1_000..] {
            round(message);
        }
    });
    assert_eq!(allocations, 0, "allocations in 1,000 acknowledgements");
}
