//! `custom-event-loop`: the sans-IO `Session` driven by hand over a blocking
//! `std::net::TcpStream`, with no async runtime at all.
//!
//! ```text
//! custom-event-loop [--host 127.0.0.1] [--port 1883] [--protocol 5|3.1.1]
//! ```
//!
//! It connects, subscribes to `demo/loop/#` at QoS 2, publishes one message at QoS 1 and one
//! at QoS 2, prints every event, waits until both come back and both publishes complete, then
//! disconnects. Exit status 0 on success, 1 on failure or after 10 seconds.

use bytes::BytesMut;
use mqtt_proto::{
    MqttString, ProtocolVersion, QoS, ReasonCode, SubscribeFilter, TopicFilter, TopicName,
};
use mqtt_session::{Config, Event, OutboundMessage, Session, State};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("custom-event-loop: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (mut host, mut port, mut version) = ("127.0.0.1".to_string(), 1883u16, ProtocolVersion::V5);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or("missing value")?;
        match arg.as_str() {
            "--host" => host = value,
            "--port" => port = value.parse()?,
            "--protocol" if value == "3.1.1" => version = ProtocolVersion::V311,
            "--protocol" => version = ProtocolVersion::V5,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let mut config = Config::new(version, MqttString::try_from("custom-event-loop")?);
    config.keep_alive = Duration::from_secs(5);
    let mut session: Session<Instant> = Session::new(config)?;
    let mut stream = TcpStream::connect((host.as_str(), port))?;
    stream.set_nodelay(true)?;
    session.handle_connected(Instant::now());

    // Commands are answered at once; the packets wait until the connection is up.
    let filter = SubscribeFilter::new(TopicFilter::new("demo/loop/#")?, QoS::ExactlyOnce);
    session.subscribe(Instant::now(), vec![filter], Default::default())?;
    let mut expected = Vec::new();
    for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let topic = TopicName::new(format!("demo/loop/qos{}", qos as u8))?;
        let ticket = session.publish(Instant::now(), OutboundMessage::new(topic, "hello", qos))?;
        println!(
            "publish {:?} got packet id {:?}",
            ticket.id, ticket.packet_id
        );
        expected.push(ticket.id);
    }

    let deadline = Instant::now() + Duration::from_secs(10);
    let (mut rx, mut tx) = (BytesMut::with_capacity(4096), BytesMut::new());
    let (mut received, mut completed, mut disconnecting) = (0, 0, false);
    loop {
        // 1. Outputs, after every input and command: bytes, then events.
        while session.poll_transmit(Instant::now(), &mut tx) > 0 {}
        stream.write_all(&tx)?;
        tx.clear();
        while let Some(event) = session.poll_event() {
            println!("{event:?}");
            match event {
                Event::Message(_) => received += 1,
                Event::PublishCompleted { id, .. } if expected.contains(&id) => completed += 1,
                Event::PublishFailed { .. } => return Err("a publish failed".into()),
                Event::Disconnected(reason) if !disconnecting => {
                    return Err(format!("disconnected: {reason:?}").into())
                }
                _ => {}
            }
        }
        if disconnecting && session.state() == State::Idle {
            println!("done: {received} messages received, {completed} publishes completed");
            return Ok(());
        }
        if received == 2 && completed == 2 && !disconnecting {
            session.disconnect(
                Instant::now(),
                ReasonCode::NORMAL_DISCONNECTION,
                Default::default(),
            )?;
            disconnecting = true;
            continue;
        }
        if Instant::now() >= deadline {
            return Err("timed out".into());
        }
        // 2. Wait for bytes or the next deadline, whichever comes first.
        let now = Instant::now();
        let wake = session.poll_timeout().unwrap_or(deadline).min(deadline);
        let wait = wake
            .saturating_duration_since(now)
            .max(Duration::from_millis(1));
        stream.set_read_timeout(Some(wait))?;
        let filled = rx.len();
        rx.resize(filled + 4096, 0);
        match stream.read(&mut rx[filled..]) {
            Ok(0) => {
                rx.truncate(filled);
                session.handle_closed(Instant::now());
            }
            Ok(n) => {
                rx.truncate(filled + n);
                session.handle_read(Instant::now(), &mut rx);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                rx.truncate(filled);
            }
            Err(e) => return Err(e.into()),
        }
        // 3. Deadlines: comparing with `now` ourselves; early calls are harmless.
        session.handle_timeout(Instant::now());
    }
}
