//! Manual acknowledgements through mosquitto, fail-over between servers, and a v5 redirect.

use mqtt_client::{ConnectionEvent, Options};
use mqtt_proto::{Packet, ProtocolVersion, QoS, ReasonCode, Role};
use mqtt_session::DisconnectReason;
use mqtt_test_support::{free_port, Mosquitto};

use crate::net::{packets, RecordingProxy, RedirectBy};
use crate::{
    connected, disconnect, durable, next_event, next_message, options, publish, spawn, subscribe,
    text, url, within, Runtime,
};

fn broker() -> Mosquitto {
    Mosquitto::plain().unwrap_or_else(|e| panic!("{e}"))
}

/// In manual-ack mode a QoS 1 message is acknowledged only when the application says so: the
/// client acknowledges the first of two and leaves (its session stays on the broker), and on
/// its return the broker sends the second again, not the first.
pub async fn manual_acks<R: Runtime>(rt: &R, version: ProtocolVersion) {
    let broker = broker();
    let url = url(broker.port());
    let id = format!("manual-{}-{version}", R::NAME);
    let durable = |o: Options| durable(o).manual_acks(true);
    let client = connected(rt, durable(options(&url, &id, version))).await;
    let mut sub = subscribe(&client, "ma/#", QoS::AtLeastOnce).await;
    let publisher = connected(rt, options(&url, &format!("{id}-p"), version)).await;
    publish(&publisher, "ma/1", "first", QoS::AtLeastOnce).await;
    publish(&publisher, "ma/2", "second", QoS::AtLeastOnce).await;
    let first = next_message(&mut sub, "the first message").await;
    let second = next_message(&mut sub, "the second message").await;
    assert_eq!(
        (text(&first).as_str(), text(&second).as_str()),
        ("first", "second")
    );
    assert!(first.ack_token().is_some() && second.ack_token().is_some());
    within("the ack", client.ack(&first)).await.unwrap();
    // A second ack of the same message is ignored.
    within("the second ack", client.ack(&first)).await.unwrap();
    // No wait: the ack is queued before the disconnect, so its PUBACK goes out first, and
    // `disconnect` returns once the broker has closed the connection, having read it all
    // (the reconnection below cannot take the session over before the PUBACK is read).
    drop(sub);
    disconnect(&client).await;
    let again = spawn(rt, durable(options(&url, &id, version)));
    let mut sub = subscribe(&again, "ma/#", QoS::AtLeastOnce).await;
    let redelivered = next_message(&mut sub, "the unacknowledged message again").await;
    assert_eq!(text(&redelivered), "second", "{version}");
    within("the ack", again.ack(&redelivered)).await.unwrap();
    disconnect(&again).await;
    disconnect(&publisher).await;
}

/// A v5 client refuses a QoS 2 message: its PUBREC carries the reason, which ends the flow
/// on the broker (no PUBREL), and the broker never sends it again, not even to the same
/// session after a reconnect. With a Receive Maximum of 1 the broker's next message waits for
/// that flow to end, so the second message arriving at all shows the refusal was taken. On
/// v3.1.1, whose acknowledgements carry no reason, `reject` is refused and `ack` still works.
/// The refusing client goes through a recording proxy, which shows both sides' packets.
pub async fn refused_messages_are_not_sent_again<R: Runtime>(rt: &R, version: ProtocolVersion) {
    let broker = broker();
    let proxy = RecordingProxy::start(([127, 0, 0, 1], broker.port()).into())
        .unwrap_or_else(|e| panic!("starting the proxy: {e}"));
    let id = format!("refuse-{}-{version}", R::NAME);
    let durable = |o: Options| {
        let mut o = durable(o).manual_acks(true);
        o.session.receive_maximum = 1;
        o
    };
    let client = connected(rt, durable(options(&url(proxy.port()), &id, version))).await;
    let mut sub = subscribe(&client, "rj/#", QoS::ExactlyOnce).await;
    let publisher = connected(
        rt,
        options(&url(broker.port()), &format!("{id}-p"), version),
    )
    .await;
    publish(&publisher, "rj/1", "refused", QoS::ExactlyOnce).await;
    publish(&publisher, "rj/2", "taken", QoS::ExactlyOnce).await;
    let first = next_message(&mut sub, "the first message").await;
    assert_eq!(text(&first), "refused");
    let refusal = within(
        "the refusal",
        client.reject(&first, ReasonCode::QuotaExceeded),
    )
    .await;
    let v5 = version == ProtocolVersion::V5;
    if v5 {
        refusal.unwrap();
    } else {
        assert!(
            matches!(
                refusal,
                Err(mqtt_client::ClientError::Session(
                    mqtt_session::Error::NotAvailable(_)
                ))
            ),
            "{refusal:?}"
        );
        within("the ack", client.ack(&first)).await.unwrap();
    }
    let second = next_message(&mut sub, "the second message").await;
    assert_eq!(text(&second), "taken", "{version}");
    within("the ack", client.ack(&second)).await.unwrap();
    drop(sub);
    disconnect(&client).await;
    // `disconnect` returns once the server has closed the connection, having read it to its
    // end: the next connection cannot take the session over before the last PUBREC arrives.
    assert_eq!(proxy.closed_by_server(), 1, "{version}");

    // Back on the same session: the refused message does not come again; the next one
    // published is the next one received.
    let again = spawn(rt, durable(options(&url(proxy.port()), &id, version)));
    let mut sub = subscribe(&again, "rj/#", QoS::ExactlyOnce).await;
    publish(&publisher, "rj/3", "after", QoS::ExactlyOnce).await;
    let next = next_message(&mut sub, "the message published after the reconnect").await;
    assert_eq!(text(&next), "after", "{version}");
    within("the ack", again.ack(&next)).await.unwrap();
    disconnect(&again).await;
    disconnect(&publisher).await;

    // On the wire: the refused message's PUBREC carried the reason (v5) and the broker sent
    // no PUBREL for it; every PUBREL answers a PUBREC that accepted.
    let refused_id = first.packet_id().unwrap();
    let (mut accepted, mut refused) = (Vec::new(), Vec::new());
    for packet in packets(&proxy.client_bytes(), version, Role::Client) {
        if let Packet::PubRec(rec) = packet {
            if rec.reason_code.is_error() {
                refused.push((rec.packet_id, rec.reason_code));
            } else {
                accepted.push(rec.packet_id);
            }
        }
    }
    let released: Vec<_> = packets(&proxy.server_bytes(), version, Role::Server)
        .into_iter()
        .filter_map(|p| match p {
            Packet::PubRel(rel) => Some(rel.packet_id),
            _ => None,
        })
        .collect();
    if v5 {
        assert_eq!(refused, [(refused_id, ReasonCode::QuotaExceeded)]);
        assert!(!accepted.contains(&refused_id), "id reused: {accepted:?}");
        assert!(!released.contains(&refused_id), "PUBREL after a refusal");
    } else {
        assert!(refused.is_empty() && accepted.contains(&refused_id));
        assert!(released.contains(&refused_id), "{released:?}");
    }
    assert!(
        released.iter().all(|id| accepted.contains(id)),
        "{released:?} {accepted:?}"
    );
}

/// Nothing listens on the first server: the client connects to the second.
pub async fn fail_over_to_the_next_server<R: Runtime>(rt: &R) {
    let broker = broker();
    let dead = url(free_port());
    let live = url(broker.port());
    let o = options(&dead, &format!("failover-{}", R::NAME), ProtocolVersion::V5)
        .server(&live)
        .unwrap();
    let client = spawn(rt, o);
    let server = next_event(&client, "CONNACK from the second server", |e| match e {
        ConnectionEvent::Connected { server, .. } => Some(*server),
        _ => None,
    })
    .await;
    assert_eq!(server, 1);
    publish(&client, "fo/t", "x", QoS::AtLeastOnce).await;
    disconnect(&client).await;
}

/// A v5 server says "use another server" with a Server Reference (a scripted first hop:
/// mosquitto never sends one), in its DISCONNECT or in its CONNACK: the client reports why,
/// follows the reference to mosquitto, and works there.
pub async fn v5_server_reference_is_followed<R: Runtime>(rt: &R, by: RedirectBy) {
    let broker = broker();
    let reference = format!("127.0.0.1:{}", broker.port());
    let port = crate::net::redirecting_server(reference.clone(), by)
        .unwrap_or_else(|e| panic!("starting the scripted server: {e}"));
    let client = spawn(
        rt,
        options(
            &url(port),
            &format!("redirect-{by:?}-{}", R::NAME),
            ProtocolVersion::V5,
        ),
    );
    let mut saw = Vec::new();
    let wanted = if by == RedirectBy::ConnAck { 1 } else { 2 };
    next_event(&client, "the CONNACK of mosquitto", |event| {
        saw.push(event.clone());
        let connected = saw
            .iter()
            .filter(|e| matches!(e, ConnectionEvent::Connected { .. }))
            .count();
        (connected == wanted).then_some(())
    })
    .await;
    let ended = saw.iter().find_map(|e| match e {
        ConnectionEvent::Disconnected(reason) => Some(reason.clone()),
        _ => None,
    });
    let ended = ended.unwrap_or_else(|| panic!("{saw:?}"));
    match by {
        RedirectBy::ConnAck => assert!(
            matches!(
                ended,
                DisconnectReason::Refused(ReasonCode::UseAnotherServer, _)
            ),
            "{ended:?}"
        ),
        RedirectBy::Disconnect => assert!(
            matches!(
                ended,
                DisconnectReason::Server(ReasonCode::UseAnotherServer, _)
            ),
            "{ended:?}"
        ),
    }
    assert_eq!(
        ended.server_reference().map(|r| r.to_string()),
        Some(reference.clone())
    );
    assert!(
        saw.contains(&ConnectionEvent::Redirected {
            reference: reference.clone(),
            followed: true
        }),
        "{saw:?}"
    );
    // Connected to mosquitto now: it works.
    let mut sub = subscribe(&client, "rd/#", QoS::AtLeastOnce).await;
    publish(&client, "rd/t", "x", QoS::AtLeastOnce).await;
    assert_eq!(text(&next_message(&mut sub, "the message").await), "x");
    disconnect(&client).await;

    // With following off, the reference is reported and not followed.
    let mut off = options(
        &url(port),
        &format!("redirect-off-{by:?}-{}", R::NAME),
        ProtocolVersion::V5,
    );
    off.follow_server_reference = false;
    let client = spawn(rt, off);
    let reported = next_event(&client, "the redirect", |e| match e {
        ConnectionEvent::Redirected {
            reference,
            followed,
        } => Some((reference.clone(), *followed)),
        ConnectionEvent::Connected { server, .. } if by == RedirectBy::ConnAck => {
            panic!("connected to {server}")
        }
        _ => None,
    })
    .await;
    assert_eq!(reported, (reference, false));
    disconnect(&client).await;
}

/// Two scripted v5 servers whose CONNACKs send the client to each other: the client follows
/// four redirects in a row, then no more, and goes on with the next configured server
/// (mosquitto), where it connects.
pub async fn v5_redirect_loops_are_left<R: Runtime>(rt: &R) {
    let broker = broker();
    let bind = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("a scripted server: {e}"))
    };
    let (a, b) = (bind(), bind());
    let port = |l: &std::net::TcpListener| l.local_addr().unwrap().port();
    let (a_port, b_port) = (port(&a), port(&b));
    crate::net::redirect_on(a, format!("127.0.0.1:{b_port}"), RedirectBy::ConnAck);
    crate::net::redirect_on(b, format!("127.0.0.1:{a_port}"), RedirectBy::ConnAck);
    let options = options(
        &url(a_port),
        &format!("redirect-loop-{}", R::NAME),
        ProtocolVersion::V5,
    )
    .server(&url(broker.port()))
    .unwrap();
    let client = spawn(rt, options);
    let mut redirects = Vec::new();
    let server = next_event(&client, "the CONNACK of mosquitto", |e| match e {
        ConnectionEvent::Redirected { followed, .. } => {
            redirects.push(*followed);
            None
        }
        ConnectionEvent::Connected { server, .. } => Some(*server),
        _ => None,
    })
    .await;
    assert_eq!(server, 1, "mosquitto");
    assert_eq!(redirects, [true, true, true, true, false]);
    disconnect(&client).await;
}

/// Push delivery (`subscribe_with`): the callback gets every message in order, and once the
/// handle is dropped it gets no more (the subscription is gone: a later message reaches only
/// a stream subscription).
pub async fn callbacks_receive_every_message<R: Runtime>(rt: &R) {
    let broker = broker();
    let url = url(broker.port());
    let client = connected(
        rt,
        options(&url, &format!("cb-{}", R::NAME), ProtocolVersion::V5),
    )
    .await;
    let (tx, rx) = async_channel::unbounded();
    let handle = within(
        "the callback subscription",
        rt.subscribe_with(
            &client,
            "cb/#",
            QoS::AtLeastOnce,
            Box::new(move |m| {
                let _ = tx.try_send(text(&m));
            }),
            Box::new(|_| {}),
        ),
    )
    .await
    .unwrap_or_else(|e| panic!("subscribe_with: {e}"));
    for n in 0..5 {
        publish(&client, "cb/t", format!("{n}"), QoS::AtLeastOnce).await;
    }
    for n in 0..5 {
        let got = within("a message through the callback", rx.recv())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got, format!("{n}"));
    }
    drop(handle);
    // The callback's sender goes with its thread or task: the channel closes once the
    // delivery loop has ended and unsubscribed.
    within("the callback's end", async {
        while rx.recv().await.is_ok() {}
    })
    .await;
    let mut sub = subscribe(&client, "cb/#", QoS::AtLeastOnce).await;
    publish(&client, "cb/t", "after", QoS::AtLeastOnce).await;
    assert_eq!(
        text(&next_message(&mut sub, "the message after the callback stopped").await),
        "after"
    );
    disconnect(&client).await;
}
