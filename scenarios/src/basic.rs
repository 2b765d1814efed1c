//! Publish and subscribe at every QoS, retained messages, the will, a persistent session, and
//! a client used after it disconnected.

use bytes::Bytes;
use mqtt_client::ClientError;
use mqtt_proto::{ProtocolVersion, QoS, TopicName, Will};
use mqtt_session::OutboundMessage;
use mqtt_test_support::Mosquitto;

use crate::{
    connected, disconnect, next_message, options, publish, subscribe, text, url, wait_connected,
    within, Runtime,
};

fn broker() -> Mosquitto {
    Mosquitto::plain().unwrap_or_else(|e| panic!("{e}"))
}

/// QoS 0, 1 and 2 round trips through the broker: each message arrives with its topic, payload
/// and QoS, the completion carries a Packet Identifier exactly for QoS 1 and 2, and the
/// non-waiting publish says its packet id at once.
pub async fn qos_round_trips<R: Runtime>(rt: &R, version: ProtocolVersion) {
    let broker = broker();
    let client = connected(
        rt,
        options(
            &url(broker.port()),
            &format!("rt-{}-{version}", R::NAME),
            version,
        ),
    )
    .await;
    let mut sub = subscribe(&client, "rt/#", QoS::ExactlyOnce).await;
    assert_eq!(sub.granted(), [QoS::ExactlyOnce]);
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let topic = format!("rt/{}", qos as u8);
        let payload = format!("m{}", qos as u8);
        let done = publish(&client, &topic, payload.clone(), qos).await;
        assert_eq!(done.packet_id.is_some(), qos != QoS::AtMostOnce, "{qos:?}");
        let m = next_message(&mut sub, &format!("the QoS {} message", qos as u8)).await;
        assert_eq!(m.topic().as_str(), topic);
        assert_eq!(m.payload(), &Bytes::from(payload));
        assert_eq!(m.qos(), qos);
    }
    // The handle says the packet id once the session took the publish.
    let mut handle = within(
        "publish_message",
        client.publish_message(OutboundMessage::new(
            TopicName::new("rt/h").unwrap(),
            "h",
            QoS::AtLeastOnce,
        )),
    )
    .await
    .unwrap();
    let (id, packet_id) = within("the handle's acceptance", handle.accepted())
        .await
        .unwrap();
    assert!(packet_id.is_some());
    assert_eq!(
        within("the handle's completion", handle).await.unwrap().id,
        id
    );
    assert_eq!(
        next_message(&mut sub, "the handle's message")
            .await
            .topic()
            .as_str(),
        "rt/h"
    );
    disconnect(&client).await;
}

/// A burst of publishes queued without waiting (`publish_message`, as fast as the command
/// queue takes them): every completion comes back once, QoS 1 ones with a Packet Identifier,
/// and the subscriber receives all of them once, in order within each QoS.
pub async fn queued_publishes_complete_in_order<R: Runtime>(rt: &R, version: ProtocolVersion) {
    const N: usize = 500;
    let broker = broker();
    let client = connected(
        rt,
        options(
            &url(broker.port()),
            &format!("queued-{}-{version}", R::NAME),
            version,
        ),
    )
    .await;
    let mut sub = subscribe(&client, "queued/#", QoS::AtLeastOnce).await;
    let mut completions = Vec::with_capacity(N);
    for n in 0..N {
        let qos = if n % 2 == 0 {
            QoS::AtLeastOnce
        } else {
            QoS::AtMostOnce
        };
        let message =
            OutboundMessage::new(TopicName::new("queued/t").unwrap(), format!("{n}"), qos);
        let completion = within("the command queue", client.publish_message(message))
            .await
            .unwrap_or_else(|e| panic!("publish_message: {e}"));
        completions.push((qos, completion));
    }
    // Packet Identifiers are reused once acknowledged; the publishes' own ids never are.
    let mut publish_ids = std::collections::BTreeSet::new();
    for (qos, completion) in completions {
        let done = within("a queued publish's completion", completion)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(done.packet_id.is_some(), qos == QoS::AtLeastOnce);
        assert!(publish_ids.insert(done.id), "{:?} completed twice", done.id);
    }
    // Each once, and in order within each QoS: the broker keeps the order of one topic per
    // QoS, but may pass a QoS 0 message while its window for QoS 1 messages to this
    // subscriber is full (section 4.6).
    let mut received = Vec::with_capacity(N);
    for _ in 0..N {
        let m = next_message(&mut sub, "a queued message").await;
        received.push(text(&m).parse::<usize>().unwrap());
    }
    let mut all = received.clone();
    all.sort_unstable();
    assert_eq!(all, (0..N).collect::<Vec<_>>(), "each once");
    for parity in [0, 1] {
        let same_qos: Vec<usize> = received
            .iter()
            .copied()
            .filter(|n| n % 2 == parity)
            .collect();
        assert!(
            same_qos.windows(2).all(|w| w[0] < w[1]),
            "in order: {same_qos:?}"
        );
    }
    disconnect(&client).await;
}

/// Futures dropped half-way never corrupt the session: a `publish` dropped after its first
/// poll still goes out (the command was taken; only the wait for its completion is gone), a
/// `subscribe` dropped before its SUBACK leaves no stream behind, and the client carries on:
/// later publishes complete and every message arrives once.
pub async fn dropped_futures_leave_the_session_intact<R: Runtime>(
    rt: &R,
    version: ProtocolVersion,
) {
    use futures::FutureExt;
    let broker = broker();
    let client = connected(
        rt,
        options(
            &url(broker.port()),
            &format!("dropped-{}-{version}", R::NAME),
            version,
        ),
    )
    .await;
    let mut sub = subscribe(&client, "dropped/#", QoS::ExactlyOnce).await;
    for (n, qos) in [QoS::AtLeastOnce, QoS::ExactlyOnce].into_iter().enumerate() {
        // Polled once: the command is queued, then the future is dropped (on a multi-threaded
        // runtime it may rarely have completed already; either way the message goes out).
        drop(
            client
                .publish(&format!("dropped/{n}"), format!("dropped {n}"), qos)
                .now_or_never(),
        );
    }
    // Dropped before its SUBACK (or, rarely, just after: its stream is dropped at once).
    drop(
        client
            .subscribe("elsewhere/#", QoS::AtLeastOnce)
            .now_or_never(),
    );
    publish(&client, "dropped/2", "kept 2", QoS::ExactlyOnce).await;
    let mut got: Vec<String> = Vec::new();
    for _ in 0..3 {
        got.push(text(
            &next_message(&mut sub, "the messages after the drops").await,
        ));
    }
    got.sort();
    assert_eq!(got, ["dropped 0", "dropped 1", "kept 2"]);
    // Nothing subscribed to "elsewhere/#" is left to route to: the message finds no stream
    // and the client keeps working.
    publish(&client, "elsewhere/x", "x", QoS::AtLeastOnce).await;
    publish(&client, "dropped/3", "kept 3", QoS::AtLeastOnce).await;
    assert_eq!(
        text(&next_message(&mut sub, "a message after all that").await),
        "kept 3"
    );
    disconnect(&client).await;
}

/// A retained message reaches a later subscriber with the RETAIN flag; once cleared (empty
/// retained payload), a new subscriber gets nothing retained.
pub async fn retained_messages<R: Runtime>(rt: &R, version: ProtocolVersion) {
    let broker = broker();
    let url = url(broker.port());
    let publisher = connected(rt, options(&url, &format!("ret-p-{}", R::NAME), version)).await;
    let mut message =
        OutboundMessage::new(TopicName::new("ret/t").unwrap(), "kept", QoS::AtLeastOnce);
    message.retain = true;
    within("the retained publish", async {
        publisher.publish_message(message).await.unwrap().await
    })
    .await
    .unwrap();
    let subscriber = connected(rt, options(&url, &format!("ret-s-{}", R::NAME), version)).await;
    let mut sub = subscribe(&subscriber, "ret/#", QoS::AtLeastOnce).await;
    let m = next_message(&mut sub, "the retained message").await;
    assert!(m.retain());
    assert_eq!(m.topic().as_str(), "ret/t");
    assert_eq!(m.payload(), &Bytes::from_static(b"kept"));
    // Clear it.
    let mut clear = OutboundMessage::new(
        TopicName::new("ret/t").unwrap(),
        Bytes::new(),
        QoS::AtLeastOnce,
    );
    clear.retain = true;
    within("the clearing publish", async {
        publisher.publish_message(clear).await.unwrap().await
    })
    .await
    .unwrap();
    // The live subscriber sees the clearing message itself...
    let m = next_message(&mut sub, "the clearing message").await;
    assert!(m.payload().is_empty());
    drop(sub);
    // ...and a new subscription gets nothing retained: the first message it sees is one
    // published after it subscribed (retained messages would come first, right after SUBACK).
    let mut again = subscribe(&subscriber, "ret/#", QoS::AtLeastOnce).await;
    publish(&publisher, "ret/marker", "live", QoS::AtLeastOnce).await;
    let m = next_message(&mut again, "the live marker").await;
    assert_eq!(
        (m.topic().as_str(), text(&m).as_str()),
        ("ret/marker", "live")
    );
    assert!(!m.retain());
    disconnect(&publisher).await;
    disconnect(&subscriber).await;
}

/// The broker publishes the will when the connection is cut without DISCONNECT (the
/// connection task is dropped, as in a crash).
pub async fn will_on_a_cut_connection<R: Runtime>(rt: &R, version: ProtocolVersion) {
    let broker = broker();
    let url = url(broker.port());
    let watcher = connected(rt, options(&url, &format!("will-w-{}", R::NAME), version)).await;
    let mut sub = subscribe(&watcher, "will/#", QoS::AtLeastOnce).await;
    let mut will = Will::new(TopicName::new(format!("will/{version}")).unwrap(), "gone");
    will.qos = QoS::AtLeastOnce;
    let (client, cut) = crate::crashable(
        rt,
        options(&url, &format!("will-c-{}", R::NAME), version).will(will),
    );
    wait_connected(&client).await;
    // Cut: the task (and its socket) goes away without DISCONNECT.
    cut.kill().await;
    let m = next_message(&mut sub, "the will").await;
    assert_eq!(m.topic().as_str(), format!("will/{version}"));
    assert_eq!(m.payload(), &Bytes::from_static(b"gone"));
    assert_eq!(m.qos(), QoS::AtLeastOnce);
    // The cut client's handle says so.
    let result = within("a publish on the cut client", async {
        client.publish("x", "y", QoS::AtMostOnce).await?.await
    })
    .await;
    assert_eq!(result, Err(ClientError::Closed));
    disconnect(&watcher).await;
}

/// A session kept on the broker (Clean Start off, a Session Expiry Interval) receives, when
/// its client id comes back, what was published while it was away, in order.
pub async fn persistent_session_receives_what_was_published_while_away<R: Runtime>(
    rt: &R,
    version: ProtocolVersion,
) {
    let broker = broker();
    let url = url(broker.port());
    let id = format!("persist-{}-{version}", R::NAME);
    let away = crate::spawn(rt, crate::durable(options(&url, &id, version)));
    assert!(
        !wait_connected(&away).await,
        "a new client id has no session"
    );
    let sub = subscribe(&away, "persist/#", QoS::AtLeastOnce).await;
    // Dropping the subscription unsubscribes: subscribe again and keep it.
    drop(sub);
    let sub = subscribe(&away, "persist/#", QoS::AtLeastOnce).await;
    disconnect(&away).await;
    drop(sub);

    let publisher = connected(rt, options(&url, &format!("{id}-p"), version)).await;
    for n in 0..3 {
        publish(&publisher, "persist/t", format!("{n}"), QoS::AtLeastOnce).await;
    }
    // The same client id comes back: the broker has the session and the messages. The new
    // client has no subscription stream yet; what arrives before it subscribes is held for it.
    let back = crate::spawn(rt, crate::durable(options(&url, &id, version)));
    assert!(wait_connected(&back).await, "the broker kept the session");
    let mut sub = subscribe(&back, "persist/#", QoS::AtLeastOnce).await;
    let mut got = Vec::new();
    while got.len() < 3 {
        got.push(text(
            &next_message(&mut sub, "a message kept while away").await,
        ));
    }
    assert_eq!(got, ["0", "1", "2"], "{} {version}", R::NAME);
    disconnect(&back).await;
    disconnect(&publisher).await;
}

/// After `disconnect`, commands report that the connection task has ended.
pub async fn commands_after_disconnect_report_closed<R: Runtime>(rt: &R, version: ProtocolVersion) {
    let broker = broker();
    let client = connected(
        rt,
        options(&url(broker.port()), &format!("closed-{}", R::NAME), version),
    )
    .await;
    disconnect(&client).await;
    let result = within("a publish after disconnect", async {
        client.publish("x", "y", QoS::AtLeastOnce).await?.await
    })
    .await;
    assert!(
        matches!(
            result,
            Err(ClientError::Closed) | Err(ClientError::Session(_))
        ),
        "{result:?}"
    );
    let result = within(
        "a subscribe after disconnect",
        client.subscribe("x", QoS::AtLeastOnce),
    )
    .await;
    assert!(
        matches!(
            result,
            Err(ClientError::Closed) | Err(ClientError::Session(_))
        ),
        "{:?}",
        result.map(|s| s.granted().to_vec())
    );
    let result = within("a second disconnect", client.disconnect()).await;
    assert!(
        matches!(
            result,
            Err(ClientError::Closed) | Err(ClientError::Session(_))
        ),
        "{result:?}"
    );
}
