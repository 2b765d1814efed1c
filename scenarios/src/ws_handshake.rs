//! WebSocket handshake control (issue 24.3), through the public `Client`: a path of its own,
//! headers, and a signing hook, seen arriving by a relay that records the upgrade request in
//! front of the embedded rumqttd (mosquitto here has no WebSocket listener).

use mqtt_client::{ConnectionEvent, WebSocketOptions};
use mqtt_proto::{ProtocolVersion, QoS};
use mqtt_test_support::recorder::RecordingRelay;
use mqtt_test_support::FaultRelay;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use crate::{
    connected, disconnect, next_event, next_message, options, publish, spawn, subscribe, text,
    until, Runtime,
};

/// The header lines of a recorded request head, lower-cased names, and its request line.
fn parse(head: &str) -> (String, Vec<(String, String)>) {
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (request_line, headers)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// The upgrade request carries the configured path and headers and the signer's changes (a
/// query parameter and a header with a signature made for that attempt); each reconnect is
/// signed afresh; the `mqtt` subprotocol is still offered; a signer that fails fails the
/// attempt with its error.
pub async fn websocket_requests_carry_headers_path_and_signature<R: Runtime>(rt: &R) {
    let broker = mqtt_test_support::embedded::rumqttd("ws").unwrap_or_else(|e| panic!("{e}"));
    let recorder = RecordingRelay::start(broker).unwrap_or_else(|e| panic!("{e}"));
    let cutter = FaultRelay::start(([127, 0, 0, 1], recorder.port()).into())
        .unwrap_or_else(|e| panic!("{e}"));
    let attempts = Arc::new(AtomicU32::new(0));
    let counted = attempts.clone();
    let websocket = WebSocketOptions::new()
        .path("/tenant-7/mqtt?client=sensor")
        .header("Authorization", "Bearer t0ken")
        .header("X-Tenant", "7")
        .sign_with(move |request| {
            let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
            // A stand-in for SigV4: a signature over what is signed, new for each attempt.
            let signature = format!("sig-{n}-{}-{}", request.host, request.path.len());
            request
                .path
                .push_str(&format!("&X-Amz-Signature={signature}"));
            request.set_header("X-Amz-Date", &format!("attempt-{n}"));
            Ok(())
        });
    // rumqttd's WebSocket listener speaks 3.1.1.
    let url = format!("ws://127.0.0.1:{}/ignored", cutter.port());
    let o = options(
        &url,
        &format!("ws-headers-{}", R::NAME),
        ProtocolVersion::V311,
    )
    .websocket(websocket.clone());
    let client = connected(rt, o).await;
    let mut sub = subscribe(&client, "ws/headers", QoS::AtLeastOnce).await;
    publish(&client, "ws/headers", "signed", QoS::AtLeastOnce).await;
    assert_eq!(text(&next_message(&mut sub, "the message").await), "signed");

    let heads = recorder.heads();
    let (request_line, headers) = parse(&heads[0]);
    assert_eq!(
        request_line,
        "GET /tenant-7/mqtt?client=sensor&X-Amz-Signature=sig-1-127.0.0.1-28 HTTP/1.1"
    );
    assert_eq!(header(&headers, "authorization"), ["Bearer t0ken"]);
    assert_eq!(header(&headers, "x-tenant"), ["7"]);
    assert_eq!(header(&headers, "x-amz-date"), ["attempt-1"]);
    assert_eq!(header(&headers, "sec-websocket-protocol"), ["mqtt"]);
    assert_eq!(header(&headers, "upgrade"), ["websocket"]);

    // A reconnect is signed again.
    cutter.cut();
    next_event(&client, "the reconnect", |e| {
        matches!(e, ConnectionEvent::Connected { .. }).then_some(())
    })
    .await;
    let heads = until("the second upgrade request", || {
        let heads = recorder.heads();
        (heads.len() >= 2).then_some(heads)
    })
    .await;
    let (request_line, headers) = parse(&heads[1]);
    assert!(
        request_line.contains("X-Amz-Signature=sig-2-"),
        "{request_line}"
    );
    assert_eq!(header(&headers, "x-amz-date"), ["attempt-2"]);
    disconnect(&client).await;

    let failing = WebSocketOptions::new().sign_with(|_| Err("no signing key".into()));
    let o = options(
        &url,
        &format!("ws-unsigned-{}", R::NAME),
        ProtocolVersion::V311,
    )
    .websocket(failing);
    let client = spawn(rt, o);
    let error = next_event(&client, "the failed attempt", |e| match e {
        ConnectionEvent::ConnectFailed { error, .. } => Some(error.clone()),
        ConnectionEvent::Connected { .. } => panic!("connected without a signature"),
        _ => None,
    })
    .await;
    assert!(error.contains("no signing key"), "{error}");
    disconnect(&client).await;
}
