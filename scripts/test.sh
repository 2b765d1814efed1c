#!/usr/bin/env bash
# Runs every test of the workspace: unit, integration, doc tests, and the replay of the fuzz
# corpus. This is the README's test command, and .ci/run ends with it.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo is not installed (https://rustup.rs)" >&2
    exit 1
fi
cargo test --workspace
