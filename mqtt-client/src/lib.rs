//! The runtime-agnostic half of the MQTT drivers. Both `mqtt-tokio` and `mqtt-smol` build on
//! it, so the two have the same public face and none of this logic is written twice:
//!
//! * [`Client`]: the cheap, clonable handle (`Send + Sync`) that applications use; its
//!   commands go to the connection task through a bounded channel (callers wait when it is
//!   full: backpressure).
//! * [`Subscription`]: a `Stream` of only the messages routed to it. A reader that falls
//!   behind its buffer never makes the connection wait (keep-alive and other subscriptions go
//!   on): QoS 1/2 messages that do not fit wait unacknowledged, so the server's in-flight
//!   window (our Receive Maximum) holds the rest back and nothing is lost; QoS 0 messages that
//!   do not fit are dropped for that reader and reported as [`Delivery::Lagged`] with their
//!   number. The window is the connection's, so a reader that holds it full also delays the
//!   QoS 1/2 messages of other subscriptions: that is MQTT's flow control.
//! * [`Options`]: servers from URLs (`mqtt://`, `mqtts://`, `ws://`, `wss://`, credentials in
//!   the URL), fail-over, and the session configuration.
//! * [`Authenticator`]: v5 enhanced authentication for each connection and on demand
//!   ([`Client::reauthenticate`]); [`ScramSha256`] ships.
//! * [`CredentialsProvider`]: credentials asked for before every connection (tokens that
//!   expire), also handed to the authenticator.
//! * [`Proxies`]: HTTP CONNECT and SOCKS5 proxies, from the options or the environment;
//!   [`ProxyHandshake`] is their handshake, sans-IO, for every runtime's transport.
//! * [`WebSocketOptions`]: the WebSocket handshake's path and headers, and a hook that signs
//!   the request before it is sent.
//! * [`Store`]: where the session is kept across restarts and crashes ([`FileStore`]: a file).
//! * [`Statistics`]: what the connection has done (messages and bytes per QoS, publishes in
//!   flight, reconnects by cause), read at any time with [`Client::statistics`]; exported
//!   through the `metrics` facade with the `metrics` feature.
//!
//! What only a driver needs (the bookkeeping of a connection task, `Driver`, and the pieces
//! its loop handles: commands, save jobs, timers, read sizes, the command queue) is public for
//! the driver crates but hidden from this documentation: it is not part of the API an
//! application uses, and may change with the drivers.
//!
//! The client needs nothing outside the specification to work with a server: it sends only
//! the packets and properties MQTT defines, and the scenarios of `mqtt-scenarios` run against a
//! stock mosquitto, set up only through its own documented settings (listener, anonymous
//! access, persistence) [MQTT-7.0.0-2].
#![forbid(unsafe_code)]

pub mod api;
mod auth;
mod client;
mod completion;
mod connecting;
mod credentials;
mod driver;
pub mod event_loop;
mod loop_helpers;
mod options;
mod persistence;
mod proxy;
#[doc(hidden)]
pub mod queue;
mod quickack;
mod redirect;
mod report;
mod request;
mod routing;
mod scram;
mod signal;
pub mod statistics;
pub mod store;
mod subscribing;
mod subscription;
#[cfg(test)]
mod test_waker;
mod tls;
pub mod tls_provider;
mod websocket;
mod ws_transport;

pub use auth::{AuthError, AuthExchange, Authenticator};
pub use client::{Client, ConnectionEvents, PublishHandle, Subscription};
#[doc(hidden)]
pub use client::{Command, SubscriptionSink};
#[doc(hidden)]
pub use completion::Completer;
#[doc(hidden)]
pub use connecting::{Attempt, Prepared};
pub use credentials::{
    ConnectCredentials, CredentialsError, CredentialsFuture, CredentialsProvider,
    SharedCredentialsProvider,
};
#[doc(hidden)]
pub use driver::{ClientPair, Driver, Step, COMMAND_BATCH};
#[doc(hidden)]
pub use loop_helpers::{ReadSize, TimerSlot};
pub use options::{Credentials, Options, OptionsError, Scheme, Server};
#[doc(hidden)]
pub use persistence::{SaveJob, Saved};
pub use proxy::{Proxies, Proxy, ProxyError, ProxyHandshake, ProxyKind};
#[doc(hidden)]
pub use quickack::quickack;
pub use report::{ClientError, ConnectionEvent, Delivery, Message, PublishDone};
pub use rustls;
pub use scram::ScramSha256;
#[doc(hidden)]
pub use signal::Signals;
pub use statistics::{DisconnectCause, Disconnects, PerQoS, Statistics};
pub use store::{FileStore, StartError, Store};
pub use subscribing::UnsubscribeResult;
#[doc(hidden)]
pub use tls::handshake_error as tls_handshake_error;
pub use tls::{TlsError, TlsOptions};
pub use websocket::{WebSocketError, WebSocketOptions, WebSocketRequest, WebSocketSigner};
pub use ws_transport::{websocket_connect, WebSocketTransport};
