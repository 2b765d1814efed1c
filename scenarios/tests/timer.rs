//! The bounds on every wait use async-io's `Timer`. Under tokio nothing runs async-io's
//! reactor but async-io's own "async-io" thread: these tests prove that it fires there, and
//! that a wait that never ends fails with what was awaited.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::time::{Duration, Instant};

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

#[test]
fn the_timer_fires_under_tokio() {
    let start = Instant::now();
    tokio_runtime().block_on(mqtt_scenarios::sleep(Duration::from_millis(50)));
    assert!(start.elapsed() >= Duration::from_millis(50));
}

#[test]
fn a_wait_that_never_ends_fails_with_what_was_awaited_under_tokio() {
    let outcome = std::thread::spawn(|| {
        tokio_runtime().block_on(mqtt_scenarios::within_for(
            Duration::from_millis(50),
            "the thing that never comes",
            std::future::pending::<()>(),
        ))
    })
    .join();
    let panic = outcome.unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("waiting for the thing that never comes"),
        "{message}"
    );
}

#[test]
fn a_ready_future_wins_over_the_timer_under_tokio() {
    let got = tokio_runtime().block_on(mqtt_scenarios::first_within(
        Duration::from_secs(10),
        async { 7 },
    ));
    assert_eq!(got, Some(7));
}
