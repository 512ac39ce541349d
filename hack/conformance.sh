#!/usr/bin/env bash
# `make conformance`: the client and the operator against a real OpenStack on loopback.
# Installs the cloud (e2e/conformance/setup.sh), starts it in a fresh directory, runs the
# conformance test targets against it, and stops everything it started, whatever happens.
# With E2E_CONFORMANCE_CLOUDS already set (a running cloud's clouds.yaml, e.g. one started by
# `e2e/conformance/cloud.sh up DIR` for quick loops), only the tests run.
set -euo pipefail
cd "$(dirname "$0")/.."

TESTS=(--test conformance_cloud --test conformance_client --test conformance_operator
    --test conformance_bench)
run_tests() {
    local t0=$SECONDS
    # conformance_bench runs the operator binary of the same profile.
    cargo build -p gluster-operator --bin gluster-operator
    cargo test -p e2e --features conformance "${TESTS[@]}" -- --nocapture
    echo "conformance: tests ran in $((SECONDS - t0)) s"
}

if [[ -n ${E2E_CONFORMANCE_CLOUDS:-} ]]; then
    echo "conformance: using the cloud of $E2E_CONFORMANCE_CLOUDS"
    run_tests
    exit 0
fi

t0=$SECONDS
e2e/conformance/setup.sh
echo "conformance: setup in $((SECONDS - t0)) s"
dir=$(mktemp -d /tmp/conformance-cloud.XXXXXX)
stop() {
    e2e/conformance/cloud.sh down "$dir" || true
    rm -rf "$dir"
}
trap stop EXIT
t0=$SECONDS
e2e/conformance/cloud.sh up "$dir"
echo "conformance: cloud up in $((SECONDS - t0)) s"
e2e/conformance/cloud.sh status "$dir"
export E2E_CONFORMANCE_CLOUDS=$dir/clouds.yaml
run_tests
