//! The shared integration scenarios (mqtt-scenarios) under smol's executor and under
//! async-std's: one test per scenario, protocol version and executor, against brokers the
//! scenarios start. `mqtt_smol::spawn` runs each connection task on a thread of its own (an
//! async-io executor); the scenario itself, and the connection task it cuts in the will
//! scenario, run on the executor under test.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use common::{AsyncStd, OnAsyncIo, Smol};

mqtt_scenarios::scenarios!(on_smol, OnAsyncIo(Smol));
mqtt_scenarios::scenarios!(on_async_std, OnAsyncIo(AsyncStd));
mqtt_scenarios::websocket_scenarios!(websocket_on_smol, OnAsyncIo(Smol));
mqtt_scenarios::websocket_scenarios!(websocket_on_async_std, OnAsyncIo(AsyncStd));
mqtt_scenarios::interop_matrix!(interop_on_smol, OnAsyncIo(Smol));
mqtt_scenarios::interop_matrix!(interop_on_async_std, OnAsyncIo(AsyncStd));
