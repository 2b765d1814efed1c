//! A graceful disconnect, as the loop's turns see it.

use crate::driver::{Driver, Step};
use crate::Options;
use bytes::BytesMut;
use mqtt_proto::ProtocolVersion;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// `disconnect` resolves only after the loop has written the DISCONNECT and closed the
/// transport (after reading until the server closed, within the disconnect timeout), not
/// as soon as the DISCONNECT is encoded: a client that connects again with the same id
/// right after would otherwise race the old connection's last packets to the server.
#[test]
fn disconnect_resolves_once_the_transport_is_closed() {
    let options = Options::new("mqtt://127.0.0.1:1883", "linger")
        .unwrap()
        .protocol_version(ProtocolVersion::V311);
    let pair = Driver::client_pair(options, 4, Instant::now()).unwrap();
    let (client, mut driver, rx) = (pair.client, pair.driver, pair.commands);
    let now = Instant::now();
    let mut tx = BytesMut::new();
    assert_eq!(driver.linger_until(), None);
    driver.connected(now);
    assert_eq!(driver.step(now, true, &mut tx), Step::Wait);
    assert!(!tx.is_empty(), "CONNECT");
    tx.clear();
    let mut connack = BytesMut::new();
    super::connack(&mut connack);
    driver.read(now, &mut connack);
    assert_eq!(driver.step(now, true, &mut tx), Step::Wait);

    let mut cx = Context::from_waker(Waker::noop());
    let mut done = pin!(client.disconnect());
    assert!(done.as_mut().poll(&mut cx).is_pending());
    let command = rx.try_recv().unwrap();
    driver.commands(now, command, &rx);
    assert_eq!(driver.step(now, true, &mut tx), Step::Wait);
    assert_eq!(&tx[..], [0xE0, 0x00], "DISCONNECT, not yet written");
    assert!(done.as_mut().poll(&mut cx).is_pending());

    tx.clear(); // written
    assert_eq!(driver.step(now, true, &mut tx), Step::Close);
    assert!(done.as_mut().poll(&mut cx).is_pending(), "still open");
    let linger = driver.linger_until().unwrap();
    assert!(linger > now && linger <= now + Duration::from_secs(5));

    driver.closed_by_us(now);
    assert!(
        done.as_mut().poll(&mut cx).is_pending(),
        "the loop has not stepped"
    );
    assert_eq!(driver.step(now, false, &mut tx), Step::Stop);
    assert!(matches!(done.as_mut().poll(&mut cx), Poll::Ready(Ok(()))));
}
