//! More of mqtt-tokio's scenarios, on smol and async-std: TLS verified against our CA, a
//! persistent session receiving what was published while it was away, and a broker restart
//! without persistence (the client resubscribes). Each body runs on both executors.
#![allow(clippy::unwrap_used, clippy::panic)]

use futures_lite::future;
use mqtt_proto::ProtocolVersion;
use mqtt_smol::{Client, ConnectionEvent, Options, QoS, TlsOptions};
use mqtt_test_support::Mosquitto;
use std::future::Future;
use std::time::Duration;

async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    future::or(async { Some(f.await) }, async {
        async_io::Timer::after(Duration::from_secs(10)).await;
        None
    })
    .await
    .unwrap_or_else(|| panic!("timed out: {what}"))
}

fn options(url: &str, id: &str) -> Options {
    let mut o = Options::new(url, id).unwrap();
    o.session.backoff.initial = Duration::from_millis(50);
    o.session.backoff.max = Duration::from_millis(500);
    o
}

async fn connected(options: Options) -> Client {
    let client = mqtt_smol::spawn(options).unwrap();
    within("CONNACK", async {
        loop {
            match client.next_event().await {
                Some(ConnectionEvent::Connected { .. }) => return,
                Some(ConnectionEvent::ConnectFailed { error, .. }) => panic!("{error}"),
                Some(_) => {}
                None => panic!("task ended"),
            }
        }
    })
    .await;
    client
}

/// Runs one scenario body under smol and under async-std.
fn on_both(body: impl Fn(&'static str) -> std::pin::Pin<Box<dyn Future<Output = ()>>>) {
    smol::block_on(body("smol"));
    async_std::task::block_on(body("async-std"));
}

#[test]
fn tls_verified_against_our_ca() {
    let b = mqtt_test_support::tls::tls_broker("smol").unwrap();
    let (port, ca) = (b.tls_port, b.pki.ca_pem.clone());
    on_both(move |rt| {
        let ca = ca.clone();
        Box::pin(async move {
            let tls = TlsOptions::new().ca_pem(ca.as_bytes()).unwrap();
            let o = options(&format!("mqtts://127.0.0.1:{port}"), &format!("tls-{rt}"))
                .tls(tls)
                .unwrap();
            let client = connected(o).await;
            let mut sub = within("subscribe", client.subscribe("tls/#", QoS::AtLeastOnce))
                .await
                .unwrap();
            within(
                "publish",
                client.publish("tls/1", "secret", QoS::AtLeastOnce),
            )
            .await
            .unwrap();
            let m = within("message", sub.next_message()).await.unwrap();
            assert_eq!(&m.payload()[..], b"secret");
            within("disconnect", client.disconnect()).await.unwrap();
        })
    });
}

#[test]
fn a_persistent_session_receives_what_was_published_while_it_was_away() {
    let broker = Mosquitto::plain().unwrap();
    let url = format!("mqtt://127.0.0.1:{}", broker.port());
    on_both(move |rt| {
        let url = url.clone();
        Box::pin(async move {
            for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
                let id = format!("persist-{rt}-{version}");
                let durable = |o: Options| {
                    o.protocol_version(version)
                        .clean_start(false)
                        .session_expiry(300)
                };
                let away = connected(durable(options(&url, &id))).await;
                let sub = within("subscribe", away.subscribe("persist/#", QoS::AtLeastOnce))
                    .await
                    .unwrap();
                within("disconnect", away.disconnect()).await.unwrap();
                drop(sub);
                let publisher =
                    connected(options(&url, &format!("{id}-p")).protocol_version(version)).await;
                for n in 0..3 {
                    within(
                        "publish",
                        publisher.publish("persist/t", format!("{n}"), QoS::AtLeastOnce),
                    )
                    .await
                    .unwrap();
                }
                let back = mqtt_smol::spawn(durable(options(&url, &id))).unwrap();
                let mut sub = within("subscribe", back.subscribe("persist/#", QoS::AtLeastOnce))
                    .await
                    .unwrap();
                for n in 0..3 {
                    let m = within("message", sub.next_message()).await.unwrap();
                    assert_eq!(
                        m.payload().as_ref(),
                        format!("{n}").as_bytes(),
                        "{rt} {version}"
                    );
                }
                within("disconnect", back.disconnect()).await.unwrap();
                within("disconnect", publisher.disconnect()).await.unwrap();
            }
        })
    });
}

#[test]
fn broker_restart_without_persistence_resubscribes() {
    for rt in ["smol", "async-std"] {
        let mut broker = Mosquitto::plain().unwrap();
        let url = format!("mqtt://127.0.0.1:{}", broker.port());
        let run = async {
            let client = connected(options(&url, &format!("restart-{rt}"))).await;
            let mut sub = within("subscribe", client.subscribe("rs/#", QoS::AtLeastOnce))
                .await
                .unwrap();
            broker.restart().unwrap();
            within("resubscribe", async {
                loop {
                    if let Some(ConnectionEvent::Resubscribed(results)) = client.next_event().await
                    {
                        assert_eq!(results, vec![Ok(QoS::AtLeastOnce)]);
                        return;
                    }
                }
            })
            .await;
            let publisher = connected(options(&url, &format!("restart-{rt}-p"))).await;
            within(
                "publish",
                publisher.publish("rs/1", "after", QoS::AtLeastOnce),
            )
            .await
            .unwrap();
            assert_eq!(
                &within("message", sub.next_message())
                    .await
                    .unwrap()
                    .payload()[..],
                b"after"
            );
            within("disconnect", client.disconnect()).await.unwrap();
            within("disconnect", publisher.disconnect()).await.unwrap();
        };
        if rt == "smol" {
            smol::block_on(run);
        } else {
            async_std::task::block_on(run);
        }
    }
}

#[test]
fn a_slow_subscriber_does_not_stall_the_connection() {
    let broker = Mosquitto::plain().unwrap();
    let url = format!("mqtt://127.0.0.1:{}", broker.port());
    on_both(move |rt| {
        let url = url.clone();
        Box::pin(async move {
            let mut o = options(&url, &format!("slow-{rt}"));
            o.subscription_capacity = 4;
            o.session.keep_alive = Duration::from_secs(1);
            let client = connected(o).await;
            let mut slow = within("subscribe", client.subscribe("slow/a", QoS::AtLeastOnce))
                .await
                .unwrap();
            let mut fast = within("subscribe", client.subscribe("slow/b", QoS::AtLeastOnce))
                .await
                .unwrap();
            let publisher = connected(options(&url, &format!("slow-{rt}-p"))).await;
            for n in 0..12 {
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
            assert_eq!(
                &within("fast", fast.next_message()).await.unwrap().payload()[..],
                b"fast"
            );
            // Past two keep-alive intervals with the slow reader idle, the connection is up.
            async_io::Timer::after(Duration::from_millis(2200)).await;
            within(
                "publish",
                publisher.publish("slow/b", "still", QoS::AtLeastOnce),
            )
            .await
            .unwrap();
            assert_eq!(
                &within("fast", fast.next_message()).await.unwrap().payload()[..],
                b"still"
            );
            // QoS 1: nothing lost, in order.
            for n in 0..12 {
                let m = within("slow", slow.next_message()).await.unwrap();
                assert_eq!(m.payload().as_ref(), format!("{n}").as_bytes());
            }
            within("disconnect", client.disconnect()).await.unwrap();
            within("disconnect", publisher.disconnect()).await.unwrap();
        })
    });
}
