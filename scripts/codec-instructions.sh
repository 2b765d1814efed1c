#!/usr/bin/env bash
# Instructions per PUBLISH and SUBSCRIBE decode, mqtt-proto against rumqttc 0.25's codec, counted by
# valgrind's callgrind (the same count on every run; see mqtt-proto/benches/instructions.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is not installed: apt-get install -y valgrind" >&2; exit 1; }
bin=$(cargo bench -p mqtt-sansio-proto --bench instructions --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\))$/\1/p')
[ -x "$bin" ] || { echo "could not build the instructions bench" >&2; exit 1; }
packets=$((400 * 256))
count() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$@" 2>&1 \
        | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
printf '%-8s %9s %14s %14s %7s\n' version packet mqtt-proto rumqttc ratio
for version in 3.1.1 5; do
    for len in 64 4096 subscribe; do
        fill=$(count fill "$version" "$len")
        ours=$(count ours "$version" "$len")
        theirs=$(count rumqttc "$version" "$len")
        awk -v v="$version" -v l="$len" -v f="$fill" -v o="$ours" -v t="$theirs" -v n="$packets" \
            'BEGIN { a = (o - f) / n; b = (t - f) / n; printf "%-8s %9s %14.1f %14.1f %7.2f\n", v, l, a, b, a / b }'
    done
done
echo "packet: a PUBLISH with that many payload bytes, or the 3-filter SUBSCRIBE"
echo "instructions per decoded packet (the run's total minus filling the buffer, over $packets packets)"
