#!/usr/bin/env python3
"""Loopback TCP relay that records MQTT byte streams as test vectors.

Usage:
    record.py LISTEN_PORT BROKER_PORT OUT_DIR NAME [NAME ...]

Listens on 127.0.0.1:LISTEN_PORT. The i-th accepted client connection is
relayed to 127.0.0.1:BROKER_PORT and recorded as
    OUT_DIR/NAME_i.client.bin   (bytes the client sent, in order)
    OUT_DIR/NAME_i.server.bin   (bytes the broker sent, in order)
Connections are relayed concurrently (needed for session take-over), and
the script exits once every named connection has closed in both
directions, or after --timeout seconds (default 30) in total.
Prints "ready" on stdout once listening.

Re-recording (the vectors in this directory were made this way, see
MANIFEST.tsv for the exact client command lines):
    1. start mosquitto 2.x with a config containing
           listener <BROKER_PORT> 127.0.0.1
           allow_anonymous true
       (plus `password_file` for the auth scenarios, made with
       `mosquitto_passwd -b -c pwfile user pass`).
    2. run `record.py <LP> <BP> . v5-pub-qos1 &`, wait for "ready", then
       `timeout 10 mosquitto_pub -p <LP> -V mqttv5 -i ... -t ... -q 1 -m hi`.
Always pass a fixed client id (-i); mosquitto's default id contains the pid.
Only the byte streams are kept; TCP segmentation is not recorded.
"""
import socket
import sys
import threading
import time


def pump(src, dst, path):
    """Copy src -> dst until EOF, appending every chunk to `path`."""
    with open(path, "wb") as out:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            out.write(data)
            out.flush()
            try:
                dst.sendall(data)
            except OSError:
                break
    try:
        dst.shutdown(socket.SHUT_WR)  # propagate half-close
    except OSError:
        pass


def main():
    args = sys.argv[1:]
    timeout = 30.0
    if len(args) >= 2 and args[0] == "--timeout":
        timeout, args = float(args[1]), args[2:]
    if len(args) < 4:
        sys.exit(__doc__)
    lport, bport, out_dir, names = int(args[0]), int(args[1]), args[2], args[3:]

    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", lport))
    lsock.listen(len(names))
    deadline = time.monotonic() + timeout
    print("ready", flush=True)

    threads = []
    for name in names:
        lsock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            client, _ = lsock.accept()
        except socket.timeout:
            print(f"timeout waiting for connection {name}", file=sys.stderr)
            break
        broker = socket.create_connection(("127.0.0.1", bport))
        for s in (client, broker):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        base = f"{out_dir}/{name}"
        for src, dst, suffix in ((client, broker, "client"), (broker, client, "server")):
            t = threading.Thread(target=pump, args=(src, dst, f"{base}.{suffix}.bin"), daemon=True)
            t.start()
            threads.append(t)
    lsock.close()
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    sys.exit(1 if any(t.is_alive() for t in threads) else 0)


if __name__ == "__main__":
    main()
