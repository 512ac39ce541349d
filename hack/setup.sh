#!/usr/bin/env bash
# Installs everything `make test` and `make demo` need on a fresh Debian/Ubuntu machine (as root).
# Idempotent: a second run installs nothing. Debian packages first, then the tools directory.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests and the demo use, one concern per line.
APT_PACKAGES=(
  xfsprogs util-linux           # mkfs.xfs, xfs_info, losetup, blkid: brick preparation
  shellcheck                    # lint of the rendered brick script
  cloud-init                    # `cloud-init schema` validates rendered user-data
  e2fsprogs fdisk               # mkfs.ext4, sfdisk: foreign disks the brick script must not format
  glusterfs-server glusterfs-client  # e2e loopback nodes: real glusterd, bricks, FUSE mounts
  openssh-server openssh-client # e2e loopback nodes: sshd per node; the ssh client of the tests
  sudo passwd tini              # e2e loopback nodes: the operator's sudo rule, useradd, each node's init
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages (${missing[*]}); run as root or install them" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

hack/tools.sh
hack/python-tools.sh
