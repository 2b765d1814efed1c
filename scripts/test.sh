#!/usr/bin/env bash
# Runs every test of the workspace: unit, integration (against a real mosquitto the tests start
# themselves), doc tests, and the replay of the fuzz corpus. This is the README's test command,
# and .ci/run ends with it. Whatever the tests need is installed here; a tool that cannot be
# installed is a loud failure.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo is not installed (https://rustup.rs)" >&2
    exit 1
fi
# mosquitto, and its command-line clients (mosquitto_pub / mosquitto_sub: the crash and
# memory tests publish and count from a process of their own).
if ! { command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; } \
    || ! command -v mosquitto_sub >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing mosquitto and mosquitto-clients (the integration tests start their own brokers)" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto mosquitto-clients >/dev/null
        # The package's own service is not wanted: the tests start brokers on free ports.
        systemctl disable --now mosquitto >/dev/null 2>&1 || service mosquitto stop >/dev/null 2>&1 || true
    else
        echo "error: mosquitto is missing; install it with: sudo apt-get install -y mosquitto mosquitto-clients" >&2
        exit 1
    fi
fi
# The proxies the proxy tests start (test-support/src/proxy.rs): tinyproxy (HTTP CONNECT with
# Basic authentication) and microsocks (SOCKS5, with and without a user name and password).
if ! command -v tinyproxy >/dev/null 2>&1 || ! command -v microsocks >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing tinyproxy and microsocks (the proxy tests start their own proxies)" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tinyproxy microsocks >/dev/null
        # The package's own service is not wanted: the tests start proxies on free ports.
        systemctl disable --now tinyproxy >/dev/null 2>&1 || service tinyproxy stop >/dev/null 2>&1 || true
    else
        echo "error: tinyproxy or microsocks is missing; install them with: sudo apt-get install -y tinyproxy microsocks" >&2
        exit 1
    fi
fi
# openssl: the TLS tests make client certificates with RSA keys (PKCS#8 and PKCS#1) with it.
if ! command -v openssl >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing openssl (the TLS tests make RSA client certificates with it)" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
    else
        echo "error: openssl is missing; install it with: sudo apt-get install -y openssl" >&2
        exit 1
    fi
fi
# ip (iproute2) and unshare (util-linux): the embassy driver's tests run embassy-net over a TAP
# device in a network namespace of their own (mqtt-embassy/tests/support), which needs root.
if ! command -v ip >/dev/null 2>&1 || ! command -v unshare >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing iproute2 and util-linux (the embassy tests make a TAP device in a namespace)" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 util-linux >/dev/null
    else
        echo "error: ip or unshare is missing; install them with: sudo apt-get install -y iproute2 util-linux" >&2
        exit 1
    fi
fi
# Node.js and aedes, a broker that speaks MQTT 3.1.1 only (a v5 client meeting one), pinned by
# test-support/aedes/package-lock.json.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing nodejs and npm (the tests start aedes, an MQTT 3.1.1-only broker)" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
    else
        echo "error: Node.js is missing; install it with: sudo apt-get install -y nodejs npm" >&2
        exit 1
    fi
fi
if [ ! -f test-support/aedes/node_modules/aedes/package.json ]; then
    echo "installing aedes (npm ci in test-support/aedes)" >&2
    npm ci --prefix test-support/aedes --no-audit --no-fund >/dev/null
fi
# The other brokers of the interop matrix (docs/interop.md): amqtt (PyPI), the mqtt5 crate's
# broker and rmqtt (crates.io), under target/interop; cached there for the next run.
bash scripts/interop-brokers.sh
cargo test --workspace
