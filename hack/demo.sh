#!/usr/bin/env bash
# `make demo`, for now: what the operator would build for each example, from the planner.
# The reconciler, the OpenStack simulator, the Kubernetes API emulator and the loopback gluster
# nodes are not built yet (issues 4-7), so nothing boots and no volume is mounted today.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:?usage: hack/demo.sh PATH-TO-gluster-operator}

cat <<'MSG'
== gluster-operator demo (planner only) ==
Not built yet: the reconciler (`gluster-operator run`), the OpenStack simulator, the Kubernetes
API emulator and the loopback gluster nodes. So this demo boots nothing and mounts nothing: it
shows what the operator will build for each example, in the simulated world where zone-a and
zone-b have block storage (Cinder) and zone-c has none.

MSG
for f in examples/*.yaml; do
  echo "---------------------------------------------------------------- $f"
  "$bin" plan -f "$f" --block-storage-zones zone-a,zone-b
  echo
done
echo "== One node's cloud-init user-data (first node of the seed example; keys are throwaway) =="
"$bin" render-user-data -f examples/seed-4-nodes-replica.yaml --node 0 --volume-id 00000000-0000-0000-0000-000000000001 2>/dev/null | sed -n 1,40p
echo "   ... (cut; run the command yourself for the whole document)"
