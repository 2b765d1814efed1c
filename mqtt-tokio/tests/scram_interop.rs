//! SCRAM-SHA-256 against a broker of another project that speaks it: the `mqtt5` crate's
//! broker, run as `mqttv5 broker` from `mqttv5-cli` (crates.io). mosquitto 2.0.11, the broker
//! of the other tests, has no SCRAM; the scenarios test every failure against a scripted
//! server, and this test checks that the client and an independent implementation agree.
//!
//! It is not part of the default run (`mqttv5-cli` is a large build of its own):
//!
//! ```text
//! cargo install mqttv5-cli --root /tmp/mqttv5        # or anywhere; then:
//! MQTTV5=/tmp/mqttv5/bin/mqttv5 cargo test -p mqtt-tokio --test scram_interop -- --ignored
//! ```
//!
//! Without the binary it fails with that command, never passes silently.
#![allow(clippy::unwrap_used, clippy::panic)]

use mqtt_tokio::{
    ClientError, ConnectionEvent, DisconnectReason, Options, ProtocolVersion, QoS, ReasonCode,
    ScramSha256,
};
use std::process::{Child, Command};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// The broker process, killed when dropped.
struct Broker(Child);

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn mqttv5() -> String {
    let bin = std::env::var("MQTTV5").unwrap_or_else(|_| "mqttv5".into());
    match Command::new(&bin).arg("--version").output() {
        Ok(out) if out.status.success() => bin,
        other => panic!(
            "no `mqttv5` at {bin:?} ({other:?}): cargo install mqttv5-cli --root /tmp/mqttv5 \
             and set MQTTV5=/tmp/mqttv5/bin/mqttv5"
        ),
    }
}

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
#[ignore = "needs `mqttv5` (cargo install mqttv5-cli); see the file's docs"]
fn scram_sha_256_against_the_mqtt5_broker() {
    let bin = mqttv5();
    let dir = mqtt_test_support::TempDir::new("scram-interop").unwrap();
    let credentials = dir.path().join("scram");
    // Its least accepted count is 10,000.
    let status = Command::new(&bin)
        .args(["scram", "-c", "-b", "pencil", "-i", "10000", "scramuser"])
        .arg(&credentials)
        .status()
        .unwrap();
    assert!(status.success(), "mqttv5 scram: {status}");
    let port = mqtt_test_support::free_port();
    let _broker = Broker(
        Command::new(&bin)
            .args(["broker", "-H", &format!("127.0.0.1:{port}")])
            .args(["--auth-method", "scram", "--scram-file"])
            .arg(&credentials)
            .args(["--allow-anonymous", "false", "--storage-backend", "memory"])
            .arg("--storage-dir")
            .arg(dir.path())
            .spawn()
            .unwrap(),
    );
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
            within("PUBACK", client.publish("interop/t", "x", QoS::AtLeastOnce))
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
                within("PUBACK", client.publish("interop/t", "y", QoS::AtLeastOnce))
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
