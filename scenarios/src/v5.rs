//! v5 features through mosquitto: subscription identifiers, topic aliases, message expiry,
//! shared subscriptions, request/response with correlation data and user properties.

use bytes::Bytes;
use mqtt_client::{ConnectionEvent, Delivery};
use mqtt_proto::{MqttString, Packet, ProtocolVersion, QoS, TopicName};
use mqtt_session::OutboundMessage;
use mqtt_test_support::Mosquitto;
use std::collections::BTreeSet;
use std::pin::pin;
use std::time::Duration;

use crate::net::{client_packets, RecordingProxy};
use crate::{
    connected, disconnect, first_within, next_event, next_message, options, publish, spawn,
    subscribe, text, url, within, Runtime,
};

const V5: ProtocolVersion = ProtocolVersion::V5;

fn broker() -> Mosquitto {
    Mosquitto::plain().unwrap_or_else(|e| panic!("{e}"))
}

/// Overlapping subscriptions of one client: each stream gets exactly the messages of its own
/// filter (the broker tags each copy with the subscription's identifier).
pub async fn v5_subscription_identifiers<R: Runtime>(rt: &R) {
    let broker = broker();
    let url = url(broker.port());
    let a = connected(rt, options(&url, &format!("sid-a-{}", R::NAME), V5)).await;
    let b = connected(rt, options(&url, &format!("sid-b-{}", R::NAME), V5)).await;
    let mut wide = subscribe(&b, "v5/#", QoS::AtLeastOnce).await;
    let mut narrow = subscribe(&b, "v5/+/x", QoS::AtLeastOnce).await;
    publish(&a, "v5/1/x", "both", QoS::AtLeastOnce).await;
    assert_eq!(
        text(&next_message(&mut wide, "'both' on v5/#").await),
        "both"
    );
    assert_eq!(
        text(&next_message(&mut narrow, "'both' on v5/+/x").await),
        "both"
    );
    publish(&a, "v5/2/y", "wide only", QoS::AtLeastOnce).await;
    publish(&a, "v5/3/x", "narrow again", QoS::AtLeastOnce).await;
    assert_eq!(
        text(&next_message(&mut wide, "'wide only' on v5/#").await),
        "wide only"
    );
    assert_eq!(
        text(&next_message(&mut wide, "'narrow again' on v5/#").await),
        "narrow again"
    );
    // The narrow stream never saw "wide only": its next message is the one after it.
    assert_eq!(
        text(&next_message(&mut narrow, "'narrow again' on v5/+/x").await),
        "narrow again"
    );
    disconnect(&a).await;
    disconnect(&b).await;
}

/// Outbound topic aliases on the wire: mosquitto allows 10; the client names a topic once with
/// an alias, then sends the alias alone (empty topic); the broker resolves every one.
pub async fn v5_topic_aliases<R: Runtime>(rt: &R) {
    let broker = broker();
    let proxy = RecordingProxy::start(([127, 0, 0, 1], broker.port()).into())
        .unwrap_or_else(|e| panic!("starting the proxy: {e}"));
    let b = connected(
        rt,
        options(&url(broker.port()), &format!("alias-b-{}", R::NAME), V5),
    )
    .await;
    let mut sub = subscribe(&b, "alias/#", QoS::AtLeastOnce).await;
    let a = spawn(
        rt,
        options(&url(proxy.port()), &format!("alias-a-{}", R::NAME), V5),
    );
    let limits = next_event(&a, "CONNACK through the proxy", |e| match e {
        ConnectionEvent::Connected { limits, .. } => Some(limits.clone()),
        _ => None,
    })
    .await;
    assert_eq!(limits.topic_alias_maximum, 10, "mosquitto's default");
    let sent = [
        ("alias/t", "0"),
        ("alias/t", "1"),
        ("alias/t", "2"),
        ("alias/u", "3"),
        ("alias/t", "4"),
    ];
    for (topic, payload) in sent {
        publish(&a, topic, payload, QoS::AtLeastOnce).await;
    }
    for (topic, payload) in sent {
        let m = next_message(&mut sub, "an aliased message").await;
        assert_eq!((m.topic().as_str(), text(&m).as_str()), (topic, payload));
    }
    let publishes: Vec<(String, Option<u16>)> = client_packets(&proxy.client_bytes())
        .into_iter()
        .filter_map(|p| match p {
            Packet::Publish(p) => Some((
                p.topic.as_str().to_string(),
                p.properties.topic_alias.map(|a| a.get()),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(publishes.len(), sent.len(), "{publishes:?}");
    let t = publishes[0].1.expect("the first publish sets up an alias");
    let u = publishes[3].1.expect("a new topic gets its own alias");
    assert_ne!(t, u);
    assert_eq!(
        publishes,
        [
            ("alias/t".to_string(), Some(t)),
            (String::new(), Some(t)),
            (String::new(), Some(t)),
            ("alias/u".to_string(), Some(u)),
            (String::new(), Some(t)),
        ]
    );
    disconnect(&a).await;
    disconnect(&b).await;
}

/// A retained message with a 1 s Message Expiry Interval is gone after 2 s; one with 300 s
/// is delivered, with the (remaining) interval passed on.
pub async fn v5_message_expiry<R: Runtime>(rt: &R) {
    let broker = broker();
    let url = url(broker.port());
    let a = connected(rt, options(&url, &format!("exp-a-{}", R::NAME), V5)).await;
    for (topic, seconds) in [("v5/exp/short", 1), ("v5/exp/long", 300)] {
        let mut m = OutboundMessage::new(TopicName::new(topic).unwrap(), topic, QoS::AtLeastOnce);
        m.retain = true;
        m.properties.message_expiry_interval = Some(seconds);
        within("a retained publish with expiry", async {
            a.publish_message(m).await.unwrap().await
        })
        .await
        .unwrap();
    }
    crate::sleep(Duration::from_millis(2100)).await;
    let b = connected(rt, options(&url, &format!("exp-b-{}", R::NAME), V5)).await;
    let mut late = subscribe(&b, "v5/exp/#", QoS::AtLeastOnce).await;
    let m = next_message(&mut late, "the unexpired retained message").await;
    assert_eq!(m.topic().as_str(), "v5/exp/long");
    let left = m.message_expiry_interval();
    assert!(matches!(left, Some(1..=300)), "{left:?}");
    let more = first_within(Duration::from_millis(500), late.next()).await;
    assert!(
        more.is_none(),
        "expired retained message delivered: {more:?}"
    );
    disconnect(&a).await;
    disconnect(&b).await;
}

/// A shared subscription with two members: every message goes to exactly one of them, and
/// both get some (mosquitto deals them round robin).
pub async fn v5_shared_subscriptions<R: Runtime>(rt: &R) {
    let broker = broker();
    let url = url(broker.port());
    let a = connected(rt, options(&url, &format!("share-a-{}", R::NAME), V5)).await;
    let b = connected(rt, options(&url, &format!("share-b-{}", R::NAME), V5)).await;
    let mut s1 = subscribe(&a, "$share/g/v5/shared", QoS::AtLeastOnce).await;
    let mut s2 = subscribe(&b, "$share/g/v5/shared", QoS::AtLeastOnce).await;
    let c = connected(rt, options(&url, &format!("share-c-{}", R::NAME), V5)).await;
    for n in 0..4 {
        publish(&c, "v5/shared", format!("{n}"), QoS::AtLeastOnce).await;
    }
    let (mut got1, mut got2) = (Vec::new(), Vec::new());
    within("4 messages across the group", async {
        while got1.len() + got2.len() < 4 {
            let (member, delivery) =
                match futures::future::select(pin!(s1.next()), pin!(s2.next())).await {
                    futures::future::Either::Left((delivery, _)) => (1, delivery),
                    futures::future::Either::Right((delivery, _)) => (2, delivery),
                };
            match delivery {
                Some(Delivery::Message(m)) if member == 1 => got1.push(text(&m)),
                Some(Delivery::Message(m)) => got2.push(text(&m)),
                other => panic!("member {member}: {other:?}"),
            }
        }
    })
    .await;
    // Nothing more: no message went to both.
    let more = first_within(
        Duration::from_millis(300),
        futures::future::select(pin!(s1.next()), pin!(s2.next())),
    )
    .await
    .is_some();
    assert!(!more, "a fifth delivery");
    let all: BTreeSet<String> = got1.iter().chain(&got2).cloned().collect();
    assert_eq!(all, (0..4).map(|n| n.to_string()).collect::<BTreeSet<_>>());
    assert!(!got1.is_empty() && !got2.is_empty(), "{got1:?} / {got2:?}");
    drop((s1, s2));
    for client in [a, b, c] {
        disconnect(&client).await;
    }
}

/// Request/response: the request carries a Response Topic, Correlation Data, a Content Type
/// and User Properties through the broker (twice: the second time behind a topic alias); the
/// responder answers on the response topic with the same correlation data.
pub async fn v5_request_response_and_user_properties<R: Runtime>(rt: &R) {
    let broker = broker();
    let url = url(broker.port());
    let requester = connected(rt, options(&url, &format!("req-{}", R::NAME), V5)).await;
    let responder = connected(rt, options(&url, &format!("resp-{}", R::NAME), V5)).await;
    let mut requests = subscribe(&responder, "v5/req/#", QoS::AtLeastOnce).await;
    let mut responses = subscribe(&requester, "v5/resp", QoS::AtLeastOnce).await;
    for n in 0..2 {
        let correlation = Bytes::from(format!("c-{n}"));
        let mut request = OutboundMessage::new(
            TopicName::new("v5/req/x").unwrap(),
            "ping",
            QoS::AtLeastOnce,
        );
        let props = &mut request.properties;
        props
            .set_response_topic(Some(TopicName::new("v5/resp").unwrap()))
            .unwrap();
        props
            .set_correlation_data(Some(correlation.clone()))
            .unwrap();
        props
            .set_content_type(Some(MqttString::try_from("text/plain").unwrap()))
            .unwrap();
        props.push_user_property("k", "v").unwrap();
        props
            .push_user_property("k", "second value, same key")
            .unwrap();
        within("the request's completion", async {
            requester.publish_message(request).await.unwrap().await
        })
        .await
        .unwrap();

        let m = next_message(&mut requests, "the request").await;
        assert_eq!(m.topic().as_str(), "v5/req/x");
        assert_eq!(text(&m), "ping");
        assert_eq!(m.response_topic().as_deref(), Some("v5/resp"));
        assert_eq!(m.correlation_data().as_ref(), Some(&correlation));
        assert_eq!(m.content_type().as_deref(), Some("text/plain"));
        let pairs: Vec<(&str, &str)> = m.user_properties().collect();
        assert_eq!(pairs, [("k", "v"), ("k", "second value, same key")]);

        let mut response =
            OutboundMessage::new(m.response_topic().unwrap(), "pong", QoS::AtLeastOnce);
        response
            .properties
            .set_correlation_data(m.correlation_data())
            .unwrap();
        within("the response's completion", async {
            responder.publish_message(response).await.unwrap().await
        })
        .await
        .unwrap();
        let r = next_message(&mut responses, "the response").await;
        assert_eq!(text(&r), "pong");
        assert_eq!(r.correlation_data(), Some(correlation));
    }
    disconnect(&requester).await;
    disconnect(&responder).await;
}
