//! The tokio client against a real mosquitto that each test starts itself (free loopback port,
//! its own configuration, stopped by process id). Every wait is bounded.
#![allow(clippy::unwrap_used, clippy::panic)]

use bytes::Bytes;
use mqtt_proto::{MqttString, ProtocolVersion, TopicName, Will};
use mqtt_session::{DisconnectReason, OutboundMessage};
use mqtt_test_support::{Mosquitto, Options as BrokerOptions};
use mqtt_tokio::{Client, ClientError, ConnectionEvent, Delivery, Message, Options, QoS};
use std::future::Future;
use std::time::Duration;

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];

async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

fn options(broker: &Mosquitto, id: &str, version: ProtocolVersion) -> Options {
    let mut o = Options::new(&format!("mqtt://127.0.0.1:{}", broker.port()), id)
        .unwrap()
        .protocol_version(version);
    o.session.backoff.initial = Duration::from_millis(50);
    o.session.backoff.max = Duration::from_millis(500);
    o
}

async fn connected(options: Options) -> Client {
    let client = mqtt_tokio::spawn(options).unwrap();
    wait_connected(&client).await;
    client
}

async fn wait_connected(client: &Client) -> bool {
    within("CONNACK", async {
        loop {
            match client.next_event().await {
                Some(ConnectionEvent::Connected {
                    session_present, ..
                }) => return session_present,
                Some(_) => continue,
                None => panic!("connection task ended"),
            }
        }
    })
    .await
}

async fn next(sub: &mut mqtt_tokio::Subscription) -> Message {
    within("a message", sub.next_message()).await.unwrap()
}

#[tokio::test]
async fn qos_0_1_2_round_trips() {
    let broker = Mosquitto::plain().unwrap();
    for version in VERSIONS {
        let client = connected(options(&broker, &format!("rt-{version}"), version)).await;
        let mut sub = within("subscribe", client.subscribe("rt/#", QoS::ExactlyOnce))
            .await
            .unwrap();
        assert_eq!(sub.granted(), [QoS::ExactlyOnce]);
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let done = within(
                "publish",
                client.publish(&format!("rt/{}", qos as u8), format!("m{}", qos as u8), qos),
            )
            .await
            .unwrap();
            assert_eq!(done.packet_id.is_some(), qos != QoS::AtMostOnce);
            let m = next(&mut sub).await;
            assert_eq!(m.topic().as_str(), format!("rt/{}", qos as u8));
            assert_eq!(m.payload(), &Bytes::from(format!("m{}", qos as u8)));
            assert_eq!(m.qos(), qos);
        }
        // The non-waiting form says its packet id at once.
        let handle = within(
            "publish_message",
            client.publish_message(OutboundMessage::new(
                TopicName::new("rt/h").unwrap(),
                "h",
                QoS::AtLeastOnce,
            )),
        )
        .await
        .unwrap();
        assert!(handle.packet_id.is_some());
        let id = handle.id;
        assert_eq!(within("completion", handle).await.unwrap().id, id);
        assert_eq!(next(&mut sub).await.topic().as_str(), "rt/h");
        within("disconnect", client.disconnect()).await.unwrap();
    }
}

#[tokio::test]
async fn retained_messages() {
    let broker = Mosquitto::plain().unwrap();
    for version in VERSIONS {
        let publisher = connected(options(&broker, &format!("ret-p-{version}"), version)).await;
        let mut message =
            OutboundMessage::new(TopicName::new("ret/t").unwrap(), "kept", QoS::AtLeastOnce);
        message.retain = true;
        within("retained publish", async {
            publisher.publish_message(message).await.unwrap().await
        })
        .await
        .unwrap();
        let subscriber = connected(options(&broker, &format!("ret-s-{version}"), version)).await;
        let mut sub = within("subscribe", subscriber.subscribe("ret/#", QoS::AtLeastOnce))
            .await
            .unwrap();
        let m = next(&mut sub).await;
        assert!(m.publish.retain);
        assert_eq!(m.payload(), &Bytes::from_static(b"kept"));
        // Clear it.
        let mut clear = OutboundMessage::new(
            TopicName::new("ret/t").unwrap(),
            Bytes::new(),
            QoS::AtLeastOnce,
        );
        clear.retain = true;
        within("clear", async {
            publisher.publish_message(clear).await.unwrap().await
        })
        .await
        .unwrap();
        within("disconnect", publisher.disconnect()).await.unwrap();
        within("disconnect", subscriber.disconnect()).await.unwrap();
    }
}

#[tokio::test]
async fn will_is_published_when_the_connection_is_cut() {
    let broker = Mosquitto::plain().unwrap();
    for version in VERSIONS {
        let watcher = connected(options(&broker, &format!("will-w-{version}"), version)).await;
        let mut sub = within("subscribe", watcher.subscribe("will/#", QoS::AtLeastOnce))
            .await
            .unwrap();
        let mut will = Will::new(TopicName::new(format!("will/{version}")).unwrap(), "gone");
        will.qos = QoS::AtLeastOnce;
        let (client, connection) =
            mqtt_tokio::new(options(&broker, &format!("will-c-{version}"), version).will(will))
                .unwrap();
        let task = tokio::spawn(connection.run());
        wait_connected(&client).await;
        // Cut: the task (and its socket) goes away without DISCONNECT.
        task.abort();
        let m = next(&mut sub).await;
        assert_eq!(m.topic().as_str(), format!("will/{version}"));
        assert_eq!(m.payload(), &Bytes::from_static(b"gone"));
        within("disconnect", watcher.disconnect()).await.unwrap();
    }
}

#[tokio::test]
async fn a_persistent_session_receives_what_was_published_while_it_was_away() {
    let broker = Mosquitto::plain().unwrap();
    for version in VERSIONS {
        let id = format!("persist-{version}");
        let durable = |o: Options| o.clean_start(false).session_expiry(300);
        let away = connected(durable(options(&broker, &id, version))).await;
        let sub = within("subscribe", away.subscribe("persist/#", QoS::AtLeastOnce))
            .await
            .unwrap();
        drop(sub);
        // Dropping the subscription would unsubscribe: subscribe again and keep it.
        let sub = within("subscribe", away.subscribe("persist/#", QoS::AtLeastOnce))
            .await
            .unwrap();
        within("disconnect", away.disconnect()).await.unwrap();
        drop(sub);

        let publisher = connected(options(&broker, &format!("persist-p-{version}"), version)).await;
        for n in 0..3 {
            within(
                "publish",
                publisher.publish("persist/t", format!("{n}"), QoS::AtLeastOnce),
            )
            .await
            .unwrap();
        }
        // The same client id comes back: the broker has the session and the messages; the new
        // client has no subscription stream yet, so it subscribes again to receive them.
        let back = mqtt_tokio::spawn(durable(options(&broker, &id, version))).unwrap();
        let mut sub = within("subscribe", back.subscribe("persist/#", QoS::AtLeastOnce))
            .await
            .unwrap();
        let mut got = Vec::new();
        while got.len() < 3 {
            got.push(next(&mut sub).await.payload().clone());
        }
        assert_eq!(
            got,
            [
                Bytes::from_static(b"0"),
                Bytes::from_static(b"1"),
                Bytes::from_static(b"2")
            ]
        );
        within("disconnect", back.disconnect()).await.unwrap();
        within("disconnect", publisher.disconnect()).await.unwrap();
    }
}

#[tokio::test]
async fn broker_restart_without_persistence_resubscribes() {
    let mut broker = Mosquitto::plain().unwrap();
    let client = connected(options(&broker, "restart-plain", ProtocolVersion::V5)).await;
    let mut sub = within("subscribe", client.subscribe("rs/#", QoS::AtLeastOnce))
        .await
        .unwrap();
    broker.restart().unwrap();
    // The client reconnects with backoff, finds no session and subscribes again.
    within("resubscribe", async {
        loop {
            if let Some(ConnectionEvent::Resubscribed(results)) = client.next_event().await {
                assert_eq!(results, vec![Ok(QoS::AtLeastOnce)]);
                return;
            }
        }
    })
    .await;
    let publisher = connected(options(&broker, "restart-plain-p", ProtocolVersion::V5)).await;
    within(
        "publish",
        publisher.publish("rs/1", "after", QoS::AtLeastOnce),
    )
    .await
    .unwrap();
    assert_eq!(
        next(&mut sub).await.payload(),
        &Bytes::from_static(b"after")
    );
    within("disconnect", client.disconnect()).await.unwrap();
    within("disconnect", publisher.disconnect()).await.unwrap();
}

#[tokio::test]
async fn broker_restart_with_persistence_loses_nothing_acknowledged() {
    let mut broker = Mosquitto::start(BrokerOptions {
        persistence: true,
        ..BrokerOptions::default()
    })
    .unwrap();
    for version in VERSIONS {
        let id = format!("restart-persist-{version}");
        let durable = |o: Options| o.clean_start(false).session_expiry(300);
        let subscriber = connected(durable(options(&broker, &id, version))).await;
        let mut sub = within("subscribe", subscriber.subscribe("rp/#", QoS::AtLeastOnce))
            .await
            .unwrap();
        let publisher = connected(options(&broker, &format!("{id}-p"), version)).await;
        let mut acknowledged = 0;
        for n in 0..5 {
            within(
                "publish",
                publisher.publish("rp/t", format!("{n}"), QoS::AtLeastOnce),
            )
            .await
            .unwrap();
            acknowledged += 1;
        }
        // Stopped (SIGTERM: mosquitto writes its database) and started again.
        broker.restart_graceful().unwrap();
        // Published after the restart, once the publisher is back.
        for n in 5..8 {
            within(
                "publish after restart",
                publisher.publish("rp/t", format!("{n}"), QoS::AtLeastOnce),
            )
            .await
            .unwrap();
            acknowledged += 1;
        }
        let mut seen = std::collections::BTreeSet::new();
        while seen.len() < acknowledged {
            let m = next(&mut sub).await;
            seen.insert(String::from_utf8(m.payload().to_vec()).unwrap());
        }
        assert_eq!(seen.len(), 8);
        within("disconnect", subscriber.disconnect()).await.unwrap();
        within("disconnect", publisher.disconnect()).await.unwrap();
    }
}

#[tokio::test]
async fn username_and_password() {
    let dir = std::env::temp_dir().join(format!("mqtt-tokio-pw-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pwfile = dir.join("passwd");
    let status = std::process::Command::new("mosquitto_passwd")
        .args(["-b", "-c"])
        .arg(&pwfile)
        .args(["alice", "s3cret"])
        .status();
    let pwfile_ok = matches!(status, Ok(s) if s.success());
    if !pwfile_ok {
        // mosquitto_passwd ships with mosquitto; without it, write the plain file mosquitto
        // reads as well (a hashed one is what mosquitto_passwd writes).
        panic!("mosquitto_passwd is missing: apt-get install -y mosquitto");
    }
    let broker = Mosquitto::start(BrokerOptions {
        extra_config: vec![
            "allow_anonymous false".into(),
            format!("password_file {}", pwfile.display()),
        ],
        ..BrokerOptions::default()
    })
    .unwrap();
    for version in VERSIONS {
        let url = format!("mqtt://alice:s3cret@127.0.0.1:{}", broker.port());
        let good = Options::new(&url, &format!("pw-ok-{version}"))
            .unwrap()
            .protocol_version(version);
        let client = connected(good).await;
        within("publish", client.publish("pw/t", "x", QoS::AtLeastOnce))
            .await
            .unwrap();
        within("disconnect", client.disconnect()).await.unwrap();

        let bad = options(&broker, &format!("pw-bad-{version}"), version)
            .credentials("alice", b"wrong")
            .unwrap();
        let client = mqtt_tokio::spawn(bad).unwrap();
        let refused = within("refusal", async {
            loop {
                if let Some(ConnectionEvent::Disconnected(DisconnectReason::Refused(code))) =
                    client.next_event().await
                {
                    return code;
                }
            }
        })
        .await;
        assert!(refused.is_error());
        within("disconnect", client.disconnect()).await.unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn v5_features_through_the_broker() {
    let broker = Mosquitto::plain().unwrap();
    let v = ProtocolVersion::V5;
    let a = connected(options(&broker, "v5-a", v)).await;
    let b = connected(options(&broker, "v5-b", v)).await;

    // Overlapping subscriptions: each stream gets the message (routed by subscription
    // identifier).
    let mut wide = within("subscribe", b.subscribe("v5/#", QoS::AtLeastOnce))
        .await
        .unwrap();
    let mut narrow = within("subscribe", b.subscribe("v5/+/x", QoS::AtLeastOnce))
        .await
        .unwrap();
    within("publish", a.publish("v5/1/x", "both", QoS::AtLeastOnce))
        .await
        .unwrap();
    assert_eq!(
        next(&mut wide).await.payload(),
        &Bytes::from_static(b"both")
    );
    assert_eq!(
        next(&mut narrow).await.payload(),
        &Bytes::from_static(b"both")
    );
    within(
        "publish",
        a.publish("v5/2/y", "wide only", QoS::AtLeastOnce),
    )
    .await
    .unwrap();
    assert_eq!(
        next(&mut wide).await.payload(),
        &Bytes::from_static(b"wide only")
    );

    // Response topic, correlation data, user properties, content type pass through; topic
    // aliases are used on the way (the session assigns them; mosquitto allows 10).
    let mut request = OutboundMessage::new(
        TopicName::new("v5/req/x").unwrap(),
        "ping",
        QoS::AtLeastOnce,
    );
    request.properties.response_topic = Some(TopicName::new("v5/resp").unwrap());
    request.properties.correlation_data = Some(Bytes::from_static(b"c-1"));
    request.properties.content_type = Some(MqttString::try_from("text/plain").unwrap());
    request
        .properties
        .user_properties
        .push_pair("k", "v")
        .unwrap();
    for _ in 0..2 {
        within("publish", async {
            a.publish_message(request.clone()).await.unwrap().await
        })
        .await
        .unwrap();
    }
    for _ in 0..2 {
        let m = next(&mut wide).await;
        assert_eq!(m.topic().as_str(), "v5/req/x");
        let p = &m.publish.properties;
        assert_eq!(p.response_topic.as_deref(), Some("v5/resp"));
        assert_eq!(p.correlation_data.as_deref(), Some(&b"c-1"[..]));
        assert_eq!(p.content_type.as_deref(), Some("text/plain"));
        let pairs: Vec<(String, String)> = p
            .user_properties
            .iter()
            .map(|u| (u.key.to_string(), u.value.to_string()))
            .collect();
        assert_eq!(pairs, [("k".to_string(), "v".to_string())]);
        let _ = next(&mut narrow).await;
    }

    // Message expiry: a retained message with a 1 s expiry is gone after 2 s.
    let mut expiring =
        OutboundMessage::new(TopicName::new("v5/exp").unwrap(), "short", QoS::AtLeastOnce);
    expiring.retain = true;
    expiring.properties.message_expiry_interval = Some(1);
    within("publish", async {
        a.publish_message(expiring).await.unwrap().await
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let mut late = within("subscribe", b.subscribe("v5/exp", QoS::AtLeastOnce))
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_millis(500), late.next()).await;
    assert!(got.is_err(), "expired retained message delivered: {got:?}");

    // Shared subscription: two members, each message goes to one of them.
    let mut s1 = within(
        "subscribe",
        a.subscribe("$share/g/v5/shared", QoS::AtLeastOnce),
    )
    .await
    .unwrap();
    let mut s2 = within(
        "subscribe",
        b.subscribe("$share/g/v5/shared", QoS::AtLeastOnce),
    )
    .await
    .unwrap();
    let c = connected(options(&broker, "v5-c", v)).await;
    for n in 0..4 {
        within(
            "publish",
            c.publish("v5/shared", format!("{n}"), QoS::AtLeastOnce),
        )
        .await
        .unwrap();
    }
    let mut total = 0;
    for s in [&mut s1, &mut s2] {
        while let Ok(Some(Delivery::Message(_))) =
            tokio::time::timeout(Duration::from_millis(300), s.next()).await
        {
            total += 1;
        }
    }
    assert_eq!(total, 4);

    for client in [a, b, c] {
        within("disconnect", client.disconnect()).await.unwrap();
    }
}

#[tokio::test]
async fn a_slow_subscriber_does_not_stall_the_connection() {
    let broker = Mosquitto::plain().unwrap();
    let mut o = options(&broker, "slow", ProtocolVersion::V5);
    o.subscription_capacity = 4;
    o.session.keep_alive = Duration::from_secs(1);
    let client = connected(o).await;
    let mut slow = within("subscribe", client.subscribe("slow/a", QoS::AtLeastOnce))
        .await
        .unwrap();
    let mut fast = within("subscribe", client.subscribe("slow/b", QoS::AtLeastOnce))
        .await
        .unwrap();
    let publisher = connected(options(&broker, "slow-p", ProtocolVersion::V5)).await;
    for n in 0..20 {
        within(
            "publish",
            publisher.publish("slow/a", format!("{n}"), QoS::AtLeastOnce),
        )
        .await
        .unwrap();
    }
    within(
        "publish",
        publisher.publish("slow/b", "fast", QoS::AtLeastOnce),
    )
    .await
    .unwrap();
    // The other subscription is served while the slow one is full.
    assert_eq!(
        next(&mut fast).await.payload(),
        &Bytes::from_static(b"fast")
    );
    // Keep-alive goes on past several intervals with the slow reader idle.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    within(
        "publish",
        publisher.publish("slow/b", "still", QoS::AtLeastOnce),
    )
    .await
    .unwrap();
    assert_eq!(
        next(&mut fast).await.payload(),
        &Bytes::from_static(b"still")
    );
    // QoS 1: nothing is lost; what did not fit waited unacknowledged (the server's window is
    // the backpressure), and arrives as the reader reads, in order.
    let mut got = Vec::new();
    while got.len() < 20 {
        match within("a waiting message", slow.next()).await {
            Some(Delivery::Message(m)) => {
                got.push(String::from_utf8(m.payload().to_vec()).unwrap())
            }
            other => panic!("{other:?}"),
        }
    }
    let expected: Vec<String> = (0..20).map(|n| n.to_string()).collect();
    assert_eq!(got, expected);
    // QoS 0: what does not fit is dropped for this reader alone and counted.
    let mut lossy = within("subscribe", client.subscribe("slow/c", QoS::AtMostOnce))
        .await
        .unwrap();
    for n in 0..20 {
        within(
            "publish",
            publisher.publish("slow/c", format!("{n}"), QoS::AtMostOnce),
        )
        .await
        .unwrap();
    }
    within(
        "publish",
        publisher.publish("slow/b", "after", QoS::AtLeastOnce),
    )
    .await
    .unwrap();
    assert_eq!(
        next(&mut fast).await.payload(),
        &Bytes::from_static(b"after")
    );
    let mut messages = 0;
    let mut lagged = 0;
    while let Ok(Some(d)) = tokio::time::timeout(Duration::from_millis(300), lossy.next()).await {
        match d {
            Delivery::Message(_) => messages += 1,
            Delivery::Lagged(n) => lagged += n,
        }
    }
    assert_eq!(
        messages + lagged,
        20,
        "{messages} messages, {lagged} lagged"
    );
    assert!(lagged > 0);
    within("disconnect", client.disconnect()).await.unwrap();
    within("disconnect", publisher.disconnect()).await.unwrap();
}

#[tokio::test]
async fn commands_after_disconnect_report_closed() {
    let broker = Mosquitto::plain().unwrap();
    let client = connected(options(&broker, "closed", ProtocolVersion::V311)).await;
    within("disconnect", client.disconnect()).await.unwrap();
    let result = within("publish", client.publish("x", "y", QoS::AtLeastOnce)).await;
    assert!(
        matches!(
            result,
            Err(ClientError::Closed) | Err(ClientError::Session(_))
        ),
        "{result:?}"
    );
}
