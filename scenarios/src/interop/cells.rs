//! The cells of the matrix. Each returns what the broker did: `Ok("ok")` when it behaved as
//! the specification says, `Ok(note)` when it did something else that the client survived,
//! `Err(what failed)` when a step did not complete. Neither fails the test by itself: the row
//! is compared with the recorded one.

use bytes::Bytes;
use mqtt_client::{ConnectionEvent, Message, Subscription};
use mqtt_proto::{MqttString, PayloadFormat, QoS, ReasonCode, TopicName, Will};
use mqtt_session::DisconnectReason;
use mqtt_session::OutboundMessage;
use std::time::Duration;

use super::{attempt, connack, join, leave, Ctx, Joined};
use crate::{first_within, Runtime};

/// A column of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// CONNECT with a clean start: CONNACK without a session.
    Connect,
    /// A QoS 0 publish out, and its delivery back at QoS 0.
    Qos0,
    /// The same at QoS 1 (PUBACK both ways).
    Qos1,
    /// The same at QoS 2 (PUBREC, PUBREL, PUBCOMP both ways).
    Qos2,
    /// Delivery at the lower of the publish's and the subscription's QoS (3.1.1
    /// [MQTT-3.8.4-6], 5 [MQTT-3.8.4-8]).
    Downgrade,
    /// A retained message reaches a later subscriber, flagged retained.
    Retained,
    /// The will of a connection cut without DISCONNECT is published.
    Will,
    /// A durable session resumed: session present, and what was published while away.
    Resume,
    /// After the server lost the session, the client subscribes again by itself.
    Resubscribe,
    /// v5 publish properties pass through the broker.
    Properties,
    /// v5 topic aliases, as far as the broker allows them.
    Aliases,
    /// v5 subscription identifiers route overlapping and renewed subscriptions.
    SubscriptionIds,
    /// v5 Receive Maximum, both ways.
    FlowControl,
}

impl Cell {
    /// Every cell, in the table's order.
    pub const ALL: [Cell; 13] = [
        Cell::Connect,
        Cell::Qos0,
        Cell::Qos1,
        Cell::Qos2,
        Cell::Downgrade,
        Cell::Retained,
        Cell::Will,
        Cell::Resume,
        Cell::Resubscribe,
        Cell::Properties,
        Cell::Aliases,
        Cell::SubscriptionIds,
        Cell::FlowControl,
    ];

    /// The column's name.
    pub fn name(self) -> &'static str {
        match self {
            Cell::Connect => "connect",
            Cell::Qos0 => "QoS 0",
            Cell::Qos1 => "QoS 1",
            Cell::Qos2 => "QoS 2",
            Cell::Downgrade => "QoS downgrade",
            Cell::Retained => "retained",
            Cell::Will => "will",
            Cell::Resume => "session resume",
            Cell::Resubscribe => "resubscribe after session loss",
            Cell::Properties => "properties",
            Cell::Aliases => "topic aliases",
            Cell::SubscriptionIds => "subscription ids",
            Cell::FlowControl => "flow control",
        }
    }

    /// A short tag for client ids and topics.
    pub(super) fn tag(self) -> &'static str {
        match self {
            Cell::Connect => "con",
            Cell::Qos0 => "q0",
            Cell::Qos1 => "q1",
            Cell::Qos2 => "q2",
            Cell::Downgrade => "dg",
            Cell::Retained => "ret",
            Cell::Will => "will",
            Cell::Resume => "res",
            Cell::Resubscribe => "resub",
            Cell::Properties => "prop",
            Cell::Aliases => "alias",
            Cell::SubscriptionIds => "sid",
            Cell::FlowControl => "flow",
        }
    }

    /// Whether only MQTT v5 has it.
    pub fn v5_only(self) -> bool {
        matches!(
            self,
            Cell::Properties | Cell::Aliases | Cell::SubscriptionIds | Cell::FlowControl
        )
    }

    /// Runs the cell.
    pub(super) async fn run<R: Runtime>(self, ctx: &Ctx<'_, R>) -> Result<String, String> {
        match self {
            Cell::Connect => connect(ctx).await,
            Cell::Qos0 => round_trip(ctx, QoS::AtMostOnce).await,
            Cell::Qos1 => round_trip(ctx, QoS::AtLeastOnce).await,
            Cell::Qos2 => round_trip(ctx, QoS::ExactlyOnce).await,
            Cell::Downgrade => downgrade(ctx).await,
            Cell::Retained => retained(ctx).await,
            Cell::Will => will(ctx).await,
            Cell::Resume => resume(ctx).await,
            Cell::Resubscribe => resubscribe(ctx).await,
            Cell::Properties => properties(ctx).await,
            Cell::Aliases => aliases(ctx).await,
            Cell::SubscriptionIds => subscription_ids(ctx).await,
            Cell::FlowControl => flow_control(ctx).await,
        }
    }
}

const OK: &str = "ok";

async fn sub(c: &Joined, filter: &str, qos: QoS) -> Result<Subscription, String> {
    attempt("SUBACK", c.client.subscribe(filter, qos))
        .await?
        .map_err(|e| format!("subscribe refused: {e}"))
}

async fn send(c: &Joined, message: OutboundMessage) -> Result<(), String> {
    attempt("publish completion", async {
        match c.client.publish_message(message).await {
            Ok(handle) => handle.await.map(|_| ()),
            Err(e) => Err(e),
        }
    })
    .await?
    .map_err(|e| format!("publish failed: {e}"))
}

async fn publish(c: &Joined, topic: &str, payload: &str, qos: QoS) -> Result<(), String> {
    attempt("publish completion", async {
        c.client
            .publish(topic, payload.to_string(), qos)
            .await?
            .await
    })
    .await?
    .map(|_| ())
    .map_err(|e| format!("publish failed: {e}"))
}

async fn next(s: &mut Subscription, what: &str) -> Result<Message, String> {
    attempt(what, s.next_message())
        .await?
        .ok_or_else(|| "the subscription ended".to_string())
}

fn text(m: &Message) -> String {
    String::from_utf8_lossy(m.payload()).into_owned()
}

async fn connect<R: Runtime>(ctx: &Ctx<'_, R>) -> Result<String, String> {
    let c = join(ctx.rt, ctx.options("c")).await?;
    leave(&[&c.client]).await;
    Ok(if c.present {
        "session present on a clean start".into()
    } else {
        OK.into()
    })
}

async fn round_trip<R: Runtime>(ctx: &Ctx<'_, R>, qos: QoS) -> Result<String, String> {
    let s = join(ctx.rt, ctx.options("s")).await?;
    let p = join(ctx.rt, ctx.options("p")).await?;
    let topic = format!("{}/t", ctx.cell);
    let mut subscription = sub(&s, &topic, qos).await?;
    let granted = subscription.granted().to_vec();
    publish(&p, &topic, "m", qos).await?;
    let m = next(&mut subscription, "message").await?;
    leave(&[&s.client, &p.client]).await;
    Ok(if granted != [qos] {
        format!("granted {granted:?}")
    } else if m.qos() != qos {
        format!("delivered at QoS {}", m.qos() as u8)
    } else {
        OK.into()
    })
}

async fn downgrade<R: Runtime>(ctx: &Ctx<'_, R>) -> Result<String, String> {
    let s = join(ctx.rt, ctx.options("s")).await?;
    let p = join(ctx.rt, ctx.options("p")).await?;
    let mut high = sub(&s, "dg/h/#", QoS::ExactlyOnce).await?;
    let mut low = sub(&s, "dg/l/#", QoS::AtMostOnce).await?;
    publish(&p, "dg/h/0", "0", QoS::AtMostOnce).await?;
    publish(&p, "dg/h/1", "1", QoS::AtLeastOnce).await?;
    publish(&p, "dg/l/2", "2", QoS::ExactlyOnce).await?;
    // Two topics, so no order between them: the payload tells which is which.
    let mut at = [0u8; 2];
    for _ in 0..2 {
        let m = next(&mut high, "message under the QoS 2 subscription").await?;
        let n = usize::from(text(&m) == "1");
        at[n] = m.qos() as u8;
    }
    let [a, b] = at;
    let c = next(&mut low, "QoS 2 message").await?.qos() as u8;
    leave(&[&s.client, &p.client]).await;
    Ok(match (a, b, c) {
        (0, 1, 0) => OK.into(),
        (2, 2, 0) => "delivers at subscription QoS".into(),
        _ => format!("QoS 0, 1 at sub 2 came at {a}, {b}; QoS 2 at sub 0 at {c}"),
    })
}

async fn retained<R: Runtime>(ctx: &Ctx<'_, R>) -> Result<String, String> {
    let p = join(ctx.rt, ctx.options("p")).await?;
    let mut m = OutboundMessage::new(
        TopicName::new("ret/t").map_err(|e| e.to_string())?,
        "kept",
        QoS::AtLeastOnce,
    );
    m.retain = true;
    send(&p, m).await?;
    let s = join(ctx.rt, ctx.options("s")).await?;
    let mut subscription = sub(&s, "ret/#", QoS::AtLeastOnce).await?;
    let got = next(&mut subscription, "retained message").await;
    leave(&[&s.client, &p.client]).await;
    let got = got.map_err(|_| "not retained".to_string())?;
    Ok(match (text(&got).as_str(), got.retain()) {
        ("kept", true) => OK.into(),
        ("kept", false) => "delivered without the retain flag".into(),
        (other, _) => format!("got {other:?}"),
    })
}

async fn will<R: Runtime>(ctx: &Ctx<'_, R>) -> Result<String, String> {
    let w = join(ctx.rt, ctx.options("w")).await?;
    let mut watch = sub(&w, "will/#", QoS::AtLeastOnce).await?;
    let mut will = Will::new(TopicName::new("will/t").map_err(|e| e.to_string())?, "gone");
    will.qos = QoS::AtLeastOnce;
    let (client, cut) = crate::crashable(ctx.rt, ctx.options("c").will(will));
    connack(&client).await?;
    // The task (and its socket) goes away without DISCONNECT.
    cut.kill().await;
    let got = next(&mut watch, "will").await;
    leave(&[&w.client]).await;
    Ok(match got {
        Ok(m) if text(&m) == "gone" => OK.into(),
        Ok(m) => format!("got {:?}", text(&m)),
        Err(_) => "no will published".into(),
    })
}

async fn resume<R: Runtime>(ctx: &Ctx<'_, R>) -> Result<String, String> {
    let away = join(ctx.rt, crate::durable(ctx.options("a"))).await?;
    let subscription = sub(&away, "res/#", QoS::AtLeastOnce).await?;
    leave(&[&away.client]).await;
    drop(subscription);
    let p = join(ctx.rt, ctx.options("p")).await?;
    for n in 0..2 {
        publish(&p, "res/t", &n.to_string(), QoS::AtLeastOnce).await?;
    }
    let back = join(ctx.rt, crate::durable(ctx.options("a"))).await?;
    if !back.present {
        leave(&[&back.client, &p.client]).await;
        return Ok("no session kept".into());
    }
    // What arrives before the subscription is made again is held for it.
    let mut subscription = sub(&back, "res/#", QoS::AtLeastOnce).await?;
    let mut got = Vec::new();
    while got.len() < 2 {
        match next(&mut subscription, "message kept").await {
            Ok(m) => got.push(text(&m)),
            Err(_) => break,
        }
    }
    leave(&[&back.client, &p.client]).await;
    Ok(match got.len() {
        2 if got == ["0", "1"] => OK.into(),
        0 => "session kept, messages lost".into(),
        _ => format!("got {got:?}"),
    })
}

async fn resubscribe<R: Runtime>(ctx: &Ctx<'_, R>) -> Result<String, String> {
    let a = join(ctx.rt, crate::durable(ctx.options("a"))).await?;
    let mut subscription = sub(&a, "resub/#", QoS::AtLeastOnce).await?;
    // The same client id with a clean start takes the session away (the broker closes the
    // first connection), and leaves.
    let mut clean = ctx.options("a").clean_start(true).session_expiry(0);
    clean.session.backoff.enabled = false;
    let b = join(ctx.rt, clean).await?;
    leave(&[&b.client]).await;
    // The first client comes back by itself, finds no session, and subscribes again.
    let mut closed = false;
    let present = first_within(super::WAIT, async {
        loop {
            match a.client.next_event().await {
                Some(ConnectionEvent::Connected {
                    session_present, ..
                }) => return Some(session_present),
                Some(ConnectionEvent::Disconnected(_)) => closed = true,
                Some(_) => {}
                None => return None,
            }
        }
    })
    .await
    .flatten();
    let Some(present) = present else {
        leave(&[&a.client]).await;
        return Ok(if closed {
            "no CONNACK after the takeover".into()
        } else {
            "a takeover leaves the first connection open (broker)".into()
        });
    };
    if present {
        leave(&[&a.client]).await;
        return Ok("session kept after a clean start took the id".into());
    }
    let results = attempt("resubscription", async {
        loop {
            match a.client.next_event().await {
                Some(ConnectionEvent::Resubscribed(results)) => return Some(results),
                Some(_) => {}
                None => return None,
            }
        }
    })
    .await?
    .ok_or_else(|| "the connection task ended".to_string())?;
    if results != [Ok(QoS::AtLeastOnce)] {
        leave(&[&a.client]).await;
        return Ok(format!("resubscribed with {results:?}"));
    }
    let p = join(ctx.rt, ctx.options("p")).await?;
    publish(&p, "resub/t", "after", QoS::AtLeastOnce).await?;
    let got = next(&mut subscription, "message after the resubscription").await;
    leave(&[&a.client, &p.client]).await;
    Ok(match got {
        Ok(m) if text(&m) == "after" => OK.into(),
        Ok(m) => format!("got {:?}", text(&m)),
        Err(e) => e,
    })
}

async fn aliases<R: Runtime>(ctx: &Ctx<'_, R>) -> Result<String, String> {
    let mut options = ctx.options("s");
    options.session.topic_alias_maximum = 10;
    let s = join(ctx.rt, options).await?;
    let p = join(ctx.rt, ctx.options("p")).await?;
    let allowed = p.limits.topic_alias_maximum;
    let mut subscription = sub(&s, "alias/#", QoS::AtLeastOnce).await?;
    let sent = ["alias/t", "alias/t", "alias/u", "alias/t"];
    for (n, topic) in sent.iter().enumerate() {
        publish(&p, topic, &n.to_string(), QoS::AtLeastOnce).await?;
    }
    let mut got = Vec::new();
    for n in 0..sent.len() {
        let m = next(&mut subscription, "aliased message").await?;
        if text(&m) != n.to_string() {
            leave(&[&s.client, &p.client]).await;
            return Ok(format!("message {n} came as {:?}", text(&m)));
        }
        got.push(m.topic().as_str().to_string());
    }
    leave(&[&s.client, &p.client]).await;
    Ok(if got != sent {
        format!("topics came as {got:?} (broker allows {allowed})")
    } else if allowed == 0 {
        "ok (broker allows none)".into()
    } else {
        format!("ok (broker allows {allowed})")
    })
}

async fn subscription_ids<R: Runtime>(ctx: &Ctx<'_, R>) -> Result<String, String> {
    let s = join(ctx.rt, ctx.options("s")).await?;
    let p = join(ctx.rt, ctx.options("p")).await?;
    if !s.limits.subscription_identifier_available {
        leave(&[&s.client, &p.client]).await;
        return Ok("not available (broker)".into());
    }
    let mut wide = sub(&s, "sid/#", QoS::AtLeastOnce).await?;
    let mut narrow = sub(&s, "sid/+/x", QoS::AtLeastOnce).await?;
    publish(&p, "sid/1/x", "both", QoS::AtLeastOnce).await?;
    publish(&p, "sid/2/y", "wide", QoS::AtLeastOnce).await?;
    let w1 = text(&next(&mut wide, "first message on the wide filter").await?);
    let w2 = text(&next(&mut wide, "second message on the wide filter").await?);
    let n1 = text(&next(&mut narrow, "message on the narrow filter").await?);
    if (w1.as_str(), w2.as_str(), n1.as_str()) != ("both", "wide", "both") {
        leave(&[&s.client, &p.client]).await;
        return Ok(format!("overlap routed {w1}, {w2} / {n1}"));
    }
    // Unsubscribed and subscribed again: a new identifier, which the next message must carry.
    drop(narrow);
    let mut renewed = sub(&s, "sid/+/x", QoS::AtLeastOnce).await?;
    publish(&p, "sid/3/x", "again", QoS::AtLeastOnce).await?;
    match next(&mut renewed, "message on the renewed filter").await {
        Ok(m) if text(&m) == "again" => {}
        Ok(m) => {
            leave(&[&s.client, &p.client]).await;
            return Ok(format!("renewed filter got {:?}", text(&m)));
        }
        Err(_) => {
            leave(&[&s.client, &p.client]).await;
            return Ok("a renewed subscription gets nothing".into());
        }
    }
    // Subscribed again without unsubscribing: the broker replaces the subscription and its
    // identifier [MQTT-3.8.4-3], so the newest stream gets the next message.
    let mut replaced = sub(&s, "sid/+/x", QoS::AtLeastOnce).await?;
    publish(&p, "sid/4/x", "replaced", QoS::AtLeastOnce).await?;
    let old = std::pin::pin!(renewed.next_message());
    let new = std::pin::pin!(replaced.next_message());
    let newest = first_within(super::WAIT, async {
        matches!(
            futures::future::select(old, new).await,
            futures::future::Either::Right(_)
        )
    })
    .await;
    leave(&[&s.client, &p.client]).await;
    Ok(match newest {
        Some(true) => OK.into(),
        Some(false) => "keeps the old identifier on a re-subscribe (broker)".into(),
        None => "a replaced subscription gets nothing".into(),
    })
}

async fn flow_control<R: Runtime>(ctx: &Ctx<'_, R>) -> Result<String, String> {
    // Ours: at most 2 unacknowledged QoS 1 messages from the broker.
    let mut options = ctx.options("s").manual_acks(true);
    options.session.receive_maximum = 2;
    let s = join(ctx.rt, options).await?;
    let p = join(ctx.rt, ctx.options("p")).await?;
    let theirs = p.limits.receive_maximum;
    let mut subscription = sub(&s, "flow/#", QoS::AtLeastOnce).await?;
    // Theirs: more publishes at once than the broker's Receive Maximum when it is small; the
    // client holds back what does not fit.
    let burst = usize::from(theirs.min(16)) + 4;
    let publisher = &p.client;
    let sends: Vec<_> = (0..burst)
        .map(|n| async move {
            publisher
                .publish("flow/t", n.to_string(), QoS::AtLeastOnce)
                .await?
                .await
        })
        .collect();
    let done = attempt("burst completions", futures::future::join_all(sends)).await?;
    if let Some(e) = done.iter().find_map(|r| r.as_ref().err()) {
        leave(&[&s.client, &p.client]).await;
        return Ok(format!("a publish of the burst failed: {e}"));
    }
    let first = next(&mut subscription, "first message").await?;
    let second = next(&mut subscription, "second message").await?;
    // Nothing more may come until one of the two is acknowledged.
    let third = first_within(Duration::from_millis(500), subscription.next_message()).await;
    let beyond = third.is_some();
    let mut pending = vec![first, second];
    pending.extend(third.flatten());
    let mut got = pending.len();
    for m in &pending {
        let _ = attempt("ack", s.client.ack(m)).await;
    }
    while got < burst {
        match next(&mut subscription, "message after the acks").await {
            Ok(m) => {
                got += 1;
                let _ = attempt("ack", s.client.ack(&m)).await;
            }
            Err(_) => break,
        }
    }
    // Did the client close the connection over a broker that sent too much?
    let closed = first_within(Duration::from_millis(100), async {
        loop {
            match s.client.next_event().await {
                Some(ConnectionEvent::Disconnected(DisconnectReason::ProtocolError(code, _))) => {
                    return Some(code)
                }
                Some(_) => {}
                None => return None,
            }
        }
    })
    .await
    .flatten();
    leave(&[&s.client, &p.client]).await;
    Ok(if closed == Some(ReasonCode::ReceiveMaximumExceeded) {
        "exceeds our Receive Maximum (broker); the client closes with 0x93".into()
    } else if got < burst {
        format!("{got} of {burst} messages came")
    } else if beyond {
        "sends beyond our Receive Maximum (broker)".into()
    } else {
        OK.into()
    })
}

async fn properties<R: Runtime>(ctx: &Ctx<'_, R>) -> Result<String, String> {
    let s = join(ctx.rt, ctx.options("s")).await?;
    let p = join(ctx.rt, ctx.options("p")).await?;
    let mut subscription = sub(&s, "prop/#", QoS::AtLeastOnce).await?;
    send(&p, properties_message()?).await?;
    let m = next(&mut subscription, "message").await?;
    leave(&[&s.client, &p.client]).await;
    let got = &m;
    let mut lost = Vec::new();
    if got.payload_format_indicator() != Some(PayloadFormat::Utf8) {
        lost.push("payload format");
    }
    if !got
        .message_expiry_interval()
        .is_some_and(|s| s > 0 && s <= 300)
    {
        lost.push("message expiry");
    }
    if got.response_topic().as_deref() != Some("prop/r") {
        lost.push("response topic");
    }
    if got.correlation_data().as_deref() != Some(&b"c-1"[..]) {
        lost.push("correlation data");
    }
    if got.content_type().as_deref() != Some("application/json") {
        lost.push("content type");
    }
    let users: Vec<(String, String)> = got
        .user_properties()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let sent = [
        ("k".to_string(), "v".to_string()),
        ("k".into(), "second".into()),
    ];
    let added: Vec<&str> = match users.strip_prefix(&sent[..]) {
        Some(added) => added.iter().map(|(k, _)| k.as_str()).collect(),
        None => {
            lost.push("user properties");
            Vec::new()
        }
    };
    Ok(match (lost.is_empty(), added.is_empty()) {
        (true, true) => OK.into(),
        (true, false) => format!("ok, adds user property {}", added.join(", ")),
        _ => format!("lost: {}", lost.join(", ")),
    })
}

/// v5 properties set on a publish: what the broker must pass on.
fn properties_message() -> Result<OutboundMessage, String> {
    let topic = TopicName::new("prop/t").map_err(|e| e.to_string())?;
    let mut m = OutboundMessage::new(topic, "{}", QoS::AtLeastOnce);
    let p = &mut m.properties;
    p.payload_format_indicator = Some(PayloadFormat::Utf8);
    p.message_expiry_interval = Some(300);
    let step = |r: Result<(), mqtt_proto::EncodeError>| r.map_err(|e| e.to_string());
    step(p.set_response_topic(TopicName::new("prop/r").ok()))?;
    step(p.set_correlation_data(Some(Bytes::from_static(b"c-1"))))?;
    step(p.set_content_type(MqttString::try_from("application/json").ok()))?;
    step(p.push_user_property("k", "v"))?;
    step(p.push_user_property("k", "second"))?;
    Ok(m)
}
