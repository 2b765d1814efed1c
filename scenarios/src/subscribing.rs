//! Per-filter results through mosquitto: a SUBSCRIBE the broker's ACL refuses in part keeps
//! what was granted and never unsubscribes what was refused [MQTT-3.9.3-1]; some filters of a
//! subscription can be unsubscribed, with a result per filter.

use mqtt_client::{Client, ClientError, Options, UnsubscribeResult};
use mqtt_proto::{Packet, ProtocolVersion, QoS, ReasonCode, SubscribeFilter, TopicFilter};
use mqtt_test_support::dynsec::{self, DynsecBroker, ADMIN_PASSWORD, ADMIN_USER, RESPONSE_TOPIC};
use mqtt_test_support::Mosquitto;

use crate::auth::dynsec_command;
use crate::net::{packets, RecordingProxy};
use crate::{
    connected, disconnect, next_message, options, publish, subscribe, text, url, within, Runtime,
};

/// A mosquitto with its dynamic-security plugin, and the options of a client "carol" it lets
/// subscribe to `ok/#` and nothing else. (Its `acl_file` does not refuse a SUBSCRIBE: it only
/// keeps back what a client may not read.)
async fn broker_with_acl<R: Runtime>(
    rt: &R,
    version: ProtocolVersion,
) -> (DynsecBroker, RecordingProxy, Options) {
    let broker = dynsec::dynsec_broker(&format!("acl-{}-{version}", R::NAME))
        .unwrap_or_else(|e| panic!("{e}"));
    let port = broker.broker.port();
    let admin_options = options(&url(port), &format!("acl-admin-{}-{version}", R::NAME), V5)
        .credentials(ADMIN_USER, ADMIN_PASSWORD.as_bytes())
        .unwrap();
    let admin = connected(rt, admin_options).await;
    let mut responses = subscribe(&admin, RESPONSE_TOPIC, QoS::AtLeastOnce).await;
    for command in [
        r#"{"command":"createRole","rolename":"okonly"}"#,
        r#"{"command":"addRoleACL","rolename":"okonly","acltype":"subscribePattern","topic":"ok/#","allow":true}"#,
        r#"{"command":"addRoleACL","rolename":"okonly","acltype":"publishClientSend","topic":"ok/#","allow":true}"#,
        r#"{"command":"createClient","username":"carol","password":"carol-pw","roles":[{"rolename":"okonly"}]}"#,
    ] {
        dynsec_command(&admin, &mut responses, command).await;
    }
    drop(responses);
    disconnect(&admin).await;
    let proxy = RecordingProxy::start(([127, 0, 0, 1], port).into())
        .unwrap_or_else(|e| panic!("starting the proxy: {e}"));
    let carol = options(&url(proxy.port()), &format!("carol-{}", R::NAME), version)
        .credentials("carol", b"carol-pw")
        .unwrap();
    (broker, proxy, carol)
}

fn filter(f: &str) -> SubscribeFilter {
    SubscribeFilter::new(TopicFilter::new(f.to_string()).unwrap(), QoS::AtLeastOnce)
}

/// The topic filters of every UNSUBSCRIBE the client sent through `proxy`.
fn unsubscribed(proxy: &RecordingProxy, version: ProtocolVersion) -> Vec<String> {
    packets(&proxy.client_bytes(), version, mqtt_proto::Role::Client)
        .into_iter()
        .filter_map(|p| match p {
            Packet::Unsubscribe(u) => Some(u.filters),
            _ => None,
        })
        .flatten()
        .map(|f| f.to_string())
        .collect()
}

const V5: ProtocolVersion = ProtocolVersion::V5;

/// What mosquitto 2.0.11 answers for a filter its ACL denies: v5 0x87 Not authorized;
/// v3.1.1 0x80 Failure.
fn denied(version: ProtocolVersion) -> ReasonCode {
    match version {
        ProtocolVersion::V5 => ReasonCode::NotAuthorized,
        ProtocolVersion::V311 => ReasonCode::UnspecifiedError,
    }
}

/// `subscribe_many` with a filter the broker grants and one its ACL refuses: the subscription
/// holds the granted one and says, per filter in order, what the broker answered; it receives
/// the granted filter's messages; unsubscribing it (explicitly, then by drop) names only the
/// granted filter, never the refused one. A SUBSCRIBE refused whole fails with the reason of
/// each filter and unsubscribes nothing.
pub async fn a_partly_refused_subscribe_keeps_what_was_granted<R: Runtime>(
    rt: &R,
    version: ProtocolVersion,
) {
    let (_broker, proxy, carol) = broker_with_acl(rt, version).await;
    let client = connected(rt, carol).await;
    let mut sub = within(
        "SUBACK",
        client.subscribe_many(
            vec![filter("secret/a"), filter("ok/a"), filter("secret/b")],
            Default::default(),
        ),
    )
    .await
    .unwrap_or_else(|e| panic!("{version}: the granted filter is lost: {e}"));
    assert_eq!(
        sub.results(),
        [
            Err(denied(version)),
            Ok(QoS::AtLeastOnce),
            Err(denied(version))
        ],
        "{version}"
    );
    assert_eq!(sub.granted(), [QoS::AtLeastOnce]);
    assert_eq!(sub.filters(), [TopicFilter::new("ok/a").unwrap()]);
    publish(&client, "ok/a", "granted", QoS::AtLeastOnce).await;
    assert_eq!(
        text(&next_message(&mut sub, "the message").await),
        "granted"
    );

    let all_refused = within(
        "SUBACK",
        client.subscribe_many(
            vec![filter("secret/c"), filter("secret/d")],
            Default::default(),
        ),
    )
    .await;
    assert_eq!(
        all_refused.map(|s| s.results().to_vec()),
        Err(ClientError::SubscribeFailed(vec![
            denied(version),
            denied(version)
        ])),
        "{version}"
    );

    let results = within("UNSUBACK", sub.unsubscribe()).await.unwrap();
    assert_eq!(results, [ReasonCode::Success], "{version}: one filter");
    // And by drop, after a second partly refused SUBSCRIBE.
    let sub = within(
        "SUBACK",
        client.subscribe_many(vec![filter("ok/b"), filter("secret/e")], Default::default()),
    )
    .await
    .unwrap();
    drop(sub);
    // A round trip after the drop: its UNSUBSCRIBE has gone out before this one's SUBSCRIBE.
    let last = subscribe(&client, "ok/c", QoS::AtLeastOnce).await;
    assert_eq!(
        unsubscribed(&proxy, version),
        ["ok/a", "ok/b"],
        "{version}: a refused filter was unsubscribed [MQTT-3.9.3-1]"
    );
    drop(last);
    disconnect(&client).await;
}

/// Three filters in one subscription, one unsubscribed: the UNSUBACK's result for it (v5: its
/// reason code; v3.1.1: acknowledged, there is none), its messages stop while the others' go
/// on; a filter also used by another subscription of the client is not unsubscribed at the
/// broker (the other one still gets its messages); a filter the subscription does not hold is
/// an error that changes nothing; the whole unsubscribe later names only what is left.
pub async fn some_filters_of_a_subscription_are_unsubscribed<R: Runtime>(
    rt: &R,
    version: ProtocolVersion,
) {
    let broker = Mosquitto::plain().unwrap_or_else(|e| panic!("{e}"));
    let proxy = RecordingProxy::start(([127, 0, 0, 1], broker.port()).into())
        .unwrap_or_else(|e| panic!("starting the proxy: {e}"));
    let client: Client = connected(
        rt,
        options(
            &url(proxy.port()),
            &format!("unsub-some-{}", R::NAME),
            version,
        ),
    )
    .await;
    let mut sub = within(
        "SUBACK",
        client.subscribe_many(
            vec![filter("us/1"), filter("us/2"), filter("us/3")],
            Default::default(),
        ),
    )
    .await
    .unwrap();
    let mut other = subscribe(&client, "us/3", QoS::AtLeastOnce).await;

    let results = within("UNSUBACK", sub.unsubscribe_filters(&["us/2"]))
        .await
        .unwrap();
    let expected = match version {
        ProtocolVersion::V5 => UnsubscribeResult::ReasonCode(ReasonCode::Success),
        ProtocolVersion::V311 => UnsubscribeResult::Acknowledged,
    };
    assert_eq!(results, [expected], "{version}");
    assert_eq!(
        sub.filters(),
        [
            TopicFilter::new("us/1").unwrap(),
            TopicFilter::new("us/3").unwrap()
        ]
    );
    let results = within("no UNSUBACK", sub.unsubscribe_filters(&["us/3"]))
        .await
        .unwrap();
    assert_eq!(results, [UnsubscribeResult::StillUsed], "{version}");
    let refused = sub.unsubscribe_filters(&["us/2"]).await;
    assert_eq!(
        refused,
        Err(ClientError::NotSubscribed("us/2".into())),
        "{version}: unsubscribed already"
    );
    assert_eq!(sub.filters(), [TopicFilter::new("us/1").unwrap()]);

    publish(&client, "us/2", "gone", QoS::AtLeastOnce).await;
    publish(&client, "us/3", "other", QoS::AtLeastOnce).await;
    publish(&client, "us/1", "kept", QoS::AtLeastOnce).await;
    // The broker sends in order: "gone" would have come first.
    assert_eq!(text(&next_message(&mut sub, "us/1").await), "kept");
    assert_eq!(text(&next_message(&mut other, "us/3").await), "other");
    assert_eq!(unsubscribed(&proxy, version), ["us/2"], "{version}");

    let results = within("UNSUBACK", sub.unsubscribe()).await.unwrap();
    assert_eq!(results, [ReasonCode::Success], "{version}: us/1 alone");
    assert_eq!(unsubscribed(&proxy, version), ["us/2", "us/1"], "{version}");
    disconnect(&client).await;
}
