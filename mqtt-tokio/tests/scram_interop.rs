//! SCRAM-SHA-256 against a broker of another project that speaks it: the `mqtt5` crate's
//! broker (`test-support/mqtt5-broker`, built by `scripts/interop-brokers.sh`, which
//! scripts/test.sh runs). mosquitto 2.0.11, the broker of the other tests, has no SCRAM; the
//! scenarios test every failure against a scripted server, and this test checks that the
//! client and an independent implementation agree. Without the broker it fails with the
//! command that builds it.
#![allow(clippy::unwrap_used, clippy::panic)]

use mqtt_tokio::{
    ClientError, ConnectionEvent, DisconnectReason, Options, ProtocolVersion, QoS, ReasonCode,
    ScramSha256,
};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

fn options(port: u16, id: &str, password: &str) -> Options {
    let mut options = Options::new(&format!("mqtt://127.0.0.1:{port}"), id)
        .unwrap()
        .protocol_version(ProtocolVersion::V5)
        .authenticator(ScramSha256::new("scramuser", password))
        .unwrap();
    options.session.backoff.initial = Duration::from_millis(50);
    options
}

#[test]
fn scram_sha_256_against_the_mqtt5_broker() {
    let broker = mqtt_test_support::interop::mqtt5_scram("scramuser", "pencil")
        .unwrap_or_else(|e| panic!("{e}"));
    let port = broker.port();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async move {
            within("the broker's listener", async {
                while tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_err()
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
            .await;

            // The exchange at CONNECT, the server's signature checked; the connection works.
            let client = mqtt_tokio::spawn(options(port, "interop-ok", "pencil")).unwrap();
            within("CONNACK", async {
                loop {
                    match client.next_event().await.unwrap() {
                        ConnectionEvent::Connected { .. } => break,
                        ConnectionEvent::AuthenticationFailed(e) => panic!("{e}"),
                        ConnectionEvent::Disconnected(reason) => panic!("{reason}"),
                        _ => {}
                    }
                }
            })
            .await;
            let mut sub = within("SUBACK", client.subscribe("interop/#", QoS::AtLeastOnce))
                .await
                .unwrap();
            within("PUBACK", async {
                client
                    .publish("interop/t", "x", QoS::AtLeastOnce)
                    .await?
                    .await
            })
            .await
            .unwrap();
            let message = within("the message", sub.next_message()).await.unwrap();
            assert_eq!(&message.payload()[..], b"x");
            // Re-authentication on the open connection (AUTH 0x19, 0x18, 0x00), twice; the
            // connection goes on.
            for _ in 0..2 {
                within("the re-authentication", client.reauthenticate())
                    .await
                    .unwrap();
                within("PUBACK", async {
                    client
                        .publish("interop/t", "y", QoS::AtLeastOnce)
                        .await?
                        .await
                })
                .await
                .unwrap();
            }
            within("DISCONNECT", client.disconnect()).await.unwrap();

            // A wrong password: refused by the server.
            let client = mqtt_tokio::spawn(options(port, "interop-bad", "wrong")).unwrap();
            let reason = within("the refusal", async {
                loop {
                    match client.next_event().await.unwrap() {
                        ConnectionEvent::Disconnected(reason) => break reason,
                        ConnectionEvent::Connected { .. } => panic!("connected"),
                        _ => {}
                    }
                }
            })
            .await;
            println!("the mqtt5 broker refused a wrong password with: {reason}");
            assert!(
                matches!(
                    reason,
                    DisconnectReason::Refused(
                        ReasonCode::NotAuthorized | ReasonCode::BadUserNameOrPassword,
                        _
                    )
                ),
                "{reason:?}"
            );
            let _: Result<(), ClientError> = within("DISCONNECT", client.disconnect()).await;
        });
}
