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
  glusterfs-server glusterfs-client  # real glusterd, gluster CLI, glfsheal, FUSE mounts in tests
  openssh-server openssh-client sudo # real sshd and ssh-keygen for the SSH executor tests
  passwd tini                   # e2e loopback nodes: useradd, each node's init (PID 1)
  lua5.4                        # runs the chart's Argo CD health check (argocd/health.lua)
  prometheus                    # promtool check/test rules; a real Prometheus scraping the operator
  skopeo umoci file             # make image: the OCI archive inspected, unpacked, its binary checked static
  qemu-system-x86 qemu-utils debootstrap genisoimage dpkg-dev curl  # make vm-e2e: VMs, image, seed, mirror
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
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

# The real OpenStack CLI (PyPI python-openstackclient, pinned) in its own venv (its many
# dependencies stay apart from .tools/venv): the simulator's tests run it to show that a client
# nobody here wrote accepts the simulator's responses.
OSC_VERSION=10.5.0
OSC_VENV=.tools/venv-osc
if [ "$("$OSC_VENV/bin/openstack" --version 2>/dev/null)" != "openstack $OSC_VERSION" ]; then
  echo "setup: installing python-openstackclient $OSC_VERSION into $OSC_VENV"
  python3 -m venv "$OSC_VENV"
  "$OSC_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "python-openstackclient==$OSC_VERSION"
  "$OSC_VENV/bin/openstack" --version
fi

# The test control plane (etcd, kube-apiserver, kube-controller-manager) built from the Go modules
# pinned in hack/kube/, outside the clone; a no-op once built for these pins (about 15 minutes on
# 2 cores the first time).
hack/kube/build.sh >/dev/null
