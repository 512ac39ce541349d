#!/usr/bin/env bash
# The Krew release of `kubectl gluster`: a reproducible tar.gz of the plugin binary (mtime
# SOURCE_DATE_EPOCH, owner 0/0) and hack/krew/gluster.yaml with its version, URI and sha256
# filled in, both under $CARGO_TARGET_DIR/krew/. KREW_BINARY: the binary to package (default:
# a release build); KREW_URI_BASE: where the archive will be published.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir=${CARGO_TARGET_DIR:-target}
version=$(sed -n 's/^appVersion: "\(.*\)"$/\1/p' charts/gluster-operator/Chart.yaml)
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
bin=${KREW_BINARY:-}
if [ -z "$bin" ]; then
  # Without SOURCE_DATE_EPOCH: ring's and psm's build scripts rerun when it changes.
  env -u SOURCE_DATE_EPOCH cargo build --release --locked -q -p gluster-operator --bin kubectl-gluster
  bin="$target_dir/release/kubectl-gluster"
fi
homepage=${KREW_HOMEPAGE:-$(git config --get remote.origin.url 2>/dev/null || echo unknown)}
uri_base=${KREW_URI_BASE:-$homepage/releases/download/v$version}
out="$target_dir/krew"
mkdir -p "$out"
archive="$out/kubectl-gluster-linux-amd64.tar.gz"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
install -m 0755 "$bin" "$stage/kubectl-gluster"
tar --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner \
  -C "$stage" -cf - kubectl-gluster | gzip -9n > "$archive"
sha=$(sha256sum "$archive" | cut -d' ' -f1)
sed -e "s|@VERSION@|$version|" -e "s|@HOMEPAGE@|$homepage|" \
  -e "s|@URI@|$uri_base/kubectl-gluster-linux-amd64.tar.gz|" -e "s|@SHA256@|$sha|" \
  hack/krew/gluster.yaml > "$out/gluster.yaml"
echo "$archive $sha"
echo "$out/gluster.yaml"
