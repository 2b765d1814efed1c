#![allow(clippy::unwrap_used, clippy::panic)]
//! Replays the corpus of the `decode` fuzz target (`fuzz/corpus/decode`) through the same checks
//! as the target, on stable Rust, so that every input the fuzzer kept (and every crash it once
//! found) stays a regression test.

mod fuzz_logic;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

#[test]
fn decode_corpus_replays() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/decode");
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read the corpus {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the corpus {} is empty", dir.display());

    let mut failed = Vec::new();
    let mut undecoded_recordings = Vec::new();
    for file in &files {
        let data = std::fs::read(file).unwrap();
        match catch_unwind(AssertUnwindSafe(|| fuzz_logic::decode_target(&data))) {
            Ok(packets) => {
                // The seeds taken from the mosquitto recordings are real packet streams.
                let name = file.file_name().unwrap().to_string_lossy();
                if name.starts_with("mosquitto-") && packets == 0 {
                    undecoded_recordings.push(name.into_owned());
                }
            }
            Err(_) => failed.push(file.display().to_string()),
        }
    }
    assert!(failed.is_empty(), "corpus inputs failing: {failed:#?}");
    assert!(
        undecoded_recordings.is_empty(),
        "recordings that decode to no packet: {undecoded_recordings:#?}"
    );
}
