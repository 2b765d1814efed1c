//! Flow control towards the application: a reader that falls behind never stalls the
//! connection.

use mqtt_client::Delivery;
use mqtt_proto::{ProtocolVersion, QoS};
use mqtt_test_support::Mosquitto;
use std::time::Duration;

use crate::{
    connected, disconnect, first_within, next_message, options, publish, subscribe, text, url,
    within, Runtime,
};

/// One subscription's reader sits idle with its buffer full: keep-alive goes on past several
/// intervals and another subscription is served; QoS 1 messages that did not fit wait
/// unacknowledged and all arrive in order once read; QoS 0 messages that did not fit are
/// dropped for that reader alone and counted.
///
/// Unread QoS 1 messages are unacknowledged (an automatic acknowledgement waits until the
/// reader has taken the message), so they hold places of the server's in-flight window for
/// this client: mosquitto's is 20 messages, and the slow reader holds 12 of them here (4 in
/// its buffer, 8 waiting for room), leaving room for the other subscription's.
pub async fn slow_subscriber_does_not_stall_the_connection<R: Runtime>(rt: &R) {
    const SLOW: usize = 12;
    let broker = Mosquitto::plain().unwrap_or_else(|e| panic!("{e}"));
    let url = url(broker.port());
    let v5 = ProtocolVersion::V5;
    let mut o = options(&url, &format!("slow-{}", R::NAME), v5);
    o.subscription_capacity = 4;
    o.session.keep_alive = Duration::from_secs(1);
    let client = connected(rt, o).await;
    let mut slow = subscribe(&client, "slow/a", QoS::AtLeastOnce).await;
    let mut fast = subscribe(&client, "slow/b", QoS::AtLeastOnce).await;
    let publisher = connected(rt, options(&url, &format!("slow-{}-p", R::NAME), v5)).await;
    for n in 0..SLOW {
        publish(&publisher, "slow/a", format!("{n}"), QoS::AtLeastOnce).await;
    }
    publish(&publisher, "slow/b", "fast", QoS::AtLeastOnce).await;
    // The other subscription is served while the slow one is full.
    assert_eq!(text(&next_message(&mut fast, "'fast'").await), "fast");
    // Keep-alive goes on past several intervals with the slow reader idle.
    crate::sleep(Duration::from_millis(2500)).await;
    publish(&publisher, "slow/b", "still", QoS::AtLeastOnce).await;
    assert_eq!(text(&next_message(&mut fast, "'still'").await), "still");
    // QoS 1: nothing is lost; what did not fit waited unacknowledged (the server's window is
    // the backpressure), and arrives as the reader reads, in order.
    let mut got = Vec::new();
    while got.len() < SLOW {
        match within("a waiting QoS 1 message", slow.next()).await {
            Some(Delivery::Message(m)) => got.push(text(&m)),
            other => panic!("{other:?}"),
        }
    }
    let expected: Vec<String> = (0..SLOW).map(|n| n.to_string()).collect();
    assert_eq!(got, expected);
    // QoS 0: what does not fit is dropped for this reader alone and counted.
    let mut lossy = subscribe(&client, "slow/c", QoS::AtMostOnce).await;
    for n in 0..20 {
        publish(&publisher, "slow/c", format!("{n}"), QoS::AtMostOnce).await;
    }
    publish(&publisher, "slow/b", "after", QoS::AtLeastOnce).await;
    // The broker sends in order: once "after" is here, every QoS 0 message was delivered to
    // the lossy reader's buffer or counted as dropped.
    assert_eq!(text(&next_message(&mut fast, "'after'").await), "after");
    let mut messages = Vec::new();
    let mut lagged = 0;
    while messages.len() as u64 + lagged < 20 {
        match within("a QoS 0 message or a lag report", lossy.next()).await {
            Some(Delivery::Message(m)) => messages.push(text(&m)),
            Some(Delivery::Lagged(n)) => lagged += n,
            None => panic!("the subscription ended"),
        }
    }
    let extra = first_within(Duration::from_millis(300), lossy.next()).await;
    assert!(extra.is_none(), "more than 20: {extra:?}");
    assert_eq!(
        messages.len() as u64 + lagged,
        20,
        "{messages:?} messages, {lagged} lagged"
    );
    assert!(lagged > 0);
    // What was kept is in order.
    let kept: Vec<u32> = messages.iter().map(|m| m.parse().unwrap()).collect();
    assert!(kept.windows(2).all(|w| w[0] < w[1]), "{kept:?}");
    disconnect(&client).await;
    disconnect(&publisher).await;
}
