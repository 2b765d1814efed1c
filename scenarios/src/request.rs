//! Request/response through `Client::request` (MQTT v5, section 4.10), against mosquitto.

use futures::future::{self, Either};
use mqtt_client::ClientError;
use mqtt_proto::{ProtocolVersion, QoS, TopicName};
use mqtt_session::OutboundMessage;
use mqtt_test_support::Mosquitto;
use std::collections::BTreeSet;
use std::pin::pin;
use std::time::Duration;

use crate::{connected, disconnect, next_message, options, subscribe, text, url, within, Runtime};

const V5: ProtocolVersion = ProtocolVersion::V5;

/// A long bound: a response that does not come fails the scenario through `within` first.
const PATIENT: Duration = Duration::from_secs(30);

fn call(topic: &str, payload: &str) -> OutboundMessage {
    let topic = TopicName::new(topic).unwrap_or_else(|e| panic!("{topic}: {e}"));
    OutboundMessage::new(topic, payload.to_string(), QoS::AtLeastOnce)
}

/// Requests in flight together each get their own response (matched by Correlation Data),
/// all through one response topic, `rr/<client id>`; a request nobody answers fails with
/// `Timeout`; a request whose caller gave up does not take the response of the next one; and
/// on MQTT 3.1.1 a request is refused as unsupported.
pub async fn v5_requests_get_their_responses<R: Runtime>(rt: &R) {
    let broker = Mosquitto::plain().unwrap_or_else(|e| panic!("{e}"));
    let url = url(broker.port());
    let service = connected(rt, options(&url, &format!("rr-svc-{}", R::NAME), V5)).await;
    let mut calls = subscribe(&service, "rr-svc/double", QoS::AtLeastOnce).await;
    let id = format!("rr-cli-{}", R::NAME);
    let client = connected(rt, options(&url, &id, V5)).await;

    // The service doubles the number it is sent, answering with `Message::response`.
    let answer = |request: mqtt_client::Message| {
        let n: u64 = text(&request).parse().unwrap_or_else(|e| panic!("{e}"));
        request
            .response((2 * n).to_string(), QoS::AtLeastOnce)
            .unwrap_or_else(|| panic!("a request carries its Response Topic"))
    };
    let serve = async {
        let mut topics = BTreeSet::new();
        for _ in 0..3 {
            let request = next_message(&mut calls, "a request").await;
            let topic = request.response_topic();
            topics.insert(topic.map(|t| t.as_str().to_string()));
            within("the response published", async {
                service
                    .publish_message(answer(request))
                    .await?
                    .accepted()
                    .await
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        }
        topics
    };
    let ask = |n: u64| {
        let client = &client;
        async move {
            let response = within(
                "a response",
                client.request(call("rr-svc/double", &n.to_string()), PATIENT),
            )
            .await
            .unwrap_or_else(|e| panic!("request {n}: {e}"));
            text(&response)
        }
    };
    let (topics, responses) = future::join(serve, future::join3(ask(1), ask(2), ask(3))).await;
    assert_eq!(responses, ("2".into(), "4".into(), "6".into()));
    assert_eq!(
        topics,
        BTreeSet::from([Some(format!("rr/{id}"))]),
        "one response topic for every request"
    );

    // Nobody answers this one.
    let silent = client.request(call("rr-svc/nobody", "1"), Duration::from_millis(300));
    assert_eq!(
        within("the timeout", silent).await,
        Err(ClientError::Timeout)
    );

    // The caller gives up once the service has the request; the service answers it late.
    let mut abandoned = Box::pin(client.request(call("rr-svc/double", "10"), PATIENT));
    let request = match future::select(
        abandoned.as_mut(),
        pin!(next_message(&mut calls, "the abandoned request")),
    )
    .await
    {
        Either::Right((request, _)) => request,
        Either::Left((response, _)) => panic!("a response before the request: {response:?}"),
    };
    drop(abandoned);
    within("the late response", async {
        service
            .publish_message(answer(request))
            .await?
            .accepted()
            .await
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let next = async {
        let request = next_message(&mut calls, "the next request").await;
        within("its response", async {
            service
                .publish_message(answer(request))
                .await?
                .accepted()
                .await
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    };
    let (response, ()) = future::join(
        within(
            "the next response",
            client.request(call("rr-svc/double", "7"), PATIENT),
        ),
        next,
    )
    .await;
    let response = response.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(text(&response), "14", "its own response, not the late one");

    let old = connected(
        rt,
        options(&url, &format!("rr-311-{}", R::NAME), ProtocolVersion::V311),
    )
    .await;
    let refused = within(
        "a refusal",
        old.request(call("rr-svc/double", "1"), PATIENT),
    )
    .await;
    assert!(
        matches!(refused, Err(ClientError::Unsupported(_))),
        "{refused:?}"
    );

    disconnect(&old).await;
    disconnect(&client).await;
    disconnect(&service).await;
}
