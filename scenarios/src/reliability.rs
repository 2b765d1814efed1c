//! What a client guarantees when its process dies, when the server stops reading, and when
//! many clients reconnect at once: messages the application has not taken are not
//! acknowledged, a resumed session's backlog reaches the new subscriptions, a dead connection
//! is left, and every process draws its own reconnect delays.

use mqtt_client::{ConnectionEvent, FileStore, Subscription};
use mqtt_proto::{ProtocolVersion, QoS, TopicName};
use mqtt_session::{DisconnectReason, OutboundMessage};
use mqtt_test_support::{FaultRelay, Mosquitto, TempDir};
use std::net::SocketAddr;
use std::time::Duration;

use crate::{
    connected, crashable, disconnect, durable, next_event, next_message, options, publish, spawn,
    subscribe, text, url, wait_connected, Runtime,
};

/// Reads `n` messages and returns their payloads, acknowledging each when `manual`.
async fn read(
    client: &mqtt_client::Client,
    sub: &mut Subscription,
    n: usize,
    manual: bool,
) -> Vec<String> {
    let mut got = Vec::new();
    for _ in 0..n {
        let message = next_message(sub, "a message of the backlog").await;
        if manual {
            client
                .ack(&message)
                .await
                .unwrap_or_else(|e| panic!("ack: {e}"));
        }
        got.push(text(&message));
    }
    got
}

/// A subscriber that keeps its session in a store stops; messages for it are queued by the
/// broker meanwhile; started again from the store, it subscribes again and receives them all,
/// in order (on v5 they carry the Subscription Identifier the earlier process gave: the new
/// subscription to the same filter takes them), then acknowledges them, so that a third
/// process receives none of them again.
pub async fn a_restarted_subscriber_gets_its_backlog<R: Runtime>(
    rt: &R,
    version: ProtocolVersion,
    manual: bool,
) {
    let broker = Mosquitto::plain().unwrap_or_else(|e| panic!("{e}"));
    backlog_after_a_restart(rt, &url(broker.port()), "mosquitto", version, manual).await;
}

/// [`a_restarted_subscriber_gets_its_backlog`] through a broker nobody here wrote besides
/// mosquitto: rumqttd, embedded in this process (listening for `version` only).
pub async fn a_restarted_subscriber_gets_its_backlog_from_rumqttd<R: Runtime>(
    rt: &R,
    version: ProtocolVersion,
    manual: bool,
) {
    let kind = if version == ProtocolVersion::V5 {
        "v5"
    } else {
        "v4"
    };
    let addr = mqtt_test_support::embedded::rumqttd(kind).unwrap_or_else(|e| panic!("{e}"));
    backlog_after_a_restart(rt, &format!("mqtt://{addr}"), "rumqttd", version, manual).await;
}

async fn backlog_after_a_restart<R: Runtime>(
    rt: &R,
    url: &str,
    broker: &str,
    version: ProtocolVersion,
    manual: bool,
) {
    let url = url.to_string();
    let mode = if manual { "manual" } else { "auto" };
    let id = format!("backlog-{broker}-{}-{version}-{mode}", R::NAME);
    let dir = TempDir::new(&id).unwrap_or_else(|e| panic!("{e}"));
    let store = FileStore::new(dir.path().join("session"));
    let subscriber = |store: &FileStore| {
        durable(options(&url, &id, version))
            .manual_acks(manual)
            .store(store.clone())
    };
    let first = connected(rt, subscriber(&store)).await;
    let _sub = subscribe(&first, "backlog/#", QoS::ExactlyOnce).await;
    disconnect(&first).await;

    let publisher = connected(rt, options(&url, &format!("{id}-p"), version)).await;
    let expected: Vec<String> = (0..20).map(|n| format!("m{n}")).collect();
    for (n, payload) in expected.iter().enumerate() {
        let qos = if n % 2 == 0 {
            QoS::AtLeastOnce
        } else {
            QoS::ExactlyOnce
        };
        publish(&publisher, "backlog/x", payload.clone(), qos).await;
    }

    let second = spawn(rt, subscriber(&store));
    assert!(wait_connected(&second).await, "the broker kept the session");
    let mut sub = subscribe(&second, "backlog/#", QoS::ExactlyOnce).await;
    let got = read(&second, &mut sub, expected.len(), manual).await;
    assert_eq!(got, expected, "{broker} {version} {mode}");
    publish(&publisher, "backlog/x", "live", QoS::ExactlyOnce).await;
    assert_eq!(read(&second, &mut sub, 1, manual).await, ["live"]);
    disconnect(&second).await;

    // Everything was acknowledged: a third process gets only what is new.
    let third = spawn(rt, subscriber(&store));
    assert!(wait_connected(&third).await);
    let mut sub = subscribe(&third, "backlog/#", QoS::ExactlyOnce).await;
    publish(&publisher, "backlog/x", "end", QoS::ExactlyOnce).await;
    assert_eq!(
        read(&third, &mut sub, 1, manual).await,
        ["end"],
        "{version} {mode}"
    );
    disconnect(&third).await;
    disconnect(&publisher).await;
}

/// A subscriber's process dies with messages in its subscription's buffer that the
/// application never took: they were not acknowledged, so the broker sends them again to the
/// next process, which started from the store. (An automatic acknowledgement waits until the
/// application has taken the message, not until it entered a buffer.)
pub async fn unread_messages_survive_a_crash<R: Runtime>(rt: &R, version: ProtocolVersion) {
    let broker = Mosquitto::plain().unwrap_or_else(|e| panic!("{e}"));
    let url = url(broker.port());
    let id = format!("unread-{}-{version}", R::NAME);
    let dir = TempDir::new(&id).unwrap_or_else(|e| panic!("{e}"));
    let store = FileStore::new(dir.path().join("session"));
    let (client, crash) = crashable(
        rt,
        durable(options(&url, &id, version)).store(store.clone()),
    );
    wait_connected(&client).await;
    let unread = subscribe(&client, "unread/a", QoS::AtLeastOnce).await;
    let mut read = subscribe(&client, "unread/b", QoS::AtLeastOnce).await;
    let publisher = connected(rt, options(&url, &format!("{id}-p"), version)).await;
    for n in 0..5 {
        publish(&publisher, "unread/a", format!("a{n}"), QoS::AtLeastOnce).await;
    }
    publish(&publisher, "unread/b", "b", QoS::AtLeastOnce).await;
    // The broker sends in order: once "b" is read, the five are in the other buffer.
    assert_eq!(text(&next_message(&mut read, "'b'").await), "b");
    crash.kill().await;
    drop((client, unread, read));

    let back = spawn(rt, durable(options(&url, &id, version)).store(store));
    assert!(wait_connected(&back).await, "the broker kept the session");
    let mut again = subscribe(&back, "unread/a", QoS::AtLeastOnce).await;
    let mut got = Vec::new();
    while got.len() < 5 {
        got.push(text(
            &next_message(&mut again, "an unread message, sent again").await,
        ));
    }
    assert_eq!(got, ["a0", "a1", "a2", "a3", "a4"], "{version}");
    disconnect(&back).await;
    disconnect(&publisher).await;
}

/// The server hangs (it reads nothing and sends nothing, its socket open) while the client has
/// much to write: the keep-alive deadline passes with bytes unwritten, the client closes the
/// connection anyway (reporting why), and reconnects. (A server that only stops reading, and
/// still runs its own keep-alive, closes the connection itself.)
pub async fn a_hung_server_is_left<R: Runtime>(rt: &R, version: ProtocolVersion) {
    let broker = Mosquitto::plain().unwrap_or_else(|e| panic!("{e}"));
    let target = SocketAddr::from(([127, 0, 0, 1], broker.port()));
    let relay = FaultRelay::start(target).unwrap_or_else(|e| panic!("{e}"));
    let id = format!("stalled-{}-{version}", R::NAME);
    let mut o = options(&url(relay.port()), &id, version);
    o.session.keep_alive = Duration::from_secs(1);
    let client = connected(rt, o).await;
    relay.freeze();
    // Far more than the socket buffers take: the client's writes back up.
    let filler = client.clone();
    rt.spawn_task(Box::pin(async move {
        let topic = TopicName::new("stalled/fill".to_string()).unwrap_or_else(|e| panic!("{e}"));
        let payload = bytes::Bytes::from(vec![0u8; 256 * 1024]);
        for _ in 0..200 {
            let message = OutboundMessage::new(topic.clone(), payload.clone(), QoS::AtMostOnce);
            if filler.publish_message(message).await.is_err() {
                break;
            }
        }
    }));
    next_event(&client, "the keep-alive timeout", |e| {
        matches!(
            e,
            ConnectionEvent::Disconnected(DisconnectReason::KeepAliveTimeout)
        )
        .then_some(())
    })
    .await;
    wait_connected(&client).await;
    assert!(relay.connections() >= 2, "a new connection was made");
    disconnect(&client).await;
}

/// Two clients that fail to connect draw different reconnect delays: each process seeds its
/// jitter from the operating system, so a fleet does not come back in lockstep.
pub async fn clients_draw_different_reconnect_delays<R: Runtime>(rt: &R) {
    let port = mqtt_test_support::free_port();
    let delays = |n: usize| {
        let client = spawn(
            rt,
            options(
                &url(port),
                &format!("jitter-{}-{n}", R::NAME),
                ProtocolVersion::V5,
            ),
        );
        async move {
            let mut delays = Vec::new();
            while delays.len() < 3 {
                let delay = next_event(&client, "a reconnect delay", |e| match e {
                    ConnectionEvent::Reconnecting { delay, .. } => Some(*delay),
                    _ => None,
                })
                .await;
                delays.push(delay);
            }
            drop(client);
            delays
        }
    };
    let a = delays(1).await;
    let b = delays(2).await;
    assert_ne!(a, b, "two clients drew the same delays");
}

/// A subscriber that does not read, under a flood of 1 MiB QoS 1 messages from another
/// process (`mosquitto_pub`): the process's heap stays under what it held idle, plus the
/// inbound budget, plus one read buffer. Then it reads, and every message arrives in order.
/// Meaningful only in a test binary whose global allocator is
/// [`mqtt_test_support::alloc::Counting`], with no other test running beside it.
pub async fn a_reader_that_does_not_read_holds_no_more_than_the_budget<R: Runtime>(
    rt: &R,
    version: ProtocolVersion,
) {
    use mqtt_test_support::alloc;
    const MIB: usize = 1024 * 1024;
    const MESSAGES: usize = 40;
    let broker = Mosquitto::plain().unwrap_or_else(|e| panic!("{e}"));
    let dir = TempDir::new("flood").unwrap_or_else(|e| panic!("{e}"));
    let payload = dir.path().join("payload");
    std::fs::write(&payload, vec![b'x'; MIB - 64]).unwrap_or_else(|e| panic!("{e}"));
    let id = format!("flood-{}-{version}", R::NAME);
    let mut o = options(&url(broker.port()), &id, version);
    o.session.maximum_packet_size = 2 * MIB as u32;
    let budget = o.inbound_budget;
    let client = connected(rt, o).await;
    let mut sub = subscribe(&client, "flood/t", QoS::AtLeastOnce).await;
    let idle = alloc::current();
    alloc::reset_peak();
    let port = broker.port();
    let publisher = std::thread::spawn(move || {
        std::process::Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(["-t", "flood/t", "-q", "1", "-f"])
            .arg(&payload)
            .args(["--repeat", &MESSAGES.to_string()])
            .status()
            .unwrap_or_else(|e| {
                panic!("mosquitto_pub: {e} (install it: apt-get install mosquitto-clients)")
            })
    });
    crate::until("mosquitto_pub to finish", || {
        publisher.is_finished().then_some(())
    })
    .await;
    assert!(publisher.join().is_ok_and(|status| status.success()));
    // The broker has every message; it pushes what it may (it stops when our reads do).
    crate::sleep(Duration::from_secs(2)).await;
    let peak = alloc::peak();
    println!(
        "{} {version}: idle {idle} B, peak {} KiB over idle, budget {} KiB",
        R::NAME,
        (peak - idle) / 1024,
        budget / 1024
    );
    assert!(
        peak <= idle + budget + 2 * MIB,
        "peak heap {peak} B over idle {idle} + budget {budget} + one read buffer"
    );
    // Nothing was lost: the reader now gets them all.
    for n in 0..MESSAGES {
        let m = next_message(&mut sub, &format!("flood message {n}")).await;
        assert_eq!(m.payload().len(), MIB - 64);
    }
    disconnect(&client).await;
}
