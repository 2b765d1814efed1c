//! The broker restarts under a connected client: without persistence the client finds no
//! session and subscribes again; with persistence nothing acknowledged is lost.

use mqtt_client::ConnectionEvent;
use mqtt_proto::{ProtocolVersion, QoS, TopicName};
use mqtt_session::OutboundMessage;
use mqtt_test_support::{Mosquitto, Options as BrokerOptions};
use std::collections::BTreeSet;

use crate::{
    connected, disconnect, durable, next_event, next_message, options, publish, spawn, subscribe,
    text, url, wait_connected, within, Runtime,
};

/// A mosquitto that keeps its sessions and messages on disk.
fn persistent_broker() -> Mosquitto {
    Mosquitto::start(BrokerOptions {
        persistence: true,
        ..BrokerOptions::default()
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

/// A broker restarted without persistence has lost the session: the client reconnects with
/// backoff, sees no session and makes its subscriptions again; the old stream goes on.
pub async fn broker_restart_without_persistence_resubscribes<R: Runtime>(
    rt: &R,
    version: ProtocolVersion,
) {
    let mut broker = Mosquitto::plain().unwrap_or_else(|e| panic!("{e}"));
    let url = url(broker.port());
    let client = connected(rt, options(&url, &format!("restart-{}", R::NAME), version)).await;
    let mut sub = subscribe(&client, "rs/#", QoS::AtLeastOnce).await;
    broker.restart().unwrap_or_else(|e| panic!("{e}"));
    let results = next_event(
        &client,
        "the resubscription after the restart",
        |e| match e {
            ConnectionEvent::Resubscribed(results) => Some(results.clone()),
            _ => None,
        },
    )
    .await;
    assert_eq!(results, vec![Ok(QoS::AtLeastOnce)]);
    let publisher = connected(
        rt,
        options(&url, &format!("restart-{}-p", R::NAME), version),
    )
    .await;
    publish(&publisher, "rs/1", "after", QoS::AtLeastOnce).await;
    assert_eq!(
        text(&next_message(&mut sub, "a message after the restart").await),
        "after"
    );
    disconnect(&client).await;
    disconnect(&publisher).await;
}

/// A broker with persistence stopped gracefully (it writes its database) and started again:
/// every message whose publish was acknowledged, before or after the restart, reaches the
/// durable subscriber.
pub async fn broker_restart_with_persistence_loses_nothing_acknowledged<R: Runtime>(
    rt: &R,
    version: ProtocolVersion,
) {
    let mut broker = persistent_broker();
    let url = url(broker.port());
    let id = format!("restart-persist-{}-{version}", R::NAME);
    let subscriber = connected(rt, durable(options(&url, &id, version))).await;
    let mut sub = subscribe(&subscriber, "rp/#", QoS::AtLeastOnce).await;
    let publisher = connected(rt, options(&url, &format!("{id}-p"), version)).await;
    let mut acknowledged = BTreeSet::new();
    for n in 0..5 {
        publish(&publisher, "rp/t", format!("{n}"), QoS::AtLeastOnce).await;
        acknowledged.insert(n.to_string());
    }
    // Stopped (SIGTERM: mosquitto writes its database) and started again.
    broker.restart_graceful().unwrap_or_else(|e| panic!("{e}"));
    // The broker read the session back: without it the subscriber would subscribe again and
    // still see the messages below, so this is what shows the persistence.
    // (Connection attempts fail while it is down.)
    let resumed = next_event(
        &subscriber,
        "the reconnect after the restart",
        |e| match e {
            ConnectionEvent::Connected {
                session_present, ..
            } => Some(*session_present),
            _ => None,
        },
    )
    .await;
    assert!(resumed, "the session came back from the database");
    // Published after the restart, once the publisher is back.
    for n in 5..8 {
        publish(&publisher, "rp/t", format!("{n}"), QoS::AtLeastOnce).await;
        acknowledged.insert(n.to_string());
    }
    let mut seen = BTreeSet::new();
    while seen.len() < acknowledged.len() {
        let m = next_message(&mut sub, "an acknowledged message").await;
        seen.insert(text(&m));
    }
    assert_eq!(seen, acknowledged);
    disconnect(&subscriber).await;
    disconnect(&publisher).await;
}

/// A broker with persistence killed outright (SIGKILL: no chance to write its database on the
/// way out) and started again. The client loses nothing: the publisher reconnects with backoff
/// and sends again what the dead broker never acknowledged, and the durable subscriber gets its
/// session back with every message queued in it.
///
/// What mosquitto itself keeps: it saves its database after every change
/// (`autosave_on_changes`, `autosave_interval 1`), at the top of each turn of its event loop,
/// and it reads one packet per client per turn. So once a PUBLISH is acknowledged, every
/// message acknowledged before it is on disk; the last one acknowledged before the kill may not
/// be (mosquitto sends PUBACK before its next save). The scenario therefore publishes one
/// uncounted message last, before the kill.
pub async fn broker_killed_with_persistence_loses_nothing_acknowledged<R: Runtime>(
    rt: &R,
    version: ProtocolVersion,
) {
    let mut broker = persistent_broker();
    let url = url(broker.port());
    let id = format!("kill-persist-{}-{version}", R::NAME);
    // The subscriber makes its session and goes away: what is published now waits in it.
    let away = connected(rt, durable(options(&url, &id, version))).await;
    let sub = subscribe(&away, "kp/#", QoS::AtLeastOnce).await;
    disconnect(&away).await;
    drop(sub);

    let publisher = connected(rt, options(&url, &format!("{id}-p"), version)).await;
    let mut expected = BTreeSet::new();
    for n in 0..5 {
        publish(&publisher, "kp/t", format!("{n}"), QoS::AtLeastOnce).await;
        expected.insert(n.to_string());
    }
    // Uncounted: see above.
    publish(&publisher, "kp/last", "last", QoS::AtLeastOnce).await;
    broker.kill();
    // Published while the broker is dead: written to the dead connection or held by the client,
    // and in both cases sent after the reconnect.
    let topic = TopicName::new("kp/t").unwrap_or_else(|e| panic!("{e}"));
    let mut pending = Vec::new();
    for n in 5..8 {
        let message = OutboundMessage::new(topic.clone(), format!("{n}"), QoS::AtLeastOnce);
        let queued = within(
            "queueing a publish while the broker is dead",
            publisher.publish_message(message),
        )
        .await
        .unwrap_or_else(|e| panic!("queueing a publish: {e}"));
        pending.push(queued);
        expected.insert(n.to_string());
    }
    broker.restart().unwrap_or_else(|e| panic!("{e}"));
    for queued in pending {
        within("a publish acknowledged after the restart", queued)
            .await
            .unwrap_or_else(|e| panic!("a publish made while the broker was dead: {e}"));
    }

    let back = spawn(rt, durable(options(&url, &id, version)));
    assert!(wait_connected(&back).await, "the session was on disk");
    let mut sub = subscribe(&back, "kp/#", QoS::AtLeastOnce).await;
    let mut seen = BTreeSet::new();
    while !expected.is_subset(&seen) {
        let m = next_message(&mut sub, "a message acknowledged to the publisher").await;
        if m.topic().as_str() == "kp/t" {
            seen.insert(text(&m));
        }
    }
    assert_eq!(seen, expected);
    disconnect(&back).await;
    disconnect(&publisher).await;
}
