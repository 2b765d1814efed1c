//! The embassy driver against a real mosquitto, over embassy-net on a TAP device in a network
//! namespace each test makes for itself (see `support`). Needs root.

#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use embassy_net::{IpEndpoint, Stack};
use mqtt_embassy::{Client, Config, Error, Growable, QoS, Tables};
use mqtt_proto::{MqttString, ProtocolVersion};
use mqtt_test_support::mosquitto::{Mosquitto, Options};
use support::{BROKER_ADDRESS, BROKER_PORT};

/// mosquitto listening on the TAP device's host address too (its own loopback listener is
/// where the test's mosquitto_sub connects).
fn broker() -> Mosquitto {
    Mosquitto::start(Options {
        extra_config: vec![
            format!("listener {BROKER_PORT} {BROKER_ADDRESS}"),
            "queue_qos0_messages true".into(),
        ],
        persistence: false,
    })
    .unwrap()
}

fn config(client_id: &'static str, version: ProtocolVersion) -> Config {
    let mut config = Config::new(version, MqttString::try_from(client_id).unwrap());
    config.keep_alive = core::time::Duration::from_secs(5);
    config
}

/// A client with socket buffers leaked for the test's lifetime (the example uses statics), on
/// the session tables `T` with an inbox of `INBOX` messages.
fn client<T: Tables, const INBOX: usize>(
    stack: Stack<'static>,
    config: Config,
) -> Client<'static, T, INBOX> {
    let rx: &'static mut [u8] = Box::leak(vec![0; 2048].into_boxed_slice());
    let tx: &'static mut [u8] = Box::leak(vec![0; 2048].into_boxed_slice());
    let broker = IpEndpoint::new(BROKER_ADDRESS.into(), BROKER_PORT);
    Client::new(stack, rx, tx, broker, config).unwrap()
}

/// mosquitto_sub makes a persistent session that queues what the device publishes, so the
/// check does not race the device: it subscribes (and exits), the device publishes, and a
/// second mosquitto_sub with the same session takes what was queued.
fn verifier_subscribes(broker: &Mosquitto, filter: &str) {
    let port = broker.port().to_string();
    support::mosquitto_tool(
        "mosquitto_sub",
        &[
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-i",
            "verifier",
            "-c",
            "-q",
            "2",
            "-t",
            filter,
            "-E",
        ],
    );
}

fn verifier_takes(broker: &Mosquitto, filter: &str, count: usize) -> String {
    let port = broker.port().to_string();
    let count = count.to_string();
    support::mosquitto_tool(
        "mosquitto_sub",
        &[
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-i",
            "verifier",
            "-c",
            "-q",
            "2",
            "-t",
            filter,
            "-v",
            "-C",
            &count,
            "-W",
            "20",
        ],
    )
}

async fn publishes_and_receives<T: Tables>(
    stack: Stack<'static>,
    version: ProtocolVersion,
) -> Result<(), String> {
    let mut client = client::<T, 4>(stack, config("embassy-device", version));
    client
        .connect()
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let granted = client
        .subscribe("embassy/echo/#", QoS::ExactlyOnce)
        .await
        .map_err(|e| format!("subscribe: {e}"))?;
    if granted != QoS::ExactlyOnce {
        return Err(format!("granted {granted:?}"));
    }
    for (qos, topic) in [
        (QoS::AtMostOnce, "embassy/echo/qos0"),
        (QoS::AtLeastOnce, "embassy/echo/qos1"),
        (QoS::ExactlyOnce, "embassy/echo/qos2"),
    ] {
        client
            .publish(topic, topic.as_bytes(), qos)
            .await
            .map_err(|e| format!("publish {topic}: {e}"))?;
    }
    let mut topics = Vec::new();
    for _ in 0..3 {
        let message = client
            .next_message()
            .await
            .map_err(|e| format!("next_message: {e}"))?;
        let topic = message.publish.topic.to_string();
        if message.publish.payload.as_ref() != topic.as_bytes() {
            return Err(format!("{topic} carried {:?}", message.publish.payload));
        }
        topics.push(topic);
    }
    topics.sort();
    if topics
        != [
            "embassy/echo/qos0",
            "embassy/echo/qos1",
            "embassy/echo/qos2",
        ]
    {
        return Err(format!("received {topics:?}"));
    }
    client
        .disconnect()
        .await
        .map_err(|e| format!("disconnect: {e}"))?;
    if client.connections() != 1 {
        return Err(format!("{} connections", client.connections()));
    }
    Ok(())
}

fn publish_and_receive_at_each_qos<T: Tables>(name: &str, version: ProtocolVersion) {
    support::in_namespace(name, || {
        let broker = broker();
        verifier_subscribes(&broker, "embassy/echo/#");
        support::run_embassy(embassy_time::Duration::from_secs(60), |stack| {
            Box::pin(publishes_and_receives::<T>(stack, version))
        });
        let seen = verifier_takes(&broker, "embassy/echo/#", 3);
        for line in [
            "embassy/echo/qos0 embassy/echo/qos0",
            "embassy/echo/qos1 embassy/echo/qos1",
            "embassy/echo/qos2 embassy/echo/qos2",
        ] {
            assert!(
                seen.lines().any(|l| l == line),
                "mosquitto_sub saw {seen:?}"
            );
        }
    });
}

#[test]
fn publishes_at_each_qos_and_receives_its_subscription_v5() {
    publish_and_receive_at_each_qos::<mqtt_embassy::DefaultTables>(
        "publishes_at_each_qos_and_receives_its_subscription_v5",
        ProtocolVersion::V5,
    );
}

#[test]
fn publishes_at_each_qos_and_receives_its_subscription_v311() {
    publish_and_receive_at_each_qos::<mqtt_embassy::DefaultTables>(
        "publishes_at_each_qos_and_receives_its_subscription_v311",
        ProtocolVersion::V311,
    );
}

#[test]
fn publishes_at_each_qos_and_receives_its_subscription_v5_growable() {
    publish_and_receive_at_each_qos::<Growable>(
        "publishes_at_each_qos_and_receives_its_subscription_v5_growable",
        ProtocolVersion::V5,
    );
}

#[test]
fn publishes_at_each_qos_and_receives_its_subscription_v311_growable() {
    publish_and_receive_at_each_qos::<Growable>(
        "publishes_at_each_qos_and_receives_its_subscription_v311_growable",
        ProtocolVersion::V311,
    );
}

/// With an inbox of one message, messages that arrive while it is full wait in the session,
/// and the client stops reading; each is handed over once, in order.
async fn an_inbox_of_one_loses_nothing(stack: Stack<'static>) -> Result<(), String> {
    let mut client = client::<mqtt_embassy::DefaultTables, 1>(
        stack,
        config("embassy-inbox", ProtocolVersion::V5),
    );
    client
        .connect()
        .await
        .map_err(|e| format!("connect: {e}"))?;
    client
        .subscribe("embassy/inbox/#", QoS::AtLeastOnce)
        .await
        .map_err(|e| format!("subscribe: {e}"))?;
    let topics = ["embassy/inbox/0", "embassy/inbox/1", "embassy/inbox/2"];
    let mut received = Vec::new();
    let mut inbox_full = 0;
    for topic in topics {
        match client
            .publish(topic, topic.as_bytes(), QoS::AtLeastOnce)
            .await
        {
            Ok(()) => {}
            // The echo of an earlier publish fills the inbox before this one's PUBACK is
            // taken: the publish stays in flight in the session, and taking the message
            // lets the client read again.
            Err(Error::InboxFull) => {
                inbox_full += 1;
                let message = client
                    .next_message()
                    .await
                    .map_err(|e| format!("next_message: {e}"))?;
                received.push(message.publish.topic.to_string());
            }
            Err(e) => return Err(format!("publish {topic}: {e}")),
        }
    }
    while received.len() < topics.len() {
        let message = client
            .next_message()
            .await
            .map_err(|e| format!("next_message: {e}"))?;
        received.push(message.publish.topic.to_string());
    }
    println!(
        "{inbox_full} of the {} publishes ended with InboxFull",
        topics.len()
    );
    if received != topics {
        return Err(format!("received {received:?}"));
    }
    client
        .disconnect()
        .await
        .map_err(|e| format!("disconnect: {e}"))?;
    Ok(())
}

#[test]
fn an_inbox_of_one_message_hands_over_every_message_in_order() {
    support::in_namespace(
        "an_inbox_of_one_message_hands_over_every_message_in_order",
        || {
            let _broker = broker();
            support::run_embassy(embassy_time::Duration::from_secs(60), |stack| {
                Box::pin(an_inbox_of_one_loses_nothing(stack))
            });
        },
    );
}

async fn survives_restart<T: Tables>(
    stack: Stack<'static>,
    mut broker: Mosquitto,
) -> Result<(), String> {
    let mut config = config("embassy-restart", ProtocolVersion::V5);
    config.backoff.initial = core::time::Duration::from_millis(200);
    let mut client = client::<T, 4>(stack, config);
    client
        .connect()
        .await
        .map_err(|e| format!("connect: {e}"))?;
    client
        .subscribe("embassy/restart/#", QoS::AtLeastOnce)
        .await
        .map_err(|e| format!("subscribe: {e}"))?;
    // The broker goes away (SIGKILL) and comes back on the same address without the session.
    broker.restart().map_err(|e| format!("restart: {e}"))?;
    client
        .publish("embassy/restart/after", b"back", QoS::AtLeastOnce)
        .await
        .map_err(|e| format!("publish after the restart: {e}"))?;
    if client.connections() < 2 {
        return Err(format!(
            "{} connections after a broker restart",
            client.connections()
        ));
    }
    // The new broker lost the session: the session subscribed again by itself.
    let message = client
        .next_message()
        .await
        .map_err(|e| format!("next_message: {e}"))?;
    if message.publish.topic.as_str() != "embassy/restart/after" {
        return Err(format!("received {:?}", message.publish.topic));
    }
    match client.last_disconnect() {
        Some(mqtt_embassy::DisconnectReason::TransportClosed) => {}
        other => return Err(format!("the lost connection ended with {other:?}")),
    }
    client
        .disconnect()
        .await
        .map_err(|e| format!("disconnect: {e}"))?;
    drop(broker);
    Ok(())
}

#[test]
fn reconnects_after_the_broker_restarts() {
    support::in_namespace("reconnects_after_the_broker_restarts", || {
        let broker = broker();
        support::run_embassy(embassy_time::Duration::from_secs(60), |stack| {
            Box::pin(survives_restart::<mqtt_embassy::DefaultTables>(
                stack, broker,
            ))
        });
    });
}

#[test]
fn reconnects_after_the_broker_restarts_growable() {
    support::in_namespace("reconnects_after_the_broker_restarts_growable", || {
        let broker = broker();
        support::run_embassy(embassy_time::Duration::from_secs(60), |stack| {
            Box::pin(survives_restart::<Growable>(stack, broker))
        });
    });
}

async fn refused_for_good(stack: Stack<'static>) -> Result<(), String> {
    let mut client = client::<mqtt_embassy::DefaultTables, 4>(
        stack,
        config("embassy-refused", ProtocolVersion::V5),
    );
    match client.connect().await {
        Err(Error::ReconnectStopped { .. }) => Ok(()),
        other => Err(format!(
            "connect to a broker that refuses anonymous clients: {other:?}"
        )),
    }
}

#[test]
fn a_refusal_for_good_ends_connect_with_its_reason() {
    support::in_namespace("a_refusal_for_good_ends_connect_with_its_reason", || {
        let _broker = Mosquitto::start(Options {
            extra_config: vec![
                format!("listener {BROKER_PORT} {BROKER_ADDRESS}"),
                "allow_anonymous false".into(),
            ],
            persistence: false,
        })
        .unwrap();
        support::run_embassy(embassy_time::Duration::from_secs(60), |stack| {
            Box::pin(refused_for_good(stack))
        });
    });
}

/// The `sensor` example, which `cargo test` builds beside the test binaries.
fn sensor_example() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .join("examples/sensor");
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build -p mqtt-embassy --examples`",
        path.display()
    );
    path
}

#[test]
fn the_sensor_example_publishes_its_readings_at_qos_1() {
    support::in_namespace("the_sensor_example_publishes_its_readings_at_qos_1", || {
        let broker = broker();
        verifier_subscribes(&broker, "sensors/#");
        let output = std::process::Command::new(sensor_example())
            .args(["--count", "3", "--interval-ms", "100"])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "sensor failed: {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let seen = verifier_takes(&broker, "sensors/#", 3);
        let readings: Vec<&str> = seen.lines().collect();
        assert_eq!(
            readings,
            [
                "sensors/sensor-1/temperature 21.50",
                "sensors/sensor-1/temperature 21.53",
                "sensors/sensor-1/temperature 21.56"
            ],
            "mosquitto_sub saw {seen:?}"
        );
    });
}
