#!/usr/bin/env bash
# Smoke test of a running conformance cloud with the openstack CLI, as the member user:
# a server per zone (zone-c: m1.xlarge, with its ephemeral disk), a volume created and attached
# in each block-storage zone, a Heat stack with a ResourceGroup of 2 x (server + 1 GiB volume +
# attachment); then everything deleted and checked gone. Prints the times it measured.
#
#   smoke.sh DIR      (DIR as given to cloud.sh up)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
VENV=${CONFORMANCE_VENV:-$REPO/.tools/venv-openstack}
[[ $# -eq 1 ]] || {
    echo "usage: $0 DIR" >&2
    exit 2
}
DIR=$(cd "$1" && pwd)
[[ -f $DIR/ready ]] || {
    echo "$DIR is not a ready conformance cloud" >&2
    exit 1
}
export OS_CLIENT_CONFIG_FILE=$DIR/clouds.yaml OS_CLOUD=${OS_CLOUD:-conformance}
PREFIX=smoke-$$

os() { "$VENV/bin/openstack" "$@" 2>/dev/null; }
log() { printf '[smoke %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
    log "FAILED: $*"
    exit 1
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# wait_field KIND NAME FIELD VALUE [SECONDS]
wait_field() {
    local kind=$1 name=$2 field=$3 want=$4 limit=${5:-300} got
    local deadline=$((SECONDS + limit))
    while :; do
        got=$(os "$kind" show "$name" -f value -c "$field" || true)
        [[ $got == "$want" ]] && return 0
        [[ $got == ERROR || $got == error ]] && die "$kind $name is $got"
        ((SECONDS < deadline)) || die "$kind $name: $field is '$got', not '$want' after ${limit}s"
        sleep 1
    done
}

declare -A flavor=([zone-a]=m1.small [zone-b]=m1.small [zone-c]=m1.xlarge)
pids=()
for zone in zone-a zone-b zone-c; do
    (
        t=$(now)
        os server create --flavor "${flavor[$zone]}" --image ubuntu-22.04 --network private \
            --availability-zone "$zone" --wait "$PREFIX-$zone" >/dev/null ||
            die "server in $zone did not go ACTIVE"
        log "server $PREFIX-$zone ($zone, ${flavor[$zone]}) ACTIVE after $(since "$t")s (CLI create --wait)"
    ) &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || die "a server boot failed"; done

server_ids=()
for zone in zone-a zone-b zone-c; do server_ids+=("$(os server show "$PREFIX-$zone" -f value -c id)"); done
host=$(os server show "$PREFIX-zone-c" -f value -c OS-EXT-AZ:availability_zone)
[[ $host == zone-c ]] || die "zone-c server is in '$host'"
eph=$(os flavor show m1.xlarge -f value -c OS-FLV-EXT-DATA:ephemeral)
[[ $eph == 100 ]] || die "m1.xlarge ephemeral is '$eph'"
addr=$(os server show "$PREFIX-zone-c" -f value -c addresses)
[[ $addr == *127.102.* ]] || die "zone-c server address '$addr' is not in 127.102.0.0/16"
log "zone-c server: $addr, m1.xlarge with ${eph} GiB ephemeral"

for zone in zone-a zone-b; do
    t=$(now)
    os volume create --size 1 --availability-zone "$zone" "$PREFIX-vol-$zone" >/dev/null
    wait_field volume "$PREFIX-vol-$zone" status available
    log "volume $PREFIX-vol-$zone available after $(since "$t")s"
    t=$(now)
    os server add volume "$PREFIX-$zone" "$PREFIX-vol-$zone" >/dev/null ||
        die "attaching $PREFIX-vol-$zone"
    wait_field volume "$PREFIX-vol-$zone" status in-use
    log "volume $PREFIX-vol-$zone in-use after $(since "$t")s"
done

t=$(now)
os stack create --wait -t "$HERE/heat/group.yaml" --parameter count=2 --parameter zone=zone-a \
    --parameter prefix="$PREFIX-heat" \
    "$PREFIX-stack" >/dev/null || die "stack create failed: $(os stack show "$PREFIX-stack" -f value -c stack_status_reason)"
status=$(os stack show "$PREFIX-stack" -f value -c stack_status)
[[ $status == CREATE_COMPLETE ]] || die "stack is $status"
log "heat stack (ResourceGroup 2 x server+volume+attachment) CREATE_COMPLETE after $(since "$t")s (CLI --wait)"
attached=$(os volume list -f value -c Name -c Status | grep -c "^$PREFIX-heat-.*in-use" || true)
((attached == 2)) || die "expected 2 in-use heat volumes, found $attached"

t=$(now)
os stack delete --yes --wait "$PREFIX-stack" >/dev/null || die "stack delete failed"
log "stack deleted after $(since "$t")s"
for zone in zone-a zone-b; do
    os server remove volume "$PREFIX-$zone" "$PREFIX-vol-$zone" >/dev/null
    wait_field volume "$PREFIX-vol-$zone" status available
    os volume delete "$PREFIX-vol-$zone" >/dev/null
done
os server delete --wait "$PREFIX-zone-a" "$PREFIX-zone-b" "$PREFIX-zone-c" >/dev/null

# Only this run's resources: the shared cloud may hold others'.
deadline=$((SECONDS + 120))
while :; do
    left=$(
        {
            os server list -f value -c Name
            os volume list -f value -c Name
            os stack list -f value -c 'Stack Name'
        } | grep "^$PREFIX" || true
    )
    for id in "${server_ids[@]}"; do
        left+=$(os port list --device-id "$id" -f value -c ID)
    done
    [[ -z $left ]] && break
    ((SECONDS < deadline)) || die "left behind: $left"
    sleep 2
done
log "nothing left (servers, volumes, stacks, compute ports)"
echo "smoke: OK"
