//! Credentials that change (issue 24.4): a provider asked before every connection attempt,
//! through the public `Client`, against mosquitto with a password file rotated under it, and
//! against the scripted SCRAM server (the provider's password reaches the authenticator).

use mqtt_client::{
    Client, ConnectCredentials, ConnectionEvent, CredentialsError, Options, ScramSha256,
};
use mqtt_proto::{ProtocolVersion, QoS, ReasonCode};
use mqtt_session::DisconnectReason;
use mqtt_test_support::scram_broker::ScramBroker;
use mqtt_test_support::{FaultRelay, Mosquitto, Options as BrokerOptions};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use crate::{
    disconnect, next_event, next_message, options, publish, spawn, subscribe, text, url,
    wait_connected, Runtime,
};

/// A provider for tests: its first call fails when `fail_first` is set, then it gives
/// `(user, token)` with the token of the moment, counting its calls.
#[derive(Clone)]
struct Tokens {
    calls: Arc<AtomicU32>,
    token: Arc<Mutex<String>>,
}

impl Tokens {
    fn new(token: &str) -> Tokens {
        Tokens {
            calls: Arc::new(AtomicU32::new(0)),
            token: Arc::new(Mutex::new(token.to_string())),
        }
    }

    fn set(&self, token: &str) {
        *self.token.lock().unwrap() = token.to_string();
    }

    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }

    /// The provider: `plan(call number)` may answer instead of the token of the moment.
    fn provider(
        &self,
        user: &'static str,
        plan: fn(u32) -> Option<Result<ConnectCredentials, CredentialsError>>,
    ) -> impl mqtt_client::CredentialsProvider {
        let tokens = self.clone();
        move || {
            let call = tokens.calls.fetch_add(1, Ordering::SeqCst) + 1;
            let token = tokens.token.lock().unwrap().clone();
            async move {
                // An asynchronous provider: it gives way once, as a token service's request
                // would.
                futures::future::ready(()).await;
                plan(call).unwrap_or_else(|| Ok(ConnectCredentials::user_password(user, token)))
            }
        }
    }
}

fn passwd(file: &Path, user: &str, password: &str) {
    let status = std::process::Command::new("mosquitto_passwd")
        .arg("-b")
        .arg(file)
        .args([user, password])
        .status();
    if !matches!(status, Ok(s) if s.success()) {
        panic!("mosquitto_passwd failed ({status:?}); it ships with mosquitto: apt-get install -y mosquitto");
    }
}

/// The next connection event that is not about reconnect scheduling, for asserting on an
/// exact sequence.
async fn outcome(client: &Client, what: &str) -> ConnectionEvent {
    next_event(client, what, |e| match e {
        ConnectionEvent::ConnectFailed { .. }
        | ConnectionEvent::Connected { .. }
        | ConnectionEvent::Disconnected(DisconnectReason::Refused(..)) => Some(e.clone()),
        _ => None,
    })
    .await
}

/// The provider is asked before every connection attempt: a failing provider fails the
/// attempt (`ConnectFailed` with its error) and is asked again; a refused token is followed
/// by a fresh one; after the broker rotates its password (restarted with a new password
/// file), the reconnect carries the new token, with the same `Client` and its subscription.
pub async fn credentials_are_asked_for_before_every_connect<R: Runtime>(
    rt: &R,
    version: ProtocolVersion,
) {
    let dir = mqtt_test_support::TempDir::new(&format!("scenarios-cred-{}-{version}", R::NAME))
        .unwrap_or_else(|e| panic!("{e}"));
    let pwfile = dir.path().join("passwd");
    std::fs::write(&pwfile, "").unwrap();
    passwd(&pwfile, "alice", "token-1");
    let mut broker = Mosquitto::start(BrokerOptions {
        extra_config: vec![
            "allow_anonymous false".into(),
            format!("password_file {}", pwfile.display()),
        ],
        ..BrokerOptions::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));

    let tokens = Tokens::new("token-1");
    let mut opts = options(
        &url(broker.port()),
        &format!("cred-{}-{version}", R::NAME),
        version,
    )
    // Credentials in the options that the provider's replace.
    .credentials("alice", b"static-and-wrong")
    .unwrap()
    .credentials_provider(tokens.provider("alice", |call| match call {
        1 => Some(Err(CredentialsError("token service unavailable".into()))),
        2 => Some(Ok(ConnectCredentials::new().password("expired-token"))),
        _ => None,
    }));
    opts.session.backoff.retry_refused = true;
    let client = spawn(rt, opts);

    match outcome(&client, "the failed provider").await {
        ConnectionEvent::ConnectFailed { error, .. } => {
            assert!(error.contains("token service unavailable"), "{error}")
        }
        other => panic!("{version}: expected ConnectFailed, got {other:?}"),
    }
    // The second answer has no user name: the options' one goes with the expired token.
    match outcome(&client, "the refusal of the expired token").await {
        ConnectionEvent::Disconnected(DisconnectReason::Refused(code, _)) => assert!(
            matches!(
                code,
                ReasonCode::NotAuthorized | ReasonCode::BadUserNameOrPassword
            ),
            "{code:?}"
        ),
        other => panic!("{version}: expected a refusal, got {other:?}"),
    }
    match outcome(&client, "the CONNACK with token-1").await {
        ConnectionEvent::Connected { .. } => {}
        other => panic!("{version}: expected Connected, got {other:?}"),
    }
    assert_eq!(tokens.calls(), 3);
    let mut sub = subscribe(&client, "cred/#", QoS::AtLeastOnce).await;
    publish(&client, "cred/1", "one", QoS::AtLeastOnce).await;
    assert_eq!(
        text(&next_message(&mut sub, "the first message").await),
        "one"
    );

    // The broker rotates the password; the provider hands out the new token.
    std::fs::write(&pwfile, "").unwrap();
    passwd(&pwfile, "alice", "token-2");
    tokens.set("token-2");
    broker.restart().unwrap_or_else(|e| panic!("{e}"));
    next_event(&client, "the reconnect with token-2", |e| match e {
        ConnectionEvent::Connected { .. } => Some(()),
        ConnectionEvent::Disconnected(DisconnectReason::Refused(code, _)) => {
            panic!("{version}: the rotated token was refused: {code:?}")
        }
        _ => None,
    })
    .await;
    // Attempts made while the broker was down asked too.
    assert!(tokens.calls() >= 4, "{}", tokens.calls());
    publish(&client, "cred/2", "two", QoS::AtLeastOnce).await;
    assert_eq!(
        text(&next_message(&mut sub, "the second message").await),
        "two"
    );
    disconnect(&client).await;
}

/// With an authenticator, the provider's user name and password go to it: SCRAM-SHA-256 built
/// with a wrong password authenticates with the provider's, and after the server's password
/// changes and the connection is cut, the reconnect authenticates with the new one.
pub async fn the_authenticator_takes_the_providers_credentials<R: Runtime>(rt: &R) {
    const USER: &str = "scram-user";
    let broker = ScramBroker::start(USER, "pencil").unwrap_or_else(|e| panic!("{e}"));
    let relay =
        FaultRelay::start(([127, 0, 0, 1], broker.port()).into()).unwrap_or_else(|e| panic!("{e}"));
    let tokens = Tokens::new("pencil");
    let opts: Options = options(
        &url(relay.port()),
        &format!("cred-scram-{}", R::NAME),
        ProtocolVersion::V5,
    )
    .authenticator(ScramSha256::new(USER, "not-the-password"))
    .unwrap()
    .credentials_provider(tokens.provider(USER, |_| None));
    let client = spawn(rt, opts);
    wait_connected(&client).await;
    publish(&client, "scram/1", "x", QoS::AtLeastOnce).await;

    broker.set_password("pencil-2");
    tokens.set("pencil-2");
    relay.cut();
    next_event(
        &client,
        "the reconnect with the new password",
        |e| match e {
            ConnectionEvent::Connected { .. } => Some(()),
            ConnectionEvent::AuthenticationFailed(error) => {
                panic!("authentication failed: {error}")
            }
            ConnectionEvent::Disconnected(DisconnectReason::Refused(code, _)) => {
                panic!("refused: {code:?}")
            }
            _ => None,
        },
    )
    .await;
    assert!(tokens.calls() >= 2, "{}", tokens.calls());
    publish(&client, "scram/2", "x", QoS::AtLeastOnce).await;
    disconnect(&client).await;
}
