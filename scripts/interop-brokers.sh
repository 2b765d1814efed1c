#!/usr/bin/env bash
# Installs the brokers of the interop matrix (docs/interop.md) that no system package brings,
# under target/interop/ (or $MQTT_INTEROP_DIR), where test-support's launchers look for them.
# Each step is skipped when its result is already there, so a rerun costs nothing.
#   amqtt        PyPI, pinned, in a virtual environment (Python 3 with venv)
#   mqtt5 broker test-support/mqtt5-broker: the `mqtt5` crate's broker, pinned by its Cargo.lock
#   rmqtt        test-support/rmqtt-broker: rmqtt and its retainer plugin, pinned by its Cargo.lock
# aedes (npm), mosquitto (Debian) and rumqttd (a dev-dependency) are installed elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${MQTT_INTEROP_DIR:-$PWD/target/interop}"
mkdir -p "$dir"
AMQTT_VERSION=0.12.1
installed=""
if [ -x "$dir/amqtt/bin/pip" ]; then
    installed="$("$dir/amqtt/bin/pip" show amqtt 2>/dev/null || true)"
fi
if [ ! -x "$dir/amqtt/bin/amqtt" ] || ! grep -qx "Version: $AMQTT_VERSION" <<<"$installed"; then
    if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            echo "installing python3-venv (amqtt is installed into a virtual environment)" >&2
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
        else
            echo "error: Python 3 with venv is missing; install it with: sudo apt-get install -y python3-venv" >&2
            exit 1
        fi
    fi
    echo "installing amqtt $AMQTT_VERSION (PyPI) into $dir/amqtt" >&2
    rm -rf "$dir/amqtt"
    python3 -m venv "$dir/amqtt"
    "$dir/amqtt/bin/pip" install -q --disable-pip-version-check "amqtt==$AMQTT_VERSION"
fi
# The two Rust brokers: small programs of ours, each a workspace of its own with its own lock
# file, built into one target directory (what they share, tokio and the like, is built once);
# cargo rebuilds nothing when they are up to date.
for broker in mqtt5-broker rmqtt-broker; do
    echo "building test-support/$broker into $dir/cargo" >&2
    cargo build --quiet --locked --manifest-path "test-support/$broker/Cargo.toml" \
        --target-dir "$dir/cargo"
done
