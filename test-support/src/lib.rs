//! Test support shared by the workspace's tests: [`mosquitto`] starts real brokers, [`alloc`]
//! counts heap allocations, [`gated_alloc`] counts them only when asked (for benchmarks).
#![deny(unsafe_code)]

pub mod alloc;
pub mod embedded;
pub mod gated_alloc;
pub mod mosquitto;
pub mod tls;

pub use mosquitto::{free_port, Mosquitto, Options, StartError};
