//! v5 enhanced authentication with SCRAM-SHA-256 (section 4.12), through the public `Client`,
//! against the scripted SCRAM server of `mqtt-test-support` (mosquitto here has no SCRAM):
//! the exchange at CONNECT, re-authentication on demand, and each way the server's side can
//! fail.

use mqtt_client::{AuthError, ClientError, ConnectionEvent, Options, ScramSha256};
use mqtt_proto::{ProtocolVersion, QoS, ReasonCode, TopicName};
use mqtt_session::{DisconnectReason, OutboundMessage, ProtocolViolation, ReconnectStop};
use mqtt_test_support::scram_broker::{ScramBroker, Script};

use crate::{
    connected, disconnect, next_event, options, publish, spawn, until, url, wait_connected, within,
    Runtime,
};

const USER: &str = "scram-user";
const PASSWORD: &str = "pencil";

fn broker() -> ScramBroker {
    ScramBroker::start(USER, PASSWORD).unwrap_or_else(|e| panic!("{e}"))
}

fn scram_options<R: Runtime>(broker: &ScramBroker, id: &str, password: &str) -> Options {
    options(
        &url(broker.port()),
        &format!("{id}-{}", R::NAME),
        ProtocolVersion::V5,
    )
    .authenticator(ScramSha256::new(USER, password))
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Waits until the first DISCONNECT packets the server read have these reason codes (it
/// records them on its own thread; a reconnect may add more after them).
async fn disconnects(broker: &ScramBroker, expected: &[ReasonCode]) {
    until("the DISCONNECT at the server", || {
        broker
            .seen()
            .disconnects
            .starts_with(expected)
            .then_some(())
    })
    .await;
}

/// The events of an exchange the client found failed, up to the reconnect decision: the
/// failure, then `Disconnected(AuthenticationFailed(0x87))`; never `Connected`.
async fn failure(client: &mqtt_client::Client) -> AuthError {
    let error = next_event(client, "the authentication failure", |e| match e {
        ConnectionEvent::AuthenticationFailed(error) => Some(error.clone()),
        ConnectionEvent::Connected { .. } => panic!("connected to a server that failed"),
        _ => None,
    })
    .await;
    next_event(client, "the disconnection", |e| match e {
        ConnectionEvent::Disconnected(reason) => {
            assert_eq!(
                reason,
                &DisconnectReason::AuthenticationFailed(ReasonCode::NotAuthorized)
            );
            Some(())
        }
        other => panic!("{other:?}"),
    })
    .await;
    error
}

/// SCRAM-SHA-256 at CONNECT [MQTT-4.12.0-3], [MQTT-4.12.0-5]: the client answers the
/// server's challenge and checks its signature in CONNACK; the connection then works.
/// `Client::reauthenticate` runs a new exchange on the open connection (AUTH 0x19, 0x18,
/// 0x00) [MQTT-4.12.1-1] while traffic goes on, as often as asked.
pub async fn scram_sha_256_authenticates_and_reauthenticates<R: Runtime>(rt: &R) {
    let broker = broker();
    let client = connected(rt, scram_options::<R>(&broker, "scram-ok", PASSWORD)).await;
    publish(&client, "scram/t", "before", QoS::AtLeastOnce).await;
    for _ in 0..2 {
        within("the re-authentication", client.reauthenticate())
            .await
            .unwrap_or_else(|e| panic!("re-authenticating: {e}"));
        publish(&client, "scram/t", "after", QoS::ExactlyOnce).await;
    }
    let seen = broker.seen();
    assert_eq!(
        (seen.connects, seen.reauthentications, seen.accepted),
        (1, 2, 3),
        "{seen:?}"
    );
    disconnect(&client).await;
    disconnects(&broker, &[ReasonCode::Success]).await;
}

/// The server's side fails at CONNECT: a wrong server signature in CONNACK, a server nonce
/// that does not extend the client's, a server-first that is not SCRAM. Each time the client
/// closes with DISCONNECT 0x87 Not authorized (section 4.12), reports why, never reports the
/// connection as up, sends nothing else to that server (a publish queued before stays
/// queued), and stops reconnecting as after a refusal with 0x87; `Client::reconnect` tries
/// again, and succeeds once the server is honest.
pub async fn scram_sha_256_connect_failures<R: Runtime>(rt: &R) {
    for (script, expected) in [
        (Script::WrongSignature, AuthError::ServerNotVerified),
        (Script::BadNonce, AuthError::Nonce),
        (
            Script::MalformedServerFirst,
            AuthError::Malformed("server-first has no nonce (r=)"),
        ),
    ] {
        let broker = broker();
        broker.set_script(script);
        let client = spawn(rt, scram_options::<R>(&broker, "scram-bad", PASSWORD));
        let topic = TopicName::new("scram/queued").unwrap();
        let queued = client
            .publish_message(OutboundMessage::new(topic, "held", QoS::AtLeastOnce))
            .await
            .unwrap();
        assert_eq!(failure(&client).await, expected, "{script:?}");
        next_event(&client, "the stop", |e| match e {
            ConnectionEvent::ReconnectStopped(stop) => {
                assert_eq!(stop, &ReconnectStop::Refused(ReasonCode::NotAuthorized));
                Some(())
            }
            ConnectionEvent::Reconnecting { .. } => panic!("{script:?}: reconnecting"),
            _ => None,
        })
        .await;
        disconnects(&broker, &[ReasonCode::NotAuthorized]).await;
        let seen = broker.seen();
        assert_eq!(seen.publishes, 0, "{script:?}: nothing sent to that server");

        broker.set_script(Script::Honest);
        client.reconnect().await.unwrap();
        wait_connected(&client).await;
        within("the queued publish", queued).await.unwrap();
        assert_eq!(broker.seen().publishes, 1);
        disconnect(&client).await;
    }
}

/// The server refuses the client's proof (a wrong password): CONNACK 0x87 Not authorized
/// [MQTT-4.12.0-4], reported as the refusal it is; no reconnecting.
pub async fn scram_sha_256_wrong_password_is_refused<R: Runtime>(rt: &R) {
    let broker = broker();
    let client = spawn(rt, scram_options::<R>(&broker, "scram-pw", "not-pencil"));
    next_event(&client, "the refusal", |e| match e {
        ConnectionEvent::Disconnected(reason) => {
            assert!(
                matches!(
                    reason,
                    DisconnectReason::Refused(ReasonCode::NotAuthorized, _)
                ),
                "{reason:?}"
            );
            Some(())
        }
        ConnectionEvent::AuthenticationFailed(e) => panic!("{e}"),
        ConnectionEvent::Connected { .. } => panic!("connected with a wrong password"),
        _ => None,
    })
    .await;
    next_event(&client, "the stop", |e| match e {
        ConnectionEvent::ReconnectStopped(stop) => {
            assert_eq!(stop, &ReconnectStop::Refused(ReasonCode::NotAuthorized));
            Some(())
        }
        _ => None,
    })
    .await;
    assert_eq!(broker.seen().accepted, 0);
    disconnect(&client).await;
}

/// A re-authentication that fails [MQTT-4.12.1-2]: when the server's signature is wrong the
/// client closes with DISCONNECT 0x87 and `reauthenticate` says why (then it reconnects with a
/// full exchange, as after any lost connection); when the server refuses (the password was
/// changed) its DISCONNECT 0x87 ends the connection and `reauthenticate` reports it.
pub async fn scram_sha_256_reauthentication_failures<R: Runtime>(rt: &R) {
    let broker = broker();
    let client = connected(rt, scram_options::<R>(&broker, "scram-re", PASSWORD)).await;

    broker.set_script(Script::WrongSignature);
    let outcome = within("the re-authentication", client.reauthenticate()).await;
    assert_eq!(
        outcome,
        Err(ClientError::Auth(AuthError::ServerNotVerified))
    );
    assert_eq!(failure(&client).await, AuthError::ServerNotVerified);
    disconnects(&broker, &[ReasonCode::NotAuthorized]).await;
    next_event(&client, "the reconnect", |e| {
        matches!(e, ConnectionEvent::Reconnecting { .. }).then_some(())
    })
    .await;
    // The connection after it runs the whole exchange again, and fails the same check.
    assert_eq!(failure(&client).await, AuthError::ServerNotVerified);

    broker.set_script(Script::Honest);
    client.reconnect().await.unwrap();
    wait_connected(&client).await;
    broker.set_password("changed");
    let outcome = within("the refused re-authentication", client.reauthenticate()).await;
    match outcome {
        Err(ClientError::Disconnected(DisconnectReason::Server(ReasonCode::NotAuthorized, _))) => {}
        other => panic!("{other:?}"),
    }
    disconnect(&client).await;
}

/// Once connected, a server never starts an exchange (section 4.12.1; [MQTT-4.12.0-2] for
/// its reason code): an AUTH the client did not ask for is a protocol error, DISCONNECT 0x82,
/// reported with the rule broken; the client reconnects as after any protocol error.
pub async fn scram_sha_256_an_auth_nobody_asked_for_is_a_protocol_error<R: Runtime>(rt: &R) {
    let broker = broker();
    broker.set_script(Script::ChallengeAfterConnack);
    let client = spawn(rt, scram_options::<R>(&broker, "scram-unasked", PASSWORD));
    wait_connected(&client).await;
    next_event(&client, "the protocol error", |e| match e {
        ConnectionEvent::Disconnected(reason) => {
            assert_eq!(
                reason,
                &DisconnectReason::ProtocolError(
                    ReasonCode::ProtocolError,
                    ProtocolViolation::AuthReason(ReasonCode::ContinueAuthentication)
                )
            );
            Some(())
        }
        _ => None,
    })
    .await;
    disconnects(&broker, &[ReasonCode::ProtocolError]).await;
    broker.set_script(Script::Honest);
    next_event(&client, "the next connection", |e| {
        matches!(e, ConnectionEvent::Connected { .. }).then_some(())
    })
    .await;
    disconnect(&client).await;
}
