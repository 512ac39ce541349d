#!/bin/bash
# Builds the VM e2e base image and its package mirror (issue #22), cached by recipe hash.
#
#   hack/vm-image/build.sh            # prints the cache directory holding the result
#
# Result, in $VM_CACHE/<recipe hash>/ (default VM_CACHE=/var/cache/gluster-operator/vm):
#   base.qcow2  Debian 12 (debootstrap): systemd, cloud-init (NoCloud), openssh-server, sudo,
#               locales, ifupdown, the cloud kernel; no gluster, no xfsprogs. Its root is the
#               whole disk (ext4, no partition table): the VM boots vmlinuz/initrd.img directly.
#               Its only apt source is the local mirror at http://$MIRROR_ADDR:$MIRROR_PORT/,
#               as a cloud image points at its region's mirror.
#   vmlinuz, initrd.img  the image's kernel and initramfs
#   mirror/     glusterfs-server, xfsprogs and every dependency the base lacks (.deb files,
#               downloaded by apt in the image's own root, so the set is exactly what the VM
#               will install), indexed by dpkg-scanpackages (Packages, Packages.gz)
#   recipe      what the hash covers
# A recipe change (this script) gives a new hash and a new directory; older ones are removed.
set -euo pipefail

VM_CACHE=${VM_CACHE:-/var/cache/gluster-operator/vm}
SUITE=bookworm
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# The address the VMs reach the mirror at, inside the test's network namespace (the bridge).
MIRROR_ADDR=10.199.0.1
MIRROR_PORT=8080
IMAGE_SIZE=2G
BASE_PACKAGES=(systemd-sysv udev dbus linux-image-cloud-amd64 initramfs-tools cloud-init
  openssh-server sudo locales ifupdown iproute2 netbase)
MIRROR_PACKAGES=(glusterfs-server xfsprogs)

self=$(readlink -f "$0")
hash=$(sha256sum "$self" | cut -c1-16)
out=$VM_CACHE/$hash
if [[ -f $out/done ]]; then
  echo "$out"
  exit 0
fi
for tool in debootstrap qemu-img mkfs.ext4 dpkg-scanpackages; do
  command -v "$tool" >/dev/null || { echo "missing $tool (make setup installs it)" >&2; exit 2; }
done

mkdir -p "$VM_CACHE"
work=$VM_CACHE/build-$hash
root=$work/root
cleanup() {
  for m in "$root/proc" "$root/sys" "$root/dev/pts" "$root/dev"; do
    mountpoint -q "$m" 2>/dev/null && umount -l "$m" || true
  done
}
trap cleanup EXIT
cleanup
rm -rf "$work"
mkdir -p "$work"

echo "== debootstrap $SUITE (minbase) into $root" >&2
debootstrap --variant=minbase "$SUITE" "$root" "$DEBIAN_MIRROR" >&2

mount -t proc proc "$root/proc"
mount -t sysfs sys "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
# No service starts inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
in_root() { chroot "$root" env DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }

echo "== base packages: ${BASE_PACKAGES[*]}" >&2
in_root apt-get update >&2
in_root apt-get install -y --no-install-recommends "${BASE_PACKAGES[@]}" >&2

echo "== mirror packages: ${MIRROR_PACKAGES[*]} and their dependencies" >&2
mkdir -p "$root/var/tmp/mirror/partial"
in_root apt-get install -y --no-install-recommends --download-only \
  -o Dir::Cache::archives=/var/tmp/mirror "${MIRROR_PACKAGES[@]}" >&2
mkdir -p "$work/mirror"
mv "$root"/var/tmp/mirror/*.deb "$work/mirror/"
rm -rf "$root/var/tmp/mirror"
(cd "$work/mirror" && dpkg-scanpackages --multiversion . /dev/null >Packages 2>/dev/null && gzip -9k Packages)
if ! grep -q '^Package: glusterfs-server$' "$work/mirror/Packages"; then
  echo "the mirror has no glusterfs-server" >&2
  exit 1
fi

echo "== configure the image" >&2
# apt: the local mirror only (a flat repository of unsigned indexes served in the test's namespace).
rm -f "$root/etc/apt/sources.list.d/"*
echo "deb [trusted=yes] http://$MIRROR_ADDR:$MIRROR_PORT/ ./" >"$root/etc/apt/sources.list"
in_root apt-get clean
rm -rf "$root/var/lib/apt/lists/"*
# cloud-init: NoCloud seed (a cidata disk) only, as a cloud's datasource is fixed by the image.
cat >"$root/etc/cloud/cloud.cfg.d/90-gluster-e2e.cfg" <<CFG
datasource_list: [NoCloud, None]
CFG
# The console report: once cloud-init's final stage is over (each boot), what the test reads
# as an operator reads a server's console log: cloud-init's status and result, its warnings,
# the brick script's log and the brick filesystem. Written to the second serial port (ttyS1),
# which the test's qemu sends to a file; it never goes to the network.
cat >"$root/usr/local/sbin/gluster-e2e-report" <<'SH'
#!/bin/sh
# gluster-e2e-report: what the VM e2e test reads after each boot (see hack/vm-image/build.sh).
exec >/dev/ttyS1 2>&1
cloud-init status --wait >/dev/null 2>&1
echo "== boot $(cat /proc/sys/kernel/random/boot_id)"
echo "== cloud-init status --long"
cloud-init status --long
echo "== result.json"
cat /run/cloud-init/result.json
echo "== cloud-init warnings"
grep -E 'WARNING|ERROR|Traceback' /var/log/cloud-init.log /var/log/cloud-init-output.log
echo "== brick log"
cat /var/log/gluster-brick-setup.log
echo "== xfs"
for m in $(findmnt -n -t xfs -o TARGET); do echo "mount $m"; xfs_info "$m"; done
echo "== end"
SH
chmod 0755 "$root/usr/local/sbin/gluster-e2e-report"
cat >"$root/etc/systemd/system/gluster-e2e-report.service" <<'UNIT'
[Unit]
Description=VM e2e console report (cloud-init status, warnings, brick)
After=cloud-final.service
Wants=cloud-final.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/gluster-e2e-report

[Install]
WantedBy=cloud-init.target
UNIT
mkdir -p "$root/etc/systemd/system/cloud-init.target.wants"
ln -sf /etc/systemd/system/gluster-e2e-report.service \
  "$root/etc/systemd/system/cloud-init.target.wants/gluster-e2e-report.service"
# cloud-init's default locale (en_US.UTF-8) is generated, as in Debian's own cloud images;
# without it cloud-init's locale module fails (update-locale exits 255).
sed -i 's/^# *en_US.UTF-8 UTF-8/en_US.UTF-8 UTF-8/' "$root/etc/locale.gen"
in_root locale-gen >&2
# The VM boots the kernel and initramfs copied out below (as a cloud with direct kernel boot),
# so regenerating the initramfs inside it (xfsprogs' trigger) only costs minutes under TCG.
sed -i 's/^update_initramfs=.*/update_initramfs=no/' "$root/etc/initramfs-tools/update-initramfs.conf"
echo "/dev/vda / ext4 defaults,errors=remount-ro 0 1" >"$root/etc/fstab"
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id" "$root/etc/ssh/ssh_host_"*
rm -f "$root/etc/hostname"
rm -f "$root/usr/sbin/policy-rc.d"
cp "$root/boot/vmlinuz-"* "$work/vmlinuz"
cp "$root/boot/initrd.img-"* "$work/initrd.img"
cleanup

echo "== base.qcow2 ($IMAGE_SIZE ext4 from the root directory)" >&2
truncate -s "$IMAGE_SIZE" "$work/root.raw"
mkfs.ext4 -q -F -L root -d "$root" "$work/root.raw" >&2
qemu-img convert -f raw -O qcow2 "$work/root.raw" "$work/base.qcow2"
rm -rf "$work/root.raw" "$root"
{
  echo "script sha256 prefix: $hash"
  echo "suite: $SUITE"
  echo "base packages: ${BASE_PACKAGES[*]}"
  echo "mirror packages: ${MIRROR_PACKAGES[*]}"
  echo "mirror: http://$MIRROR_ADDR:$MIRROR_PORT/"
} >"$work/recipe"
# Older recipes' results go (the disk is shared).
for old in "$VM_CACHE"/*/; do
  old=${old%/}
  [[ $old == "$work" || $(basename "$old") == build-* && $old == "$work" ]] && continue
  [[ -f $old/recipe || $(basename "$old") == build-* ]] && rm -rf "$old"
done
rm -rf "$out"
mv "$work" "$out"
touch "$out/done"
echo "$out"
