#!/usr/bin/env bash
# `make demo`: the main job on the local world. Starts devenv (OpenStack simulator, a real
# Kubernetes control plane, loopback gluster nodes) and the operator (with a token of the chart's
# ServiceAccount, so with the chart's RBAC), applies the seed's 4-node
# example, shows progress until the GlusterCluster is Ready, mounts the gluster volume with FUSE
# and writes a file, then tells how to look around. On Enter (or at once without a terminal)
# it cleans everything up: operator, devenv, nodes, loop devices, the mount.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:?usage: hack/demo.sh DIR-WITH-BINARIES}
dir=${DEMO_DIR:-/tmp/gluster-demo}
example=examples/seed-4-nodes-replica.yaml
kubectl=$PWD/.tools/bin/kubectl
http=127.0.0.1:18080

say() { printf '\n== %s\n' "$*"; }

devenv_pid=
operator_pid=
cleanup() {
  set +e
  if mountpoint -q "$dir/mnt" 2>/dev/null; then umount "$dir/mnt"; fi
  if [ -n "$operator_pid" ] && kill -0 "$operator_pid" 2>/dev/null; then
    kill -TERM "$operator_pid"; wait "$operator_pid" 2>/dev/null
  fi
  if [ -n "$devenv_pid" ] && kill -0 "$devenv_pid" 2>/dev/null; then
    kill -TERM "$devenv_pid"; wait "$devenv_pid" 2>/dev/null
  fi
  echo "demo: cleaned up (operator, devenv, gluster nodes, loop devices, mount)"
}
trap cleanup EXIT

rm -rf "$dir"
mkdir -p "$dir/mnt"
say "starting devenv: OpenStack simulator, Kubernetes (etcd, kube-apiserver, kube-controller-manager), loopback gluster nodes"
"$bin/devenv" up --dir "$dir" >"$dir/devenv.log" 2>&1 &
devenv_pid=$!
for _ in $(seq 1 1800); do
  [ -e "$dir/ready" ] && break
  kill -0 "$devenv_pid" 2>/dev/null || { cat "$dir/devenv.log"; echo "demo: devenv exited" >&2; exit 1; }
  sleep 0.1
done
[ -e "$dir/ready" ] || { echo "demo: devenv not ready within 180 s" >&2; exit 1; }
sed -n '1,16p' "$dir/devenv.log"
export KUBECONFIG="$dir/kubeconfig"

say "kubectl version (the real API server)"
"$kubectl" version

say "starting the operator: gluster-operator run (JSON logs in $dir/operator.log)"
KUBECONFIG="$dir/operator.kubeconfig" "$bin/gluster-operator" run --http-addr="$http" --log-level=info \
  --leader-election-lease=devenv-gluster-operator --pod-namespace=gluster-system \
  >"$dir/operator.log" 2>&1 &
operator_pid=$!

say "kubectl apply -f $example"
"$kubectl" apply -f "$example"
name=$("$kubectl" get -f "$example" -o jsonpath='{.metadata.name}')

say "waiting for GlusterCluster/$name to be Ready (servers boot, bricks are prepared, the pool forms, the volume starts)"
start=$(date +%s)
last=
until "$kubectl" wait --for=condition=Ready "glustercluster/$name" --timeout=2s >/dev/null 2>&1; do
  now=$("$kubectl" get glustercluster "$name" --no-headers 2>/dev/null || true)
  if [ "$now" != "$last" ]; then printf '  %3ss  %s\n' "$(( $(date +%s) - start ))" "$now"; last=$now; fi
  kill -0 "$operator_pid" 2>/dev/null || { tail -20 "$dir/operator.log"; echo "demo: the operator exited" >&2; exit 1; }
  if [ $(( $(date +%s) - start )) -gt 600 ]; then
    "$kubectl" describe glustercluster "$name" | tail -30
    echo "demo: not Ready within 10 minutes" >&2; exit 1
  fi
done
echo "  Ready after $(( $(date +%s) - start )) s"

say "kubectl get glusterclusters"
"$kubectl" get glusterclusters
mount_source=$("$kubectl" get glustercluster "$name" -o jsonpath='{.status.mount}')
backups=$("$kubectl" get glustercluster "$name" -o jsonpath='{.status.backupVolfileServers}')
echo "status.mount: $mount_source    backup volfile servers: $backups"

if "$kubectl" get secret "$name-client-tls" >/dev/null 2>&1; then
  # TLS (the default): gluster's client reads its certificate at fixed paths (/usr/lib/ssl) and
  # needs /var/lib/glusterd/secure-access. They are put there in a mount namespace of the mount's
  # own, so this machine's /usr/lib/ssl and /var/lib/glusterd are never touched.
  say "mount -t glusterfs $mount_source with the client certificate of Secret $name-client-tls, write and read a file"
  tls=$dir/client-tls
  mkdir -p "$tls/ssl" "$tls/work" "$tls/glusterd"
  for f in glusterfs.pem glusterfs.key glusterfs.ca; do
    "$kubectl" get secret "$name-client-tls" -o jsonpath="{.data.${f//./\\.}}" | base64 -d >"$tls/ssl/$f"
  done
  chmod 600 "$tls/ssl/glusterfs.key"
  touch "$tls/glusterd/secure-access"
  # shellcheck disable=SC2016 # the script's own arguments, expanded inside it
  unshare -m --propagation private sh -euc '
    mount -t overlay overlay -o "lowerdir=/usr/lib/ssl,upperdir=$1/ssl,workdir=$1/work" /usr/lib/ssl
    mount --bind "$1/glusterd" /var/lib/glusterd
    mount -t glusterfs "$2" "$3"
    echo "written by make demo at $(date -u +%FT%TZ)" >"$3/hello.txt"
    cat "$3/hello.txt"
    df -h "$3" | sed -n "1,2p"
    umount "$3"
  ' demo "$tls" "$mount_source" "$dir/mnt"
  echo "(the mount lived in its own mount namespace; README, \"Mounting a TLS volume\", shows a client's way)"
else
  say "mount -t glusterfs $mount_source $dir/mnt, write and read a file"
  mount -t glusterfs "$mount_source" "$dir/mnt"
  echo "written by make demo at $(date -u +%FT%TZ)" >"$dir/mnt/hello.txt"
  cat "$dir/mnt/hello.txt"
  df -h "$dir/mnt" | sed -n '1,2p'
fi

say "look around (in another shell)"
cat <<EOF
  export KUBECONFIG=$dir/kubeconfig
  $kubectl get glusterclusters            # the printer columns
  $kubectl describe glustercluster $name  # conditions and events
  $kubectl get glustercluster $name -o yaml
  OS_CLIENT_CONFIG_FILE=$dir/clouds.yaml .tools/venv-osc/bin/openstack --os-cloud sim server list
  $kubectl get secret $name-client-tls     # a client's certificate (README: "Mounting a TLS volume")
  curl -s http://$http/metrics | grep gluster_operator
EOF
if [ -t 0 ]; then
  read -r -p "Press Enter to stop everything and clean up... " _
fi
