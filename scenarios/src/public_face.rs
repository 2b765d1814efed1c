//! The public face of a driver crate: [`public_face!`](crate::public_face) expands, in a
//! driver's test, to an exchange with a broker in which every type a user names is written as
//! a path of that driver crate (`mqtt_tokio::Message`, `mqtt_smol::Message`, ...), so that a
//! type the crate does not re-export fails to compile.

/// Defines `async fn exchange(url: &str, version: $face::ProtocolVersion)`: connects, subscribes,
/// publishes with v5 properties and without, receives both, meets the errors a user matches on,
/// and disconnects; every type spelt `$face::...`. Every wait is bounded
/// ([`within`](crate::within)).
#[macro_export]
macro_rules! public_face {
    ($face:ident) => {
        /// One exchange through the public face, every type named by a `$face` path.
        async fn exchange(url: &str, version: $face::ProtocolVersion) {
            use $crate::within;
            let will_topic: $face::TopicName = $face::TopicName::new("face/will").unwrap();
            let will: $face::Will = $face::Will::new(will_topic, $face::Bytes::from("gone"));
            let options: $face::Options = $face::Options::new(url, &format!("face-{version:?}"))
                .unwrap()
                .protocol_version(version)
                .will(will);
            let config: &$face::Config = &options.session;
            let backoff: &$face::Backoff = &config.backoff;
            assert!(backoff.enabled);
            let _policy: $face::QueueFullPolicy = config.queue_full;
            let provider: Option<&std::sync::Arc<$face::rustls::crypto::CryptoProvider>> =
                $face::rustls::crypto::CryptoProvider::get_default();
            let _tls: $face::TlsOptions = match provider {
                Some(provider) => $face::TlsOptions::new().crypto_provider(provider.clone()),
                None => $face::TlsOptions::new(),
            };
            let client: $face::Client = $face::spawn(options).unwrap();
            let events: $face::ConnectionEvents = client.events();
            let event: $face::ConnectionEvent = within("CONNACK", events.recv()).await.unwrap();
            let $face::ConnectionEvent::Connected { limits, .. } = event else {
                panic!("{event:?}");
            };
            let limits: Box<$face::ServerLimits> = limits;
            assert_eq!(limits.maximum_qos, $face::QoS::ExactlyOnce, "{limits:?}");

            let filter: $face::TopicFilter = $face::TopicFilter::new("face/t/#").unwrap();
            let mut wanted: $face::SubscribeFilter =
                $face::SubscribeFilter::new(filter, $face::QoS::ExactlyOnce);
            let subscription_options: &mut $face::SubscriptionOptions = &mut wanted.options;
            subscription_options.retain_handling = $face::RetainHandling::DoNotSend;
            let properties: $face::SubscribeProperties = Default::default();
            let mut subscription: $face::Subscription =
                within("SUBACK", client.subscribe_many(vec![wanted], properties))
                    .await
                    .unwrap();
            let results: &[Result<$face::QoS, $face::ReasonCode>] = subscription.results();
            assert_eq!(results, [Ok($face::QoS::ExactlyOnce)]);

            // A publish built in full, with v5 properties (3.1.1 leaves them out).
            let topic: $face::TopicName = $face::TopicName::new("face/t/full").unwrap();
            let mut message: $face::OutboundMessage = $face::OutboundMessage::new(
                topic,
                $face::Bytes::from_static(b"full"),
                $face::QoS::AtLeastOnce,
            );
            let properties: &mut $face::PublishProperties = &mut message.properties;
            properties.payload_format_indicator = Some($face::PayloadFormat::Utf8);
            let content_type: $face::MqttString = $face::MqttString::new("text/plain").unwrap();
            properties.set_content_type(Some(content_type)).unwrap();
            let mut users: $face::UserProperties = $face::UserProperties::new();
            let user: $face::UserProperty = $face::UserProperty {
                key: $face::MqttString::new("k").unwrap(),
                value: $face::MqttString::new("v").unwrap(),
            };
            users.push(user).unwrap();
            properties.set_user_properties(users).unwrap();
            let mut handle: $face::PublishHandle =
                within("queueing", client.publish_message(message))
                    .await
                    .unwrap();
            let (id, packet_id): ($face::PublishId, Option<$face::PacketId>) =
                within("acceptance", handle.accepted()).await.unwrap();
            assert!(packet_id.is_some());
            let done: $face::PublishDone = within("PUBACK", handle).await.unwrap();
            assert_eq!((done.id, done.packet_id), (id, packet_id));
            assert_eq!(done.reason_code, $face::ReasonCode::Success);

            // The easiest call.
            let handle: $face::PublishHandle = within(
                "queueing",
                client.publish("face/t/easy", "easy", $face::QoS::ExactlyOnce),
            )
            .await
            .unwrap();
            let done: $face::PublishDone = within("PUBCOMP", handle.completed()).await.unwrap();
            assert!(done.packet_id.is_some());

            for expected in ["full", "easy"] {
                let delivery: $face::Delivery =
                    within("a message", subscription.next()).await.unwrap();
                let $face::Delivery::Message(received) = delivery else {
                    panic!("{delivery:?}");
                };
                let received: $face::Message = received;
                assert_eq!(received.payload(), &$face::Bytes::from(expected));
                let publish: &$face::Publish = received.publish();
                let _qos_pid: $face::QosPid = publish.qos_pid;
                let _token: Option<$face::AckToken> = received.ack_token();
                let identifiers: $face::SubscriptionIdentifiers =
                    received.subscription_identifiers();
                let _first: Option<$face::SubscriptionIdentifier> = identifiers.iter().next();
                let _format: Option<$face::PayloadFormat> = received.payload_format_indicator();
                if expected == "full" && version == $face::ProtocolVersion::V5 {
                    let content_type: Option<$face::MqttString> = received.content_type();
                    assert_eq!(content_type.as_deref(), Some("text/plain"));
                    assert_eq!(received.user_properties().collect::<Vec<_>>(), [("k", "v")]);
                }
            }

            // The errors a user matches on, each named.
            let refused = within(
                "a refused publish",
                client.publish("face/+", "x", $face::QoS::AtMostOnce),
            )
            .await
            .unwrap_err();
            let refused: $face::ClientError = refused;
            let $face::ClientError::Session(session_error) = refused else {
                panic!("{refused:?}");
            };
            let session_error: $face::SessionError = session_error;
            assert!(
                matches!(session_error, $face::SessionError::Invalid(_)),
                "{session_error:?}"
            );
            let packet_error: $face::PacketError = $face::TopicName::new("a/+").unwrap_err();
            let encode_error: $face::EncodeError = packet_error.into();
            assert_eq!(
                $face::SessionError::from(encode_error.clone()),
                $face::SessionError::Invalid(encode_error)
            );
            let options_error: $face::OptionsError =
                $face::Options::new("nope://127.0.0.1", "x").unwrap_err();
            assert!(!options_error.to_string().is_empty());
            fn describe(error: &$face::ClientError) -> Option<String> {
                match error {
                    $face::ClientError::PublishFailed(failure) => {
                        let failure: &$face::PublishFailure = failure;
                        Some(format!("{failure:?}"))
                    }
                    $face::ClientError::Disconnected(reason) => {
                        let reason: &$face::DisconnectReason = reason;
                        Some(reason.to_string())
                    }
                    _ => None,
                }
            }
            assert_eq!(describe(&$face::ClientError::Closed), None);
            let stop: $face::ReconnectStop = $face::ReconnectStop::Disabled;
            assert!(!stop.to_string().is_empty());

            within("the disconnect", client.disconnect()).await.unwrap();
        }
    };
}
