//! Replays the corpus of the `session` fuzz target (fuzz/corpus/session) on stable Rust.
#![allow(clippy::unwrap_used, clippy::panic)]

mod fuzz_logic;

#[test]
fn session_corpus_replays_without_failure() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/session");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir:?}: {e}")) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        fuzz_logic::session_target(&data);
        count += 1;
    }
    assert!(count >= 5, "the corpus in {dir:?} has only {count} inputs");
}
