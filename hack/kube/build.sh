#!/usr/bin/env bash
# Builds the test control plane (etcd, kube-apiserver, kube-controller-manager) from the Go
# modules pinned in hack/kube/go.mod + go.sum, into a directory outside the clone keyed by the
# hash of those pins, so a rebuild happens only when a pin changes. Prints that directory's
# bin/ path on the last line of stdout. Go caches (modules, build) live beside it.
#
#   KUBE_CACHE_DIR   where binaries and Go caches go (default /var/cache/gluster-operator)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${KUBE_CACHE_DIR:-/var/cache/gluster-operator}"
pins="$(cat "$here/build.sh" "$here/go.mod" "$here/go.sum" "$here"/cmd/*/main.go | sha256sum | cut -c1-16)"
out="$cache/kube/$pins"
bins=(etcd kube-apiserver kube-controller-manager)

built() {
  for b in "${bins[@]}"; do [ -x "$out/bin/$b" ] || return 1; done
}
if built; then
  echo "$out/bin"
  exit 0
fi
# One build at a time (tests that start control planes concurrently each call this script):
# the others wait for it, then find the binaries built.
mkdir -p "$cache/kube"
exec 9>"$cache/kube/build.lock"
flock 9
if built; then
  echo "$out/bin"
  exit 0
fi

# Go as installed from go.dev lives in /usr/local/go/bin, which a non-login shell may not have.
command -v go >/dev/null || PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { echo "hack/kube/build.sh: go not found (Go 1.26 is needed to build the test control plane)" >&2; exit 1; }
export GOMODCACHE="$cache/go/mod" GOCACHE="$cache/go/build" GOFLAGS="-mod=readonly -trimpath -buildvcs=false"
mkdir -p "$out/bin.tmp"
start=$(date +%s)
echo "kube control plane: building ${bins[*]} from hack/kube/go.mod (pins $pins) into $out; the first build takes about 15 minutes on 2 cores" >&2
cd "$here"
# The release the binaries report (`kubectl version`, /version): the pinned module versions.
k8s=$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' go.mod)
etcd=$(awk '$1 == "go.etcd.io/etcd/server/v3" { print $2; exit }' go.mod)
minor=${k8s#v1.}; minor=${minor%%.*}
vpkg=k8s.io/component-base/version
kube_ldflags="-X $vpkg.gitVersion=$k8s -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=$minor -X $vpkg.gitTreeState=clean -X $vpkg.buildDate=1970-01-01T00:00:00Z"
for b in "${bins[@]}"; do
  t=$(date +%s)
  echo "kube control plane: go build $b ..." >&2
  case $b in
    etcd) ldflags="-X go.etcd.io/etcd/api/v3/version.GitSHA=${etcd}" ;;
    *) ldflags=$kube_ldflags ;;
  esac
  go build -ldflags "$ldflags" -o "$out/bin.tmp/$b" "./cmd/$b"
  echo "kube control plane: $b built in $(( $(date +%s) - t )) s" >&2
done
rm -rf "$out/bin"
mv "$out/bin.tmp" "$out/bin"
echo "kube control plane: built in $(( $(date +%s) - start )) s: $("$out/bin/kube-apiserver" --version 2>/dev/null)" >&2
echo "$out/bin"
