//! Arbitrary bytes into the decoder. The first byte selects the protocol version (bit 0), the
//! sending side (bit 1) and a small maximum packet size (bit 2); the rest is decoded packet by
//! packet until the decoder needs more bytes or fails. Every decoded packet must re-encode and
//! decode again to itself (see `fuzz_logic::decode_stream`). The same checks replay the corpus
//! on stable in `mqtt-proto/tests/fuzz_corpus.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../mqtt-proto/tests/fuzz_logic/mod.rs"]
mod fuzz_logic;

fuzz_target!(|data: &[u8]| {
    fuzz_logic::decode_target(data);
});
