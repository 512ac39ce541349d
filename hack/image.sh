#!/usr/bin/env bash
# `make image`: the operator's OCI image as an OCI archive, built without any registry or
# container engine. The binary is static (glibc with crt-static: rustls + ring, no OpenSSL, no
# shared libraries) and built with paths remapped; hack/oci-image.py lays it on an empty base
# (non-root user 65532, the CA bundle, OCI labels) with every timestamp at SOURCE_DATE_EPOCH
# (default: the HEAD commit's time), so the same commit gives the same image digest.
# Output: $CARGO_TARGET_DIR/oci/gluster-operator-<appVersion>.oci.tar, tag <appVersion>
# (the chart's default image is gluster-operator:<appVersion>).
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir=${CARGO_TARGET_DIR:-target}
triple=x86_64-unknown-linux-gnu
version=$(sed -n 's/^appVersion: "\(.*\)"$/\1/p' charts/gluster-operator/Chart.yaml)
[ -n "$version" ] || { echo "image: no appVersion in charts/gluster-operator/Chart.yaml" >&2; exit 1; }
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if [ "$revision" != unknown ] && [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  revision="$revision-dirty"
fi
# org.opencontainers.image.source: IMAGE_SOURCE, else the clone's origin URL.
source=${IMAGE_SOURCE:-$(git config --get remote.origin.url 2>/dev/null || echo unknown)}
cargo_home=${CARGO_HOME:-$HOME/.cargo}
# SOURCE_DATE_EPOCH stays out of the cargo build: the build scripts of ring and psm (cc) rerun
# when it changes, which would rebuild the whole tree on every commit; rustc embeds no time.
env -u SOURCE_DATE_EPOCH RUSTFLAGS="-C target-feature=+crt-static --remap-path-prefix=$PWD=/src --remap-path-prefix=$cargo_home=/cargo" \
  cargo build --release --locked -q -p gluster-operator --bin gluster-operator --target "$triple"
bin="$target_dir/$triple/release/gluster-operator"
if ! file -b "$bin" | grep -q "static"; then
  echo "image: $bin is not statically linked: $(file -b "$bin")" >&2
  exit 1
fi
SOURCE_DATE_EPOCH=$epoch python3 hack/oci-image.py --binary "$bin" \
  --out "$target_dir/oci/gluster-operator-$version.oci.tar" \
  --version "$version" --revision "$revision" \
  --source "$source"
