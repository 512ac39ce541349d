#!/usr/bin/env bash
# `make bench-real-cloud`: the operator beside OpenStack Heat and direct calls on a real
# OpenStack on loopback (issue 9 part 3). Installs the conformance cloud
# (e2e/conformance/setup.sh), starts it in a fresh directory, runs `bench --real-cloud` against
# it and stops everything it started, whatever happens. With BENCH_CLOUD_DIR set (a running
# cloud's directory, from `e2e/conformance/cloud.sh up DIR`), only the bench runs.
# Arguments go to the bench (e.g. --real-cloud-sizes 4).
set -euo pipefail
cd "$(dirname "$0")/.."

target=${CARGO_TARGET_DIR:-target}
cargo build --release -p gluster-operator -p e2e --bin gluster-operator --bin bench
bench() {
    "$target/release/bench" --operator-bin "$target/release/gluster-operator" \
        --real-cloud "$1" "${@:2}"
}

if [[ -n ${BENCH_CLOUD_DIR:-} ]]; then
    bench "$BENCH_CLOUD_DIR" "$@"
    exit
fi

e2e/conformance/setup.sh
dir=$(mktemp -d /tmp/bench-cloud.XXXXXX)
stop() {
    e2e/conformance/cloud.sh down "$dir" || true
    rm -rf "$dir"
}
trap stop EXIT
e2e/conformance/cloud.sh up "$dir"
bench "$dir" "$@"
