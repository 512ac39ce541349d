#!/bin/sh
# gluster-brick-setup: prepares this node's GlusterFS brick (shipped by gluster-operator).
#
# Finds the brick device - a Cinder volume by its ID under /dev/disk/by-id, or the ephemeral
# disk that cloud-init mounted at /mnt - and never guesses a name such as /dev/vdc. Formats it
# XFS with inode size 512 only when it carries no signature at all (a reattached brick keeps its
# data), mounts it through an fstab entry by UUID with nofail, creates the brick directory
# <mount>/brick and optionally starts glusterd. Safe to run again: a second run changes nothing.
# Every path is a parameter, so tests run it against loop devices under a scratch root.
#
# Usage: gluster-brick-setup (--volume-id ID | --ephemeral) --mount-path DIR [options]
#   --volume-id ID          the Cinder volume ID of the brick
#   --ephemeral             use the ephemeral disk cloud-init mounted at --ephemeral-mount
#   --mount-path DIR        where the brick filesystem is mounted (the brick is DIR/brick)
#   --by-id-dir DIR         where the by-id links are          (default /dev/disk/by-id)
#   --fstab FILE            the fstab to read and edit          (default /etc/fstab)
#   --ephemeral-mount DIR   where cloud-init mounted ephemeral0 (default /mnt)
#   --log FILE              the log file, appended to           (default /var/log/gluster-brick-setup.log)
#   --wait SECONDS          how long to wait for the device     (default 300)
#   --start-glusterd        enable and start glusterd once the brick is mounted
#   --glusterd-uuid UUID    the node's glusterd identity: written to glusterd.info (with the
#                           installed glusterd's operating-version) when that file has no UUID
#                           yet, before glusterd starts; an existing UUID is kept
#   --glusterd-dir DIR      glusterd's working directory             (default /var/lib/glusterd)
#   --peer UUID=ADDRESS     a peer of the pool this node returns to (repeatable): written to
#                           DIR/peers/UUID as a befriended peer with the identity, so that the
#                           survivors, who know this node's UUID, hand it the volumes
# Exit status: 0 brick ready, 1 failure (the message says why), 2 usage error.
set -eu

PROG=gluster-brick-setup
VOLUME_ID=
EPHEMERAL=no
MOUNT_PATH=
BY_ID_DIR=/dev/disk/by-id
FSTAB=/etc/fstab
EPHEMERAL_MOUNT=/mnt
LOG=/var/log/gluster-brick-setup.log
WAIT=300
START_GLUSTERD=no
GLUSTERD_UUID=
GLUSTERD_DIR=/var/lib/glusterd
PEERS=
FS_OPTIONS=defaults,noatime,nofail,x-systemd.before=glusterd.service

# Set while running.
DEVICE=
EPHEMERAL_EMPTY=no
CHANGED=no

log() {
    line="$(date -u +%Y-%m-%dT%H:%M:%SZ) $PROG: $*"
    printf '%s\n' "$line"
    printf '%s\n' "$line" >>"$LOG" 2>/dev/null || true
}

die() {
    line="$(date -u +%Y-%m-%dT%H:%M:%SZ) $PROG: ERROR: $*"
    printf '%s\n' "$line" >&2
    printf '%s\n' "$line" >>"$LOG" 2>/dev/null || true
    exit 1
}

usage() {
    printf '%s: %s\n' "$PROG" "$1" >&2
    printf 'usage: %s (--volume-id ID | --ephemeral) --mount-path DIR [--by-id-dir DIR] [--fstab FILE] [--ephemeral-mount DIR] [--log FILE] [--wait SECONDS] [--start-glusterd] [--glusterd-uuid UUID] [--glusterd-dir DIR] [--peer UUID=ADDRESS]...\n' "$PROG" >&2
    exit 2
}

# Runs a command, logging it and its output; returns its exit status.
run() {
    log "running: $*"
    if out=$("$@" 2>&1); then rc=0; else rc=$?; fi
    if [ -n "$out" ]; then
        printf '%s\n' "$out" | while IFS= read -r l; do log "  $l"; done
    fi
    return "$rc"
}

# Strips trailing slashes (but keeps "/").
trim_slash() {
    p=$1
    while [ "${#p}" -gt 1 ] && [ "${p%/}" != "$p" ]; do p=${p%/}; done
    printf '%s' "$p"
}

absolute() {
    case $2 in
    /*) ;;
    *) usage "$1 must be an absolute path, got '$2'" ;;
    esac
    case $2 in
    *[!A-Za-z0-9._/+@:=-]*) usage "$1 may only contain letters, digits and ._/+@:=- , got '$2'" ;;
    esac
}

while [ $# -gt 0 ]; do
    case $1 in
    --volume-id | --mount-path | --by-id-dir | --fstab | --ephemeral-mount | --log | --wait | --glusterd-uuid | --glusterd-dir | --peer)
        [ $# -ge 2 ] || usage "$1 needs a value"
        case $1 in
        --volume-id) VOLUME_ID=$2 ;;
        --mount-path) MOUNT_PATH=$2 ;;
        --by-id-dir) BY_ID_DIR=$2 ;;
        --fstab) FSTAB=$2 ;;
        --ephemeral-mount) EPHEMERAL_MOUNT=$2 ;;
        --log) LOG=$2 ;;
        --wait) WAIT=$2 ;;
        --glusterd-uuid) GLUSTERD_UUID=$2 ;;
        --glusterd-dir) GLUSTERD_DIR=$2 ;;
        --peer) PEERS="$PEERS $2" ;;
        esac
        shift 2
        ;;
    --ephemeral) EPHEMERAL=yes; shift ;;
    --start-glusterd) START_GLUSTERD=yes; shift ;;
    -h | --help) usage "prepares the GlusterFS brick of this node" ;;
    *) usage "unknown argument '$1'" ;;
    esac
done

if [ -n "$VOLUME_ID" ] && [ "$EPHEMERAL" = yes ]; then
    usage "give either --volume-id or --ephemeral, not both"
fi
if [ -z "$VOLUME_ID" ] && [ "$EPHEMERAL" = no ]; then
    usage "give --volume-id ID (a Cinder volume) or --ephemeral (the ephemeral disk)"
fi
case $VOLUME_ID in
*[!A-Za-z0-9-]*) usage "--volume-id may only contain letters, digits and '-', got '$VOLUME_ID'" ;;
esac
[ -n "$MOUNT_PATH" ] || usage "--mount-path is required"
case $WAIT in
'' | *[!0-9]*) usage "--wait must be a whole number of seconds, got '$WAIT'" ;;
esac
absolute --mount-path "$MOUNT_PATH"
absolute --by-id-dir "$BY_ID_DIR"
absolute --fstab "$FSTAB"
absolute --ephemeral-mount "$EPHEMERAL_MOUNT"
absolute --log "$LOG"
absolute --glusterd-dir "$GLUSTERD_DIR"
case $GLUSTERD_UUID in
'') ;;
[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]) ;;
*) usage "--glusterd-uuid must be a lowercase UUID, got '$GLUSTERD_UUID'" ;;
esac
for peer in $PEERS; do
    peer_uuid=${peer%%=*}
    peer_address=${peer#*=}
    case $peer_uuid in
    [0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]) ;;
    *) usage "--peer must be UUID=ADDRESS with a lowercase UUID, got '$peer'" ;;
    esac
    case $peer_address in
    '' | *[!A-Za-z0-9.:-]*) usage "--peer address may only contain letters, digits and .:- , got '$peer_address'" ;;
    esac
done
[ -z "$PEERS" ] || [ -n "$GLUSTERD_UUID" ] || usage "--peer needs --glusterd-uuid"
MOUNT_PATH=$(trim_slash "$MOUNT_PATH")
EPHEMERAL_MOUNT=$(trim_slash "$EPHEMERAL_MOUNT")
[ "$MOUNT_PATH" != / ] || usage "--mount-path cannot be /"
if [ "$EPHEMERAL" = yes ] && [ "$MOUNT_PATH" = "$EPHEMERAL_MOUNT" ]; then
    usage "--mount-path must differ from --ephemeral-mount ($EPHEMERAL_MOUNT)"
fi
mkdir -p "$(dirname "$LOG")" 2>/dev/null || true

# The source device of the topmost filesystem mounted exactly at $1, or nothing.
mounted_source() {
    findmnt -n -o SOURCE --mountpoint "$1" 2>/dev/null | tail -n 1 || true
}

# The first field of the active fstab line whose mount point is $1, or nothing.
fstab_spec_for() {
    [ -f "$FSTAB" ] || return 0
    awk -v mp="$1" '$1 !~ /^#/ && NF >= 2 && ($2 == mp || $2 == mp "/") { print $1; exit }' "$FSTAB"
}

# Resolves an fstab device spec (UUID=, LABEL=, a path) to a device path, or nothing.
resolve_spec() {
    case $1 in
    UUID=*) blkid -U "${1#UUID=}" 2>/dev/null || true ;;
    LABEL=*) blkid -L "${1#LABEL=}" 2>/dev/null || true ;;
    /*) readlink -f "$1" 2>/dev/null || true ;;
    esac
}

same_device() {
    [ -b "$1" ] && [ -b "$2" ] && [ "$(stat -L -c %t:%T "$1")" = "$(stat -L -c %t:%T "$2")" ]
}

# True when directory $1 holds nothing but lost+found.
dir_is_empty() {
    for entry in "$1"/* "$1"/.[!.]* "$1"/..?*; do
        if [ ! -e "$entry" ] && [ ! -L "$entry" ]; then continue; fi
        if [ "$entry" = "$1/lost+found" ]; then continue; fi
        return 1
    done
    return 0
}

find_volume_device() {
    short=$(printf '%s' "$VOLUME_ID" | cut -c1-20)
    # virtio-blk serials hold the first 20 characters of the ID; virtio-scsi ones hold all of it.
    candidates="virtio-$short virtio-$VOLUME_ID scsi-0QEMU_QEMU_HARDDISK_$VOLUME_ID"
    candidates="$candidates scsi-0QEMU_QEMU_HARDDISK_$short scsi-SQEMU_QEMU_HARDDISK_$VOLUME_ID"
    waited=0
    while :; do
        for name in $candidates; do
            link="$BY_ID_DIR/$name"
            if [ -e "$link" ]; then
                dev=$(readlink -f "$link")
                [ -b "$dev" ] || die "$link resolves to $dev, which is not a block device"
                DEVICE=$dev
                log "Cinder volume $VOLUME_ID is $DEVICE (via $link)"
                return 0
            fi
        done
        if [ "$waited" -ge "$WAIT" ]; then
            tried=
            for name in $candidates; do tried="$tried $BY_ID_DIR/$name"; done
            die "brick device not found: no link for Cinder volume $VOLUME_ID after ${WAIT}s (looked for$tried); is the volume attached to this server?"
        fi
        if [ "$waited" -eq 0 ]; then
            log "waiting up to ${WAIT}s for Cinder volume $VOLUME_ID to appear in $BY_ID_DIR"
        fi
        sleep 1
        waited=$((waited + 1))
    done
}

find_ephemeral_device() {
    # Taken on an earlier run: our own fstab line names it by UUID.
    spec=$(fstab_spec_for "$MOUNT_PATH")
    if [ -n "$spec" ]; then
        dev=$(resolve_spec "$spec")
        if [ -z "$dev" ] || [ ! -b "$dev" ]; then
            die "$FSTAB mounts $spec at $MOUNT_PATH but no such device exists"
        fi
        DEVICE=$dev
        log "ephemeral disk already taken: $DEVICE ($spec in $FSTAB)"
        return 0
    fi
    src=$(mounted_source "$EPHEMERAL_MOUNT")
    if [ -z "$src" ]; then
        espec=$(fstab_spec_for "$EPHEMERAL_MOUNT")
        [ -n "$espec" ] || die "brick device not found: nothing is mounted at $EPHEMERAL_MOUNT and $FSTAB has no entry for it; does the flavor have an ephemeral disk?"
        # A run interrupted after unmounting it: mount it again to inspect it.
        mkdir -p "$EPHEMERAL_MOUNT"
        run mount --fstab "$FSTAB" "$EPHEMERAL_MOUNT" || die "cannot mount $espec at $EPHEMERAL_MOUNT to inspect the ephemeral disk"
        src=$(mounted_source "$EPHEMERAL_MOUNT")
    fi
    dev=$(readlink -f "$src")
    [ -b "$dev" ] || die "$EPHEMERAL_MOUNT is mounted from $src, which is not a block device"
    fstype=$(blkid -p -o value -s TYPE "$dev" 2>/dev/null || true)
    # Nova formats the ephemeral disk (vfat or ext4, label ephemeral0) and nothing should have
    # written to it yet; files there mean someone uses it, so it is not ours to take.
    dir_is_empty "$EPHEMERAL_MOUNT" || die "refusing to take the ephemeral disk $dev: its ${fstype:-unknown} filesystem at $EPHEMERAL_MOUNT holds files; move them away or wipe it by hand"
    EPHEMERAL_EMPTY=yes
    log "taking back the ephemeral disk $dev (${fstype:-no filesystem}) from $EPHEMERAL_MOUNT"
    run umount "$EPHEMERAL_MOUNT" || die "cannot unmount $EPHEMERAL_MOUNT (busy?)"
    CHANGED=yes
    DEVICE=$dev
}

# Formats $DEVICE when it is blank (or the empty ephemeral filesystem just taken back from
# cloud-init); mounts XFS as is; refuses anything else.
ensure_xfs() {
    fstype=$(blkid -p -o value -s TYPE "$DEVICE" 2>/dev/null || true)
    signatures=$(wipefs --noheadings --output TYPE "$DEVICE" 2>/dev/null | tr '\n' ' ' | sed 's/ *$//')
    if [ "$EPHEMERAL_EMPTY" = yes ]; then
        log "replacing the empty ${fstype:-unformatted} filesystem of the ephemeral disk $DEVICE with XFS"
        run mkfs.xfs -f -i size=512 "$DEVICE" || die "mkfs.xfs failed on $DEVICE"
    elif [ "$fstype" = xfs ]; then
        log "$DEVICE already holds XFS: mounting it as is (not formatting)"
        return 0
    elif [ -z "$fstype" ] && [ -z "$signatures" ]; then
        run mkfs.xfs -i size=512 "$DEVICE" || die "mkfs.xfs failed on $DEVICE"
    else
        pttype=$(blkid -p -o value -s PTTYPE "$DEVICE" 2>/dev/null || true)
        what=${fstype:+a $fstype filesystem}
        what=${what:-${pttype:+a $pttype partition table}}
        what=${what:-the signatures $signatures}
        die "refusing to format $DEVICE: it already carries $what (not XFS); wipe it by hand if it holds nothing you need"
    fi
    CHANGED=yes
}

ensure_fstab() {
    uuid=$1
    spec=$(fstab_spec_for "$MOUNT_PATH")
    if [ -n "$spec" ]; then
        [ "$spec" = "UUID=$uuid" ] || die "$FSTAB already mounts $spec at $MOUNT_PATH, not UUID=$uuid; not touching it"
        log "$FSTAB already mounts UUID=$uuid at $MOUNT_PATH"
        return 0
    fi
    if [ -s "$FSTAB" ] && [ -n "$(tail -c 1 "$FSTAB")" ]; then
        printf '\n' >>"$FSTAB"
    fi
    printf 'UUID=%s %s xfs %s 0 0\n' "$uuid" "$MOUNT_PATH" "$FS_OPTIONS" >>"$FSTAB"
    log "added to $FSTAB: UUID=$uuid $MOUNT_PATH xfs $FS_OPTIONS 0 0"
    CHANGED=yes
}

ensure_mounted() {
    src=$(mounted_source "$MOUNT_PATH")
    if [ -n "$src" ]; then
        same_device "$src" "$DEVICE" || die "$MOUNT_PATH already has $src mounted, not the brick device $DEVICE"
        log "$DEVICE is already mounted at $MOUNT_PATH"
        return 0
    fi
    mkdir -p "$MOUNT_PATH"
    if ! dir_is_empty "$MOUNT_PATH"; then
        log "warning: $MOUNT_PATH holds files on the root filesystem; the brick mount hides them"
    fi
    run mount --fstab "$FSTAB" "$MOUNT_PATH" || die "cannot mount $DEVICE at $MOUNT_PATH"
    CHANGED=yes
}

# Drops the fstab lines cloud-init wrote for the ephemeral mount point (done last, so an
# interrupted run finds the disk again through them).
drop_ephemeral_fstab() {
    [ -n "$(fstab_spec_for "$EPHEMERAL_MOUNT")" ] || return 0
    tmp="$FSTAB.$PROG.$$"
    awk -v mp="$EPHEMERAL_MOUNT" '!($1 !~ /^#/ && NF >= 2 && ($2 == mp || $2 == mp "/"))' "$FSTAB" >"$tmp"
    chmod 644 "$tmp"
    mv -f "$tmp" "$FSTAB"
    log "removed the $EPHEMERAL_MOUNT entry from $FSTAB"
    CHANGED=yes
}

# Whether glusterd runs (through the service manager the node has).
glusterd_running() {
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        systemctl is-active --quiet glusterd.service
    elif command -v service >/dev/null 2>&1; then
        service glusterd status >/dev/null 2>&1
    else
        return 1
    fi
}

stop_glusterd() {
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        run systemctl stop glusterd.service || die "cannot stop glusterd"
    else
        run service glusterd stop || die "cannot stop glusterd"
    fi
}

# The node's glusterd identity: UUID=$GLUSTERD_UUID in glusterd.info, written before glusterd
# first needs one (else it makes its own), so that a replacement server is the same peer to
# the pool. Without a UUID in the file glusterd would count an existing file as an upgrade and
# drop to the minimum operating-version, so the installed glusterd's is written with it (an
# operating-version already there, from a glusterd the package started, is kept). A UUID
# already there is never replaced.
ensure_glusterd_identity() {
    info="$GLUSTERD_DIR/glusterd.info"
    if [ -f "$info" ] && grep -q '^UUID=' "$info"; then
        have=$(sed -n 's/^UUID=//p' "$info" | head -n 1)
        if [ "$have" = "$GLUSTERD_UUID" ]; then
            log "glusterd identity $have kept"
        else
            log "warning: $info holds UUID $have, not $GLUSTERD_UUID: left as is"
        fi
        return 0
    fi
    # A glusterd the package started has no UUID yet but would make one: stopped while the
    # file changes (only when this script manages glusterd; it starts it again below).
    if [ "$START_GLUSTERD" = yes ] && glusterd_running; then
        stop_glusterd
    fi
    mkdir -p "$GLUSTERD_DIR"
    tmp="$info.$PROG.$$"
    printf 'UUID=%s\n' "$GLUSTERD_UUID" >"$tmp"
    if [ -f "$info" ] && grep -q '^operating-version=' "$info"; then
        grep -v '^UUID=' "$info" >>"$tmp"
    else
        version=$(glusterd --version 2>/dev/null | awk 'NR == 1 { print $2 }')
        major=${version%%.*}
        case $major in
        '' | *[!0-9]*) rm -f "$tmp"; die "cannot tell the installed glusterd's version (glusterd --version: '$version')" ;;
        esac
        [ "$major" -ge 4 ] || { rm -f "$tmp"; die "glusterd $version is older than 4.0"; }
        printf 'operating-version=%s\n' "$((major * 10000))" >>"$tmp"
    fi
    chmod 600 "$tmp"
    # The peers first: glusterd must find them when it finds its identity.
    for peer in $PEERS; do
        peer_uuid=${peer%%=*}
        peer_address=${peer#*=}
        [ "$peer_uuid" != "$GLUSTERD_UUID" ] || continue
        mkdir -p "$GLUSTERD_DIR/peers"
        file="$GLUSTERD_DIR/peers/$peer_uuid"
        [ -e "$file" ] && continue
        printf 'uuid=%s\nstate=3\nhostname1=%s\n' "$peer_uuid" "$peer_address" >"$file.$PROG.$$"
        chmod 600 "$file.$PROG.$$"
        mv -f "$file.$PROG.$$" "$file"
        log "wrote peer $peer_uuid at $peer_address to $file"
    done
    mv -f "$tmp" "$info"
    log "wrote glusterd identity UUID=$GLUSTERD_UUID to $info"
    CHANGED=yes
}

start_glusterd() {
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        if systemctl is-active --quiet glusterd.service && systemctl is-enabled --quiet glusterd.service; then
            log "glusterd is already enabled and running"
            return 0
        fi
        run systemctl enable --now glusterd.service || die "cannot start glusterd"
    elif command -v service >/dev/null 2>&1; then
        if service glusterd status >/dev/null 2>&1; then
            log "glusterd is already running"
            return 0
        fi
        run service glusterd start || die "cannot start glusterd"
    else
        die "cannot start glusterd: neither systemctl nor service is available"
    fi
    CHANGED=yes
}

if [ "$EPHEMERAL" = yes ]; then
    log "preparing the brick at $MOUNT_PATH on the ephemeral disk"
    find_ephemeral_device
else
    log "preparing the brick at $MOUNT_PATH on Cinder volume $VOLUME_ID"
    find_volume_device
fi
ensure_xfs
UUID=$(blkid -p -o value -s UUID "$DEVICE" 2>/dev/null || true)
[ -n "$UUID" ] || die "$DEVICE has no filesystem UUID after formatting"
ensure_fstab "$UUID"
ensure_mounted
if [ "$EPHEMERAL" = yes ]; then
    drop_ephemeral_fstab
fi
if [ ! -d "$MOUNT_PATH/brick" ]; then
    mkdir "$MOUNT_PATH/brick"
    log "created the brick directory $MOUNT_PATH/brick"
    CHANGED=yes
fi
if [ -n "$GLUSTERD_UUID" ]; then
    ensure_glusterd_identity
fi
if [ "$START_GLUSTERD" = yes ]; then
    start_glusterd
fi
log "brick ready: device=$DEVICE uuid=$UUID mount=$MOUNT_PATH brick=$MOUNT_PATH/brick changed=$CHANGED"
