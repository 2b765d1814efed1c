//! Test support shared by the workspace's tests: [`mosquitto`] starts real brokers, [`tls`]
//! one with TLS listeners and certificates made for it, [`dynsec`] one with its
//! dynamic-security plugin, [`embedded`] a broker in the test process for what mosquitto here
//! cannot do, [`scram_broker`] a scripted MQTT v5 server with SCRAM-SHA-256 enhanced
//! authentication (which mosquitto here lacks), [`relay`] TLS in front of a plain listener
//! (`wss://` to the embedded broker), [`temp`] directories removed after the test; [`aedes`] a
//! broker that speaks MQTT 3.1.1 only; [`interop`] the brokers of other ecosystems in the
//! interop matrix (amqtt, the `mqtt5` crate's broker, rmqtt); [`proxy`] real HTTP CONNECT and
//! SOCKS5 proxies (tinyproxy, microsocks); [`recorder`] a relay that records the HTTP request a
//! connection starts with;
//! [`alloc`] counts heap allocations, [`gated_alloc`] counts them only when asked (for
//! benchmarks).
#![deny(unsafe_code)]

pub mod aedes;
pub mod alloc;
mod background;
pub mod cpu;
pub mod dynsec;
pub mod embedded;
pub mod fault;
pub mod gated_alloc;
pub mod interop;
pub mod mosquitto;
pub mod program;
pub mod proxy;
pub mod recorder;
pub mod relay;
pub mod scram_broker;
pub mod temp;
pub mod tls;

pub use fault::FaultRelay;
pub use mosquitto::{free_port, free_ports, Mosquitto, Options, StartError};
pub use temp::TempDir;
