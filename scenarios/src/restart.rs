//! The broker restarts under a connected client: without persistence the client finds no
//! session and subscribes again; with persistence nothing acknowledged is lost.

use mqtt_client::{ConnectionEvent, Options};
use mqtt_proto::{ProtocolVersion, QoS};
use mqtt_test_support::{Mosquitto, Options as BrokerOptions};
use std::collections::BTreeSet;

use crate::{
    connected, disconnect, next_event, next_message, options, publish, subscribe, text, url,
    Runtime,
};

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
    let mut broker = Mosquitto::start(BrokerOptions {
        persistence: true,
        ..BrokerOptions::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let url = url(broker.port());
    let id = format!("restart-persist-{}-{version}", R::NAME);
    let durable = |o: Options| o.clean_start(false).session_expiry(300);
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
