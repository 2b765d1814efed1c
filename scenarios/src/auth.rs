//! Credentials, and the server ending a connection with a reason.

use mqtt_client::{Client, ConnectionEvent, Options, Subscription};
use mqtt_proto::{ProtocolVersion, QoS, ReasonCode};
use mqtt_session::{DisconnectReason, ReconnectStop};
use mqtt_test_support::dynsec::{self, ADMIN_PASSWORD, ADMIN_USER, COMMAND_TOPIC, RESPONSE_TOPIC};
use mqtt_test_support::{Mosquitto, Options as BrokerOptions};

use crate::{
    connected, disconnect, next_event, next_message, options, publish, spawn, subscribe, text, url,
    Runtime,
};

/// The reason of the next refusal (CONNACK with an error code).
async fn refusal(client: &Client) -> ReasonCode {
    next_event(client, "the refusal", |e| match e {
        ConnectionEvent::Disconnected(DisconnectReason::Refused(code, _)) => Some(*code),
        ConnectionEvent::Connected { .. } => panic!("connected with wrong credentials"),
        _ => None,
    })
    .await
}

/// A broker that requires a password: the right one (from the URL) is accepted; a wrong one,
/// or none, is refused at every attempt and the client never connects. (mosquitto 2.0.11
/// answers a wrong password with "not authorized": v5 0x87, v3.1.1 return code 5, which maps
/// to it; "bad user name or password", 0x86 / 4, would be as right.)
pub async fn username_and_password<R: Runtime>(rt: &R, version: ProtocolVersion) {
    let dir = mqtt_test_support::TempDir::new(&format!("scenarios-pw-{}-{version}", R::NAME))
        .unwrap_or_else(|e| panic!("{e}"));
    let pwfile = dir.path().join("passwd");
    let status = std::process::Command::new("mosquitto_passwd")
        .args(["-b", "-c"])
        .arg(&pwfile)
        .args(["alice", "s3cret"])
        .status();
    if !matches!(status, Ok(s) if s.success()) {
        panic!("mosquitto_passwd failed ({status:?}); it ships with mosquitto: apt-get install -y mosquitto");
    }
    let broker = Mosquitto::start(BrokerOptions {
        extra_config: vec![
            "allow_anonymous false".into(),
            format!("password_file {}", pwfile.display()),
        ],
        ..BrokerOptions::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    // The password file is read at start.
    drop(dir);

    let good_url = format!("mqtt://alice:s3cret@127.0.0.1:{}", broker.port());
    let client = connected(
        rt,
        options(&good_url, &format!("pw-ok-{}", R::NAME), version),
    )
    .await;
    let mut sub = subscribe(&client, "pw/#", QoS::AtLeastOnce).await;
    publish(&client, "pw/t", "x", QoS::AtLeastOnce).await;
    assert_eq!(text(&next_message(&mut sub, "the message").await), "x");
    disconnect(&client).await;

    let mut bad = options(&url(broker.port()), &format!("pw-bad-{}", R::NAME), version)
        .credentials("alice", b"wrong")
        .unwrap();
    // A refusal of the credentials stops reconnecting unless the policy asks for retries.
    bad.session.backoff.retry_refused = true;
    let client = spawn(rt, bad);
    let is_credentials_refusal = |code: ReasonCode| {
        matches!(
            code,
            ReasonCode::NotAuthorized | ReasonCode::BadUserNameOrPassword
        )
    };
    let code = refusal(&client).await;
    assert!(is_credentials_refusal(code), "{version}: {code:?}");
    // It keeps trying (with backoff) and keeps being refused.
    let code = refusal(&client).await;
    assert!(is_credentials_refusal(code), "{version}: {code:?}");
    disconnect(&client).await;

    // No credentials at all on a broker that wants them.
    let anonymous = options(
        &url(broker.port()),
        &format!("pw-anon-{}", R::NAME),
        version,
    );
    let client = spawn(rt, anonymous);
    let code = refusal(&client).await;
    assert!(is_credentials_refusal(code), "{version}: {code:?}");
    // By default a refusal that retrying cannot change is reported, and not retried.
    let stopped = next_event(&client, "the stop", |e| match e {
        ConnectionEvent::ReconnectStopped(ReconnectStop::Refused(stopped)) => Some(*stopped),
        ConnectionEvent::Disconnected(DisconnectReason::Refused(_, _)) => {
            panic!("refused credentials were tried again")
        }
        _ => None,
    })
    .await;
    assert_eq!(stopped, code);
    let again = crate::first_within(std::time::Duration::from_millis(500), async {
        while let Some(event) = client.next_event().await {
            if matches!(event, ConnectionEvent::Disconnected(_)) {
                return event;
            }
        }
        ConnectionEvent::Stopped
    })
    .await;
    assert!(again.is_none(), "tried again: {again:?}");
    disconnect(&client).await;
}

/// Sends one command to mosquitto's dynamic-security plugin and expects it to succeed.
pub(crate) async fn dynsec_command(admin: &Client, responses: &mut Subscription, command: &str) {
    publish(
        admin,
        COMMAND_TOPIC,
        format!(r#"{{"commands":[{command}]}}"#),
        QoS::AtLeastOnce,
    )
    .await;
    let answer = text(&next_message(responses, "the dynamic-security answer").await);
    assert!(
        answer.contains(r#""responses""#) && !answer.contains(r#""error""#),
        "{command} -> {answer}"
    );
}

/// The server ends the connection with a reason, through the real broker. mosquitto 2.0.11
/// sends DISCONNECT to a v5 client that broke no rule in one case found: an administrator
/// disables its client in the dynamic-security plugin (0x98 Administrative action). (A second
/// client taking the session over, a keep-alive timeout and a broker shutdown only close the
/// socket; its other DISCONNECTs answer protocol violations — QoS or retain not supported,
/// topic alias invalid, packet too large — that this client's session never commits.)
///
/// v5: the client reports `Disconnected(Server(AdministrativeAction, ..))`; v3.1.1 has no
/// server DISCONNECT, so the same action is a closed transport. Either way the disabled
/// client's next attempts are refused.
pub async fn server_disconnect_reason<R: Runtime>(rt: &R, version: ProtocolVersion) {
    let broker =
        dynsec::dynsec_broker(&format!("{}-{version}", R::NAME)).unwrap_or_else(|e| panic!("{e}"));
    let url = url(broker.broker.port());
    let admin_options = |id: &str| -> Options {
        options(&url, id, ProtocolVersion::V5)
            .credentials(ADMIN_USER, ADMIN_PASSWORD.as_bytes())
            .unwrap()
    };
    let admin = connected(rt, admin_options(&format!("admin-{}", R::NAME))).await;
    let mut responses = subscribe(&admin, RESPONSE_TOPIC, QoS::AtLeastOnce).await;
    dynsec_command(
        &admin,
        &mut responses,
        r#"{"command":"createClient","username":"bob","password":"bob-pw"}"#,
    )
    .await;

    let mut bob_options = options(&url, &format!("bob-{}", R::NAME), version)
        .credentials("bob", b"bob-pw")
        .unwrap();
    // Reconnects come quickly, so the refusal after the kick is seen soon; refusals are
    // retried, so the client comes back once it is enabled again.
    bob_options.session.backoff.max = std::time::Duration::from_millis(200);
    bob_options.session.backoff.retry_refused = true;
    let bob = connected(rt, bob_options).await;

    dynsec_command(
        &admin,
        &mut responses,
        r#"{"command":"disableClient","username":"bob"}"#,
    )
    .await;
    let reason = next_event(
        &bob,
        "the end of the disabled client's connection",
        |e| match e {
            ConnectionEvent::Disconnected(reason) => Some(reason.clone()),
            _ => None,
        },
    )
    .await;
    match version {
        ProtocolVersion::V5 => assert!(
            matches!(
                reason,
                DisconnectReason::Server(ReasonCode::AdministrativeAction, _)
            ),
            "{reason:?}"
        ),
        _ => assert_eq!(reason, DisconnectReason::TransportClosed),
    }
    // Disabled: coming back is refused.
    let refused = next_event(&bob, "the refusal of the disabled client", |e| match e {
        ConnectionEvent::Disconnected(DisconnectReason::Refused(code, _)) => Some(*code),
        ConnectionEvent::Connected { .. } => panic!("a disabled client connected again"),
        _ => None,
    })
    .await;
    assert!(refused.is_error(), "{refused:?}");

    // Enabled again, the client comes back by itself (it kept trying with backoff).
    dynsec_command(
        &admin,
        &mut responses,
        r#"{"command":"enableClient","username":"bob"}"#,
    )
    .await;
    next_event(&bob, "the enabled client's reconnection", |e| {
        matches!(e, ConnectionEvent::Connected { .. }).then_some(())
    })
    .await;
    disconnect(&bob).await;
    disconnect(&admin).await;
}
