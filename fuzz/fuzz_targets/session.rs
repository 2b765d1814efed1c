//! Arbitrary server bytes, timer ticks and commands into a `Session` (see
//! `mqtt-session/tests/fuzz_logic/mod.rs` for the script format and the checks). The corpus is
//! replayed on stable by `mqtt-session/tests/fuzz_corpus.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../mqtt-session/tests/fuzz_logic/mod.rs"]
mod fuzz_logic;

fuzz_target!(|data: &[u8]| {
    fuzz_logic::session_target(data);
});
