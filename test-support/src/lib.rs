//! Test support shared by the workspace's tests: [`mosquitto`] starts real brokers, [`alloc`]
//! counts heap allocations.
#![deny(unsafe_code)]

pub mod alloc;
pub mod mosquitto;

pub use mosquitto::{free_port, Mosquitto, Options, StartError};
