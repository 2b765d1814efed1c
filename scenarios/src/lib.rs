//! Integration scenarios written once and run on every runtime.
//!
//! Both drivers hand out the same [`Client`] (from `mqtt-client`); only the function that
//! starts the connection task differs. A driver's test file implements [`Runtime`] for its
//! executor and expands [`scenarios!`] into one `#[test]` per scenario (and protocol version):
//!
//! ```text
//! struct Tokio;
//! impl mqtt_scenarios::Runtime for Tokio { /* block_on, spawn, connection, spawn_task */ }
//! mqtt_scenarios::scenarios!(on_tokio, crate::Tokio);
//! ```
//!
//! Every scenario starts its own broker (mosquitto on a free loopback port, stopped by process
//! id; an embedded rumqttd for WebSocket, behind a TLS relay for `wss://`), so the tests of one
//! binary run in parallel. Every wait is bounded by [`within`]: a hang fails in seconds with
//! what was awaited. No scenario asserts on elapsed time.
#![forbid(unsafe_code)]
// Test code: a failed expectation is a panic with a message.
#![allow(clippy::unwrap_used, clippy::panic)]

use futures::future::{self, Either};
use mqtt_client::{
    Client, ClientError, ConnectionEvent, Message, Options, PublishDone, Subscription,
};
use mqtt_session::DisconnectReason;
use std::future::Future;
use std::pin::{pin, Pin};
use std::time::Duration;

mod auth;
mod basic;
mod credentials;
mod delivery;
mod faults;
mod flow;
pub mod interop;
mod net;
mod policy;
mod proxy;
mod public_face;
mod reliability;
mod request;
mod restart;
mod scram;
mod statistics;
mod store;
mod subscribing;
mod tls;
mod tls_options;
mod v5;
mod version;
mod websocket;
mod ws_handshake;

pub use auth::{server_disconnect_reason, username_and_password};
pub use basic::{
    commands_after_disconnect_report_closed, dropped_futures_leave_the_session_intact,
    persistent_session_receives_what_was_published_while_away, qos_round_trips,
    queued_publishes_complete_in_order, retained_messages, will_on_a_cut_connection,
};
pub use credentials::{
    credentials_are_asked_for_before_every_connect,
    the_authenticator_takes_the_providers_credentials,
};
pub use delivery::{
    callbacks_receive_every_message, fail_over_to_the_next_server, manual_acks,
    refused_messages_are_not_sent_again, v5_redirect_loops_are_left,
    v5_server_reference_is_followed,
};
pub use faults::cuts_lose_nothing;
pub use flow::slow_subscriber_does_not_stall_the_connection;
pub use interop::{interop_matrix, Broker};
pub use mqtt_proto::{ProtocolVersion, QoS};
pub use net::RedirectBy;
pub use policy::{
    a_message_the_broker_refuses_does_not_block_the_rest,
    connection_events_name_the_configured_server, reconnect_off_means_off,
    the_connack_deadline_is_its_own,
};
pub use proxy::{
    proxies_from_the_environment, through_a_socks5_proxy, through_an_http_connect_proxy,
    websocket_through_a_proxy_from_the_environment,
};
pub use reliability::{
    a_hung_server_is_left, a_reader_that_does_not_read_holds_no_more_than_the_budget,
    a_restarted_subscriber_gets_its_backlog, a_restarted_subscriber_gets_its_backlog_from_rumqttd,
    clients_draw_different_reconnect_delays, unread_messages_survive_a_crash,
};
pub use request::v5_requests_get_their_responses;
pub use restart::{
    broker_killed_with_persistence_loses_nothing_acknowledged,
    broker_restart_with_persistence_loses_nothing_acknowledged,
    broker_restart_without_persistence_resubscribes,
};
pub use scram::{
    scram_sha_256_an_auth_nobody_asked_for_is_a_protocol_error,
    scram_sha_256_authenticates_and_reauthenticates, scram_sha_256_connect_failures,
    scram_sha_256_reauthentication_failures, scram_sha_256_wrong_password_is_refused,
};
pub use statistics::statistics_count_what_was_sent_and_received;
pub use store::{
    a_crashed_client_finishes_from_its_store, a_failing_store_closes_the_connection, gated_store,
    GatedStore, StoreGate,
};
pub use subscribing::{
    a_partly_refused_subscribe_keeps_what_was_granted,
    some_filters_of_a_subscription_are_unsubscribed,
};
pub use tls::{
    tls_client_certificates, tls_insecure_mode_skips_verification, tls_no_roots_is_a_clear_error,
    tls_server_verified_against_our_ca, tls_wrong_ca_is_refused,
};
pub use tls_options::{
    tls_alpn_and_server_name, tls_and_plain_ports_mixed_up_are_named,
    tls_client_keys_in_every_pem_form, tls_platform_trust_and_provider_choice,
};
pub use v5::{
    v5_message_expiry, v5_request_response_and_user_properties, v5_shared_subscriptions,
    v5_subscription_identifiers, v5_topic_aliases,
};
pub use version::{
    a_silent_close_of_a_v5_connect_falls_back, a_v5_client_meets_a_v311_only_broker,
};
pub use websocket::{secure_websocket_publish_and_subscribe, websocket_publish_and_subscribe};
pub use ws_handshake::websocket_requests_carry_headers_path_and_signature;

/// A connection task not yet running, as the driver's `Connection::run()` future.
pub type Task = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Why a driver could not start a client.
pub type SpawnError = Box<dyn std::error::Error + Send + Sync>;

/// An executor and the driver that runs on it: all a scenario needs to know of the runtime.
pub trait Runtime {
    /// A short name, used in client ids and file names (`"tokio"`, `"smol"`, `"async-std"`).
    const NAME: &'static str;

    /// Runs `future` to completion on this runtime, from a plain test thread. Scenarios call
    /// [`spawn`](Self::spawn) and [`spawn_task`](Self::spawn_task) only from inside it.
    fn block_on<F: Future>(&self, future: F) -> F::Output;

    /// The driver's `spawn`: a client whose connection task runs in the background.
    fn spawn(&self, options: Options) -> Result<Client, SpawnError>;

    /// The driver's `new`: a client and its connection task not yet running. Dropping the task
    /// closes the connection without DISCONNECT, as a crash would.
    fn connection(&self, options: Options) -> Result<(Client, Task), SpawnError>;

    /// Runs a task on this runtime's executor, detached.
    fn spawn_task(&self, task: Task);

    /// The driver's `subscribe_with`: push delivery to `on_message` (and lag counts to
    /// `on_lagged`) until the returned handle is dropped.
    fn subscribe_with<'a>(
        &'a self,
        client: &'a Client,
        filter: &'a str,
        qos: QoS,
        on_message: Box<dyn FnMut(Message) + Send>,
        on_lagged: Box<dyn FnMut(u64) + Send>,
    ) -> Pin<Box<dyn Future<Output = Result<CallbackHandle, ClientError>> + 'a>>;
}

/// The [`Runtime`] methods that only forward to a driver crate (its `spawn`, `new` and
/// `subscribe_with`), written once for every driver: `driver_methods!(mqtt_tokio)` inside an
/// `impl Runtime`.
#[macro_export]
macro_rules! driver_methods {
    ($driver:ident) => {
        fn spawn(&self, options: $driver::Options) -> Result<$driver::Client, $crate::SpawnError> {
            Ok($driver::spawn(options)?)
        }

        fn connection(
            &self,
            options: $driver::Options,
        ) -> Result<($driver::Client, $crate::Task), $crate::SpawnError> {
            let (client, connection) = $driver::new(options)?;
            Ok((client, Box::pin(connection.run())))
        }

        fn subscribe_with<'a>(
            &'a self,
            client: &'a $driver::Client,
            filter: &'a str,
            qos: $driver::QoS,
            on_message: Box<dyn FnMut($driver::Message) + Send>,
            on_lagged: Box<dyn FnMut(u64) + Send>,
        ) -> ::std::pin::Pin<
            Box<
                dyn ::std::future::Future<
                        Output = Result<$crate::CallbackHandle, $driver::ClientError>,
                    > + 'a,
            >,
        > {
            Box::pin(async move {
                let handle =
                    $driver::subscribe_with(client, filter, qos, on_message, on_lagged).await?;
                Ok(Box::new(handle) as $crate::CallbackHandle)
            })
        }
    };
}

/// Whatever a driver's `subscribe_with` returns: delivery stops when it is dropped.
pub type CallbackHandle = Box<dyn std::any::Any + Send>;

/// How long any single wait may take before the scenario fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// Awaits `future`, failing the scenario with `what` if it takes longer than [`WAIT`].
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    within_for(WAIT, what, future).await
}

/// Awaits `future`, failing the scenario with `what` if it takes longer than `limit`.
pub async fn within_for<T>(limit: Duration, what: &str, future: impl Future<Output = T>) -> T {
    match first_within(limit, future).await {
        Some(value) => value,
        None => panic!("timed out after {limit:?} waiting for {what}"),
    }
}

/// The output of `future` if it completes within `limit`, else `None`: for checking that
/// something does *not* happen (a message that must not arrive).
pub async fn first_within<T>(limit: Duration, future: impl Future<Output = T>) -> Option<T> {
    let timer = async_io::Timer::after(limit);
    match future::select(pin!(future), timer).await {
        Either::Left((value, _)) => Some(value),
        Either::Right(_) => None,
    }
}

/// Polls `check` every 2 ms until it gives a value (bounded by [`WAIT`]): for state another
/// thread changes (a proxy's record, a file), which no event announces.
pub async fn until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    within(what, async {
        loop {
            if let Some(value) = check() {
                return value;
            }
            sleep(Duration::from_millis(2)).await;
        }
    })
    .await
}

/// Options for a session the broker keeps while the client is away (Clean Start off, a
/// Session Expiry Interval of 300 s).
pub fn durable(options: Options) -> Options {
    options.clean_start(false).session_expiry(300)
}

/// Sleeps on any runtime.
pub async fn sleep(duration: Duration) {
    async_io::Timer::after(duration).await;
}

/// `mqtt://127.0.0.1:{port}`.
pub fn url(port: u16) -> String {
    format!("mqtt://127.0.0.1:{port}")
}

/// Options for a test client: `version`, quick reconnects, a bounded connect.
pub fn options(url: &str, id: &str, version: ProtocolVersion) -> Options {
    let mut o = Options::new(url, id)
        .unwrap_or_else(|e| panic!("options for {url}: {e}"))
        .protocol_version(version);
    o.session.backoff.initial = Duration::from_millis(50);
    o.session.backoff.max = Duration::from_millis(500);
    o.connect_timeout = Duration::from_secs(3);
    o
}

/// Starts a client whose connection task can be killed as a crash would (see [`Crash`]).
pub fn crashable<R: Runtime>(rt: &R, options: Options) -> (Client, Crash) {
    let (client, task) = rt
        .connection(options)
        .unwrap_or_else(|e| panic!("{}: starting a client: {e}", R::NAME));
    let (task, abort) = futures::future::abortable(task);
    let (ended, stopped) = async_channel::bounded::<()>(1);
    rt.spawn_task(Box::pin(async move {
        let _ = task.await;
        drop(ended);
    }));
    (client, Crash { abort, stopped })
}

/// Kills a connection task as a crash would: no DISCONNECT, nothing more written to its
/// store, nothing more done for its handles.
#[derive(Debug)]
pub struct Crash {
    abort: futures::future::AbortHandle,
    /// Ends when the task has stopped.
    stopped: async_channel::Receiver<()>,
}

impl Crash {
    /// Kills the task and waits until it has stopped. A task that is running on another
    /// thread when it is told finishes that turn first: the handles the scenario drops after
    /// this (their unsubscribes, ...) must find it gone, as they would after a real crash.
    pub async fn kill(self) {
        self.abort.abort();
        within("the connection task to stop", async {
            let _ = self.stopped.recv().await;
        })
        .await;
    }
}

/// Starts a client with the runtime's driver.
pub fn spawn<R: Runtime>(rt: &R, options: Options) -> Client {
    rt.spawn(options)
        .unwrap_or_else(|e| panic!("{}: spawning a client: {e}", R::NAME))
}

/// Starts a client and waits for its CONNACK.
pub async fn connected<R: Runtime>(rt: &R, options: Options) -> Client {
    let client = spawn(rt, options);
    wait_connected(&client).await;
    client
}

/// Waits for the next CONNACK and says whether the server resumed the session. A refusal or a
/// transport failure fails the scenario at once, with its reason.
pub async fn wait_connected(client: &Client) -> bool {
    next_event(client, "CONNACK", |event| match event {
        ConnectionEvent::Connected {
            session_present, ..
        } => Some(*session_present),
        ConnectionEvent::ConnectFailed { error, .. } => panic!("connecting failed: {error}"),
        ConnectionEvent::Disconnected(DisconnectReason::Refused(code, _)) => {
            panic!("the server refused the connection: {code:?}")
        }
        _ => None,
    })
    .await
}

/// Reads connection events until `pick` takes one (bounded by [`WAIT`]).
pub async fn next_event<T>(
    client: &Client,
    what: &str,
    mut pick: impl FnMut(&ConnectionEvent) -> Option<T>,
) -> T {
    within(what, async {
        loop {
            match client.next_event().await {
                Some(event) => {
                    if let Some(value) = pick(&event) {
                        return value;
                    }
                }
                None => panic!("the connection task ended while waiting for {what}"),
            }
        }
    })
    .await
}

/// Subscribes to one filter and expects it granted.
pub async fn subscribe(client: &Client, filter: &str, qos: QoS) -> Subscription {
    within(
        &format!("SUBACK for {filter}"),
        client.subscribe(filter, qos),
    )
    .await
    .unwrap_or_else(|e| panic!("subscribing to {filter}: {e}"))
}

/// Publishes and waits for the QoS flow to complete.
pub async fn publish(
    client: &Client,
    topic: &str,
    payload: impl Into<bytes::Bytes>,
    qos: QoS,
) -> PublishDone {
    within(&format!("the completion of a publish to {topic}"), async {
        client.publish(topic, payload, qos).await?.await
    })
    .await
    .unwrap_or_else(|e| panic!("publishing to {topic}: {e}"))
}

/// The next message of a subscription.
pub async fn next_message(subscription: &mut Subscription, what: &str) -> Message {
    within(what, subscription.next_message())
        .await
        .unwrap_or_else(|| panic!("the subscription ended while waiting for {what}"))
}

/// The payload as text, for readable assertions.
pub fn text(message: &Message) -> String {
    String::from_utf8_lossy(message.payload()).into_owned()
}

/// Disconnects gracefully.
pub async fn disconnect(client: &Client) {
    within("the graceful disconnect", client.disconnect())
        .await
        .unwrap_or_else(|e| panic!("disconnecting: {e}"));
}

/// The WebSocket scenarios (`ws://`, `wss://`, the handshake's request), for the drivers
/// that speak WebSocket: `websocket_scenarios!(module, runtime)` beside [`scenarios!`].
#[macro_export]
macro_rules! websocket_scenarios {
    ($module:ident, $runtime:expr) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            $crate::scenarios!(@tests $runtime;
                websocket_publish_and_subscribe => websocket_publish_and_subscribe(),
                secure_websocket_publish_and_subscribe =>
                    secure_websocket_publish_and_subscribe(),
                websocket_requests_carry_headers_path_and_signature =>
                    websocket_requests_carry_headers_path_and_signature(),
                websocket_through_a_proxy_from_the_environment =>
                    websocket_through_a_proxy_from_the_environment(),
            );
        }
    };
}

/// Expands to one `#[test]` per scenario (and protocol version) in a module `$module`, each
/// running the shared body on the runtime `$runtime` (an expression, evaluated in each test;
/// the module sees the caller's items through `use super::*`).
/// The WebSocket scenarios are in [`websocket_scenarios!`].
#[macro_export]
macro_rules! scenarios {
    ($module:ident, $runtime:expr) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            $crate::scenarios!(@tests $runtime;
                qos_round_trips_v311 => qos_round_trips($crate::ProtocolVersion::V311),
                qos_round_trips_v5 => qos_round_trips($crate::ProtocolVersion::V5),
                dropped_futures_leave_the_session_intact_v311 =>
                    dropped_futures_leave_the_session_intact($crate::ProtocolVersion::V311),
                dropped_futures_leave_the_session_intact_v5 =>
                    dropped_futures_leave_the_session_intact($crate::ProtocolVersion::V5),
                queued_publishes_complete_in_order_v311 =>
                    queued_publishes_complete_in_order($crate::ProtocolVersion::V311),
                queued_publishes_complete_in_order_v5 =>
                    queued_publishes_complete_in_order($crate::ProtocolVersion::V5),
                retained_messages_v311 => retained_messages($crate::ProtocolVersion::V311),
                retained_messages_v5 => retained_messages($crate::ProtocolVersion::V5),
                will_on_a_cut_connection_v311 =>
                    will_on_a_cut_connection($crate::ProtocolVersion::V311),
                will_on_a_cut_connection_v5 =>
                    will_on_a_cut_connection($crate::ProtocolVersion::V5),
                persistent_session_v311 =>
                    persistent_session_receives_what_was_published_while_away(
                        $crate::ProtocolVersion::V311),
                persistent_session_v5 =>
                    persistent_session_receives_what_was_published_while_away(
                        $crate::ProtocolVersion::V5),
                commands_after_disconnect_report_closed_v311 =>
                    commands_after_disconnect_report_closed($crate::ProtocolVersion::V311),
                commands_after_disconnect_report_closed_v5 =>
                    commands_after_disconnect_report_closed($crate::ProtocolVersion::V5),
                broker_restart_without_persistence_resubscribes_v311 =>
                    broker_restart_without_persistence_resubscribes(
                        $crate::ProtocolVersion::V311),
                broker_restart_without_persistence_resubscribes_v5 =>
                    broker_restart_without_persistence_resubscribes($crate::ProtocolVersion::V5),
                broker_killed_with_persistence_loses_nothing_acknowledged_v311 =>
                    broker_killed_with_persistence_loses_nothing_acknowledged(
                        $crate::ProtocolVersion::V311),
                broker_killed_with_persistence_loses_nothing_acknowledged_v5 =>
                    broker_killed_with_persistence_loses_nothing_acknowledged(
                        $crate::ProtocolVersion::V5),
                broker_restart_with_persistence_loses_nothing_acknowledged_v311 =>
                    broker_restart_with_persistence_loses_nothing_acknowledged(
                        $crate::ProtocolVersion::V311),
                broker_restart_with_persistence_loses_nothing_acknowledged_v5 =>
                    broker_restart_with_persistence_loses_nothing_acknowledged(
                        $crate::ProtocolVersion::V5),
                username_and_password_v311 =>
                    username_and_password($crate::ProtocolVersion::V311),
                username_and_password_v5 => username_and_password($crate::ProtocolVersion::V5),
                server_disconnect_reason_v311 =>
                    server_disconnect_reason($crate::ProtocolVersion::V311),
                server_disconnect_reason_v5 =>
                    server_disconnect_reason($crate::ProtocolVersion::V5),
                v5_subscription_identifiers => v5_subscription_identifiers(),
                a_partly_refused_subscribe_keeps_what_was_granted_v311 =>
                    a_partly_refused_subscribe_keeps_what_was_granted(
                        $crate::ProtocolVersion::V311),
                a_partly_refused_subscribe_keeps_what_was_granted_v5 =>
                    a_partly_refused_subscribe_keeps_what_was_granted(
                        $crate::ProtocolVersion::V5),
                some_filters_of_a_subscription_are_unsubscribed_v311 =>
                    some_filters_of_a_subscription_are_unsubscribed(
                        $crate::ProtocolVersion::V311),
                some_filters_of_a_subscription_are_unsubscribed_v5 =>
                    some_filters_of_a_subscription_are_unsubscribed(
                        $crate::ProtocolVersion::V5),
                v5_topic_aliases => v5_topic_aliases(),
                v5_message_expiry => v5_message_expiry(),
                v5_shared_subscriptions => v5_shared_subscriptions(),
                v5_request_response_and_user_properties =>
                    v5_request_response_and_user_properties(),
                v5_requests_get_their_responses => v5_requests_get_their_responses(),
                slow_subscriber_does_not_stall_the_connection =>
                    slow_subscriber_does_not_stall_the_connection(),
                manual_acks_v311 => manual_acks($crate::ProtocolVersion::V311),
                manual_acks_v5 => manual_acks($crate::ProtocolVersion::V5),
                refused_messages_are_not_sent_again_v311 =>
                    refused_messages_are_not_sent_again($crate::ProtocolVersion::V311),
                refused_messages_are_not_sent_again_v5 =>
                    refused_messages_are_not_sent_again($crate::ProtocolVersion::V5),
                a_crashed_client_finishes_from_its_store_v311 =>
                    a_crashed_client_finishes_from_its_store($crate::ProtocolVersion::V311),
                a_crashed_client_finishes_from_its_store_v5 =>
                    a_crashed_client_finishes_from_its_store($crate::ProtocolVersion::V5),
                a_failing_store_closes_the_connection_v311 =>
                    a_failing_store_closes_the_connection($crate::ProtocolVersion::V311),
                a_failing_store_closes_the_connection_v5 =>
                    a_failing_store_closes_the_connection($crate::ProtocolVersion::V5),
                a_restarted_subscriber_gets_its_backlog_v311 =>
                    a_restarted_subscriber_gets_its_backlog(
                        $crate::ProtocolVersion::V311, false),
                a_restarted_subscriber_gets_its_backlog_v5 =>
                    a_restarted_subscriber_gets_its_backlog($crate::ProtocolVersion::V5, false),
                a_restarted_subscriber_gets_its_backlog_manual_acks_v311 =>
                    a_restarted_subscriber_gets_its_backlog(
                        $crate::ProtocolVersion::V311, true),
                a_restarted_subscriber_gets_its_backlog_manual_acks_v5 =>
                    a_restarted_subscriber_gets_its_backlog($crate::ProtocolVersion::V5, true),
                rumqttd_restarted_subscriber_gets_its_backlog_v311 =>
                    a_restarted_subscriber_gets_its_backlog_from_rumqttd(
                        $crate::ProtocolVersion::V311, false),
                rumqttd_restarted_subscriber_gets_its_backlog_v5 =>
                    a_restarted_subscriber_gets_its_backlog_from_rumqttd(
                        $crate::ProtocolVersion::V5, false),
                rumqttd_restarted_subscriber_gets_its_backlog_manual_acks_v5 =>
                    a_restarted_subscriber_gets_its_backlog_from_rumqttd(
                        $crate::ProtocolVersion::V5, true),
                unread_messages_survive_a_crash_v311 =>
                    unread_messages_survive_a_crash($crate::ProtocolVersion::V311),
                unread_messages_survive_a_crash_v5 =>
                    unread_messages_survive_a_crash($crate::ProtocolVersion::V5),
                a_hung_server_is_left_v311 =>
                    a_hung_server_is_left($crate::ProtocolVersion::V311),
                a_hung_server_is_left_v5 =>
                    a_hung_server_is_left($crate::ProtocolVersion::V5),
                clients_draw_different_reconnect_delays =>
                    clients_draw_different_reconnect_delays(),
                cuts_lose_nothing_qos1_v311 =>
                    cuts_lose_nothing($crate::ProtocolVersion::V311, $crate::QoS::AtLeastOnce),
                cuts_lose_nothing_qos1_v5 =>
                    cuts_lose_nothing($crate::ProtocolVersion::V5, $crate::QoS::AtLeastOnce),
                cuts_lose_nothing_qos2_v311 =>
                    cuts_lose_nothing($crate::ProtocolVersion::V311, $crate::QoS::ExactlyOnce),
                cuts_lose_nothing_qos2_v5 =>
                    cuts_lose_nothing($crate::ProtocolVersion::V5, $crate::QoS::ExactlyOnce),
                reconnect_off_means_off_v311 =>
                    reconnect_off_means_off($crate::ProtocolVersion::V311),
                reconnect_off_means_off_v5 => reconnect_off_means_off($crate::ProtocolVersion::V5),
                the_connack_deadline_is_its_own => the_connack_deadline_is_its_own(),
                a_message_the_broker_refuses_does_not_block_the_rest =>
                    a_message_the_broker_refuses_does_not_block_the_rest(),
                connection_events_name_the_configured_server =>
                    connection_events_name_the_configured_server(),
                callbacks_receive_every_message => callbacks_receive_every_message(),
                fail_over_to_the_next_server => fail_over_to_the_next_server(),
                v5_server_reference_is_followed =>
                    v5_server_reference_is_followed($crate::RedirectBy::Disconnect),
                v5_connack_server_reference_is_followed =>
                    v5_server_reference_is_followed($crate::RedirectBy::ConnAck),
                v5_redirect_loops_are_left => v5_redirect_loops_are_left(),
                a_v5_client_meets_a_v311_only_broker => a_v5_client_meets_a_v311_only_broker(),
                a_silent_close_of_a_v5_connect_falls_back =>
                    a_silent_close_of_a_v5_connect_falls_back(),
                tls_server_verified_against_our_ca => tls_server_verified_against_our_ca(),
                tls_wrong_ca_is_refused => tls_wrong_ca_is_refused(),
                tls_no_roots_is_a_clear_error => tls_no_roots_is_a_clear_error(),
                tls_client_certificates => tls_client_certificates(),
                tls_insecure_mode_skips_verification => tls_insecure_mode_skips_verification(),
                scram_sha_256_authenticates_and_reauthenticates =>
                    scram_sha_256_authenticates_and_reauthenticates(),
                scram_sha_256_connect_failures => scram_sha_256_connect_failures(),
                scram_sha_256_wrong_password_is_refused =>
                    scram_sha_256_wrong_password_is_refused(),
                scram_sha_256_reauthentication_failures =>
                    scram_sha_256_reauthentication_failures(),
                scram_sha_256_an_auth_nobody_asked_for_is_a_protocol_error =>
                    scram_sha_256_an_auth_nobody_asked_for_is_a_protocol_error(),
                credentials_are_asked_for_before_every_connect_v311 =>
                    credentials_are_asked_for_before_every_connect(
                        $crate::ProtocolVersion::V311),
                credentials_are_asked_for_before_every_connect_v5 =>
                    credentials_are_asked_for_before_every_connect($crate::ProtocolVersion::V5),
                the_authenticator_takes_the_providers_credentials =>
                    the_authenticator_takes_the_providers_credentials(),
                through_an_http_connect_proxy_v311 =>
                    through_an_http_connect_proxy($crate::ProtocolVersion::V311),
                through_an_http_connect_proxy_v5 =>
                    through_an_http_connect_proxy($crate::ProtocolVersion::V5),
                through_a_socks5_proxy => through_a_socks5_proxy(false),
                through_a_socks5_proxy_with_user_and_password => through_a_socks5_proxy(true),
                proxies_from_the_environment => proxies_from_the_environment(),
                tls_alpn_and_server_name => tls_alpn_and_server_name(),
                tls_client_keys_in_every_pem_form => tls_client_keys_in_every_pem_form(),
                tls_and_plain_ports_mixed_up_are_named => tls_and_plain_ports_mixed_up_are_named(),
                tls_platform_trust_and_provider_choice =>
                    tls_platform_trust_and_provider_choice(),
                statistics_count_what_was_sent_and_received_v311 =>
                    statistics_count_what_was_sent_and_received($crate::ProtocolVersion::V311),
                statistics_count_what_was_sent_and_received_v5 =>
                    statistics_count_what_was_sent_and_received($crate::ProtocolVersion::V5),
            );
        }
    };
    (@tests $runtime:expr; $($name:ident => $scenario:ident($($arg:expr),*)),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let runtime = $runtime;
                $crate::Runtime::block_on(&runtime, $crate::$scenario(&runtime $(, $arg)*));
            }
        )*
    };
}
