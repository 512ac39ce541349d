#!/usr/bin/env bash
# The conformance cloud: a real OpenStack control plane on 127.0.0.1 (Keystone, Nova with the
# fake virt driver, Placement, Glance, Cinder with fake backends, Neutron ML2 without agents,
# Heat), on MariaDB and RabbitMQ whose data live under DIR, set up as the simulator's default
# world. See e2e/conformance/README.md.
#
#   cloud.sh up DIR      start everything, bootstrap the world, touch DIR/ready
#   cloud.sh down DIR    stop everything recorded in DIR/pids, and wait
#   cloud.sh status DIR  print what runs
#   cloud.sh reload DIR  re-render the configuration and reload the API services (gunicorn HUP)
#
# Environment: CONFORMANCE_VENV (default <repo>/.tools/venv-openstack),
# CONFORMANCE_MYSQL_PORT (13306), CONFORMANCE_RABBIT_PORT (15673), CONFORMANCE_EPMD_PORT (14369),
# CONFORMANCE_KEEP_ON_FAILURE=1 leaves a failed `up` running for inspection.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
VENV=${CONFORMANCE_VENV:-$REPO/.tools/venv-openstack}
MYSQL_PORT=${CONFORMANCE_MYSQL_PORT:-13306}
RABBIT_PORT=${CONFORMANCE_RABBIT_PORT:-15673}
EPMD_PORT=${CONFORMANCE_EPMD_PORT:-14369}
HOST=127.0.0.1
REGION=RegionOne
KEYSTONE_URL=http://$HOST:5000
# Zones: compute host per zone; zones with a Cinder backend.
ZONES=(zone-a zone-b zone-c)
VOLUME_ZONES=(zone-a zone-b)
# The gunicorn-served APIs.
API_SERVICES=(keystone placement glance nova-api cinder-api neutron-api heat-api)
# What `up` owns inside DIR (and removes before a fresh start).
OWNED=(etc log run state mysql rabbitmq pids ready clouds.yaml secrets.env ports.env)

usage() {
    echo "usage: $0 up|down|status|reload DIR" >&2
    exit 2
}

log() { printf '[cloud %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

[[ $# -eq 2 ]] || usage
CMD=$1
DIR=$2
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

# ---------------------------------------------------------------------------------------------
# processes

alive() { kill -0 "$1" 2>/dev/null; }

# pid_of NAME: the recorded PID of a service, or nothing.
pid_of() {
    [[ -f $DIR/pids ]] || return 0
    awk -v n="$1" '$1 == n { print $2 }' "$DIR/pids" | tail -n 1
}

# start NAME CMD...: runs CMD in its own session (so its workers form one process group),
# output to DIR/log/NAME.log, and records its PID.
start() {
    local name=$1
    shift
    setsid "$@" >>"$DIR/log/$name.log" 2>&1 </dev/null &
    echo "$name $!" >>"$DIR/pids"
}

tail_log() {
    local name=$1
    echo "----- last lines of $DIR/log/$name.log -----" >&2
    tail -n "${2:-40}" "$DIR/log/$name.log" >&2 2>/dev/null || true
    echo "-----" >&2
}

# fail MSG [SERVICE...]: prints MSG, the logs of dead services and of the named ones, then stops.
fail() {
    local msg=$1
    shift
    log "FAILED: $msg"
    local name pid
    if [[ -f $DIR/pids ]]; then
        while read -r name pid; do
            if ! alive "$pid"; then
                log "service $name (pid $pid) is not running"
                tail_log "$name"
            fi
        done <"$DIR/pids"
    fi
    for name in "$@"; do tail_log "$name" 60; done
    if [[ ${CONFORMANCE_KEEP_ON_FAILURE:-0} != 1 ]]; then
        log "stopping what was started (CONFORMANCE_KEEP_ON_FAILURE=1 keeps it)"
        stop_all
    fi
    exit 1
}

# stop_all: TERM to each recorded process group (last started first), wait, then KILL.
stop_all() {
    [[ -f $DIR/pids ]] || return 0
    local -a names=() pids=()
    local name pid i
    while read -r name pid; do
        names+=("$name")
        pids+=("$pid")
    done <"$DIR/pids"
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        if alive "${pids[i]}"; then
            kill -TERM -- "-${pids[i]}" 2>/dev/null || kill -TERM "${pids[i]}" 2>/dev/null || true
        fi
    done
    local deadline=$((SECONDS + 30)) left
    while :; do
        left=0
        for pid in "${pids[@]}"; do
            # A group is gone when no process of it is left.
            if pgrep -g "$pid" >/dev/null 2>&1 || alive "$pid"; then left=1; fi
        done
        ((left == 0)) && break
        if ((SECONDS >= deadline)); then
            for ((i = 0; i < ${#pids[@]}; i++)); do
                if pgrep -g "${pids[i]}" >/dev/null 2>&1 || alive "${pids[i]}"; then
                    log "killing ${names[i]} (pid ${pids[i]})"
                    kill -KILL -- "-${pids[i]}" 2>/dev/null || kill -KILL "${pids[i]}" 2>/dev/null || true
                fi
            done
            sleep 1
            break
        fi
        sleep 0.3
    done
    rm -f "$DIR/pids" "$DIR/ready"
}

# wait_http NAME URL [SECONDS]: until URL answers with any HTTP status below 500.
wait_http() {
    local name=$1 url=$2 limit=${3:-240} pid code
    pid=$(pid_of "$name")
    local deadline=$((SECONDS + limit))
    while :; do
        code=$(curl -s -o /dev/null -m 10 -w '%{http_code}' "$url" || true)
        if [[ $code =~ ^[1-4][0-9][0-9]$ ]]; then return 0; fi
        [[ -n $pid ]] && ! alive "$pid" && fail "$name exited before answering on $url" "$name"
        ((SECONDS < deadline)) || fail "$name did not answer on $url within ${limit}s (last: ${code:-none})" "$name"
        sleep 0.5
    done
}

# wait_tcp NAME PORT [SECONDS]
wait_tcp() {
    local name=$1 port=$2 limit=${3:-120} pid
    pid=$(pid_of "$name")
    local deadline=$((SECONDS + limit))
    until (exec 3<>"/dev/tcp/$HOST/$port") 2>/dev/null; do
        [[ -n $pid ]] && ! alive "$pid" && fail "$name exited before listening on $port" "$name"
        ((SECONDS < deadline)) || fail "$name did not listen on $port within ${limit}s" "$name"
        sleep 0.3
    done
}

# run_step NAME CMD...: a one-shot command (schema sync, bootstrap), logged to DIR/log/NAME.log.
run_step() {
    local name=$1
    shift
    local t0=$SECONDS
    if ! "$@" >>"$DIR/log/$name.log" 2>&1 </dev/null; then
        if [[ $BASHPID != "$$" ]]; then
            # In a background subshell: report, and let the parent fail.
            log "step $name failed: $*"
            tail_log "$name" 60
            exit 1
        fi
        fail "step $name failed" "$name"
    fi
    log "$name done ($((SECONDS - t0))s)"
}

# ---------------------------------------------------------------------------------------------
# configuration

secret() { od -An -tx1 -N16 /dev/urandom | tr -d ' \n'; }

db_url() { echo "mysql+pymysql://openstack:$DB_PASSWORD@$HOST:$MYSQL_PORT/$1?charset=utf8"; }

# auth_section SECTION USER: a keystoneauth password section for a service user.
auth_section() {
    cat <<EOF
[$1]
auth_type = password
auth_url = $KEYSTONE_URL
user_domain_name = Default
project_domain_name = Default
project_name = service
username = $2
password = $SERVICE_PASSWORD
region_name = $REGION
EOF
}

authtoken_section() {
    auth_section keystone_authtoken "$1"
    cat <<EOF
www_authenticate_uri = $KEYSTONE_URL
service_token_roles_required = true
EOF
}

render_configs() {
    local e=$DIR/etc s=$DIR/state
    local rabbit="rabbit://guest:guest@$HOST:$RABBIT_PORT/"
    mkdir -p "$e"/{keystone,placement,nova,glance,cinder,neutron,heat} \
        "$s"/keystone/{fernet-keys,credential-keys} "$s"/nova/lock \
        "$s"/glance/{images,staging,tasks} "$s"/cinder/lock "$s"/neutron/lock "$s"/heat
    chmod 700 "$s"/keystone/fernet-keys "$s"/keystone/credential-keys

    cat >"$e/keystone/keystone.conf" <<EOF
[DEFAULT]
use_stderr = true
[database]
connection = $(db_url keystone)
[token]
provider = fernet
expiration = 14400
[fernet_tokens]
key_repository = $s/keystone/fernet-keys
[fernet_receipts]
key_repository = $s/keystone/fernet-keys
[credential]
key_repository = $s/keystone/credential-keys
[cache]
enabled = false
[identity]
# bcrypt's minimum: every password authentication costs CPU, and this box has two cores.
password_hash_rounds = 4
max_password_length = 72
EOF

    {
        cat <<EOF
[DEFAULT]
use_stderr = true
[placement_database]
connection = $(db_url placement)
[api]
auth_strategy = keystone
EOF
        authtoken_section placement
    } >"$e/placement/placement.conf"

    cp "$VENV/etc/nova/api-paste.ini" "$e/nova/api-paste.ini"
    {
        cat <<EOF
[DEFAULT]
use_stderr = true
transport_url = $rabbit
compute_driver = fake.FakeDriver
state_path = $s/nova
my_ip = $HOST
vif_plugging_is_fatal = false
vif_plugging_timeout = 0
[api]
auth_strategy = keystone
[wsgi]
api_paste_config = $e/nova/api-paste.ini
[api_database]
connection = $(db_url nova_api)
[database]
connection = $(db_url nova)
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = 2
[quota]
instances = 64
cores = 512
ram = 1048576
key_pairs = 100
[oslo_concurrency]
lock_path = $s/nova/lock
[oslo_messaging_notifications]
driver = noop
[vnc]
enabled = false
[cinder]
os_region_name = $REGION
[glance]
region_name = $REGION
EOF
        authtoken_section nova
        auth_section placement nova
        auth_section neutron nova
        auth_section service_user nova
        echo "send_service_user_token = true"
    } >"$e/nova/nova.conf"
    local z
    for z in "${ZONES[@]}"; do
        mkdir -p "$s/compute-$z/instances" "$s/compute-$z/lock"
        cat >"$e/nova/compute-$z.conf" <<EOF
[DEFAULT]
host = compute-$z
state_path = $s/compute-$z
instances_path = $s/compute-$z/instances
[oslo_concurrency]
lock_path = $s/compute-$z/lock
EOF
    done

    cp "$VENV/etc/glance/glance-api-paste.ini" "$e/glance/glance-api-paste.ini"
    {
        cat <<EOF
[DEFAULT]
use_stderr = true
enabled_backends = fs:file
workers = 1
[database]
connection = $(db_url glance)
[paste_deploy]
flavor = keystone
config_file = $e/glance/glance-api-paste.ini
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = $s/glance/images
[os_glance_staging_store]
filesystem_store_datadir = $s/glance/staging
[os_glance_tasks_store]
filesystem_store_datadir = $s/glance/tasks
[oslo_messaging_notifications]
driver = noop
EOF
        authtoken_section glance
    } >"$e/glance/glance-api.conf"

    cp "$VENV/etc/cinder/api-paste.ini" "$VENV/etc/cinder/resource_filters.json" "$e/cinder/"
    {
        cat <<EOF
[DEFAULT]
use_stderr = true
transport_url = $rabbit
auth_strategy = keystone
api_paste_config = $e/cinder/api-paste.ini
resource_query_filters_file = $e/cinder/resource_filters.json
state_path = $s/cinder
host = conformance
my_ip = $HOST
enabled_backends = $(
            IFS=,
            echo "${VOLUME_ZONES[*]}"
        )
default_volume_type = __DEFAULT__
storage_availability_zone = ${VOLUME_ZONES[0]}
default_availability_zone = ${VOLUME_ZONES[0]}
allow_availability_zone_fallback = false
quota_volumes = 128
quota_snapshots = 64
quota_gigabytes = 65536
osapi_volume_workers = 1
[database]
connection = $(db_url cinder)
[oslo_concurrency]
lock_path = $s/cinder/lock
[oslo_messaging_notifications]
driver = noop
EOF
        authtoken_section cinder
        auth_section nova cinder
        auth_section service_user cinder
        echo "send_service_user_token = true"
        for z in "${VOLUME_ZONES[@]}"; do
            cat <<EOF
[$z]
volume_driver = cinder.tests.fake_driver.FakeLoggingVolumeDriver
volume_backend_name = $z
backend_availability_zone = $z
EOF
        done
    } >"$e/cinder/cinder.conf"

    cp "$VENV/etc/neutron/api-paste.ini" "$e/neutron/api-paste.ini"
    {
        cat <<EOF
[DEFAULT]
use_stderr = true
transport_url = $rabbit
core_plugin = ml2
service_plugins =
auth_strategy = keystone
api_paste_config = $e/neutron/api-paste.ini
state_path = $s/neutron
host = conformance
notify_nova_on_port_status_changes = true
notify_nova_on_port_data_changes = true
dhcp_agent_notification = false
api_workers = 1
rpc_workers = 0
[database]
connection = $(db_url neutron)
[oslo_concurrency]
lock_path = $s/neutron/lock
[oslo_messaging_notifications]
driver = noop
[ml2]
type_drivers = flat,vxlan
tenant_network_types = vxlan
mechanism_drivers = conformance
extension_drivers = port_security
[ml2_type_vxlan]
vni_ranges = 1:1000
[securitygroup]
enable_security_group = true
[quotas]
quota_network = 100
quota_subnet = 100
quota_port = 1000
quota_security_group = 200
quota_security_group_rule = 2000
EOF
        authtoken_section neutron
        auth_section nova neutron
    } >"$e/neutron/neutron.conf"

    cp "$VENV/etc/heat/api-paste.ini" "$e/heat/api-paste.ini"
    {
        cat <<EOF
[DEFAULT]
use_stderr = true
transport_url = $rabbit
num_engine_workers = 1
host = conformance
region_name_for_services = $REGION
heat_metadata_server_url = http://$HOST:8000
heat_waitcondition_server_url = http://$HOST:8000/v1/waitcondition
stack_domain_admin = heat_domain_admin
stack_domain_admin_password = $SERVICE_PASSWORD
stack_user_domain_name = heat
[database]
connection = $(db_url heat)
[paste_deploy]
api_paste_config = $e/heat/api-paste.ini
[clients_keystone]
auth_uri = $KEYSTONE_URL
[oslo_messaging_notifications]
driver = noop
[heat_api]
workers = 1
EOF
        authtoken_section heat
        # The trustee authenticates unscoped: the trust is the scope. A project here too makes
        # every trust-scoped call (a scaling policy's signal) fail with "Authentication cannot
        # be scoped to multiple targets".
        auth_section trustee heat | grep -v '^project_'
    } >"$e/heat/heat.conf"
}

write_clouds_yaml() {
    umask 077
    cat >"$DIR/clouds.yaml" <<EOF
# Written by e2e/conformance/cloud.sh for $DIR
clouds:
  conformance:
    auth:
      auth_url: $KEYSTONE_URL/v3
      username: demo
      password: $DEMO_PASSWORD
      project_name: demo
      user_domain_name: Default
      project_domain_name: Default
    region_name: $REGION
    interface: public
    identity_api_version: 3
  conformance-admin:
    auth:
      auth_url: $KEYSTONE_URL/v3
      username: admin
      password: $ADMIN_PASSWORD
      project_name: demo
      user_domain_name: Default
      project_domain_name: Default
    region_name: $REGION
    interface: public
    identity_api_version: 3
EOF
}

# ---------------------------------------------------------------------------------------------
# up

start_mariadb() {
    mkdir -p "$DIR/mysql" "$DIR/run"
    run_step mariadb-install /usr/bin/mariadb-install-db --no-defaults --datadir="$DIR/mysql" \
        --user=root --auth-root-authentication-method=socket --skip-test-db
    start mariadb /usr/sbin/mariadbd --no-defaults --datadir="$DIR/mysql" --user=root \
        --socket="$DIR/run/mysqld.sock" --port="$MYSQL_PORT" --bind-address=$HOST \
        --pid-file="$DIR/run/mysqld.pid" --skip-name-resolve --max-connections=2000 \
        --character-set-server=utf8 --collation-server=utf8_general_ci \
        --innodb-buffer-pool-size=256M --innodb-flush-log-at-trx-commit=0 \
        --innodb-doublewrite=0 --skip-log-bin
    wait_tcp mariadb "$MYSQL_PORT"
    local sql="CREATE USER 'openstack'@'$HOST' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO 'openstack'@'$HOST';"
    local db
    for db in keystone placement nova_api nova nova_cell0 glance cinder neutron heat; do
        sql+="CREATE DATABASE $db;"
    done
    /usr/bin/mariadb --no-defaults -S "$DIR/run/mysqld.sock" -u root -e "$sql" \
        >>"$DIR/log/mariadb-setup.log" 2>&1 || fail "creating the databases" mariadb-setup
}

start_rabbitmq() {
    local r=$DIR/rabbitmq
    mkdir -p "$r/mnesia" "$r/log"
    cat >"$r/rabbitmq.conf" <<EOF
listeners.tcp.default = $HOST:$RABBIT_PORT
loopback_users.guest = true
vm_memory_high_watermark.relative = 0.2
disk_free_limit.absolute = 50MB
EOF
    echo "[]." >"$r/enabled_plugins"
    start epmd env HOME="$r" /usr/bin/epmd -port "$EPMD_PORT" -address $HOST
    wait_tcp epmd "$EPMD_PORT"
    start rabbitmq env HOME="$r" ERL_EPMD_PORT="$EPMD_PORT" ERL_EPMD_ADDRESS=$HOST \
        RABBITMQ_NODENAME=conformance@localhost RABBITMQ_NODE_IP_ADDRESS=$HOST \
        RABBITMQ_NODE_PORT="$RABBIT_PORT" RABBITMQ_DIST_PORT=$((RABBIT_PORT + 20000)) \
        RABBITMQ_CONFIG_FILE="$r/rabbitmq.conf" RABBITMQ_ENABLED_PLUGINS_FILE="$r/enabled_plugins" \
        RABBITMQ_MNESIA_BASE="$r/mnesia" RABBITMQ_LOG_BASE="$r/log" RABBITMQ_LOGS=- \
        RABBITMQ_PID_FILE="$r/rabbitmq.pid" \
        /usr/lib/rabbitmq/bin/rabbitmq-server
}

# Every API's access log line (on its stdout, in DIR/log/NAME.log): the time, the client, the
# request, status, size, duration and User-Agent; e2e/src/bench/apilog.rs parses it.
# shellcheck disable=SC2016 # gunicorn's %(x)s atoms, not shell expansions
ACCESS_LOG_FORMAT='%(t)s %(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'

# api NAME PORT WORKERS APP-MODULE [CONFIG-ARGS] [ENV...]: a WSGI app under gunicorn.
api() {
    local name=$1 port=$2 workers=$3 app=$4 args=${5:-}
    shift 5 || shift $#
    start "$name" env CONFORMANCE_WSGI_APP="$app" CONFORMANCE_WSGI_ARGS="$args" "$@" \
        "$VENV/bin/gunicorn" --no-control-socket --bind "$HOST:$port" --workers "$workers" \
        --timeout 300 --graceful-timeout 5 --name "$name" --access-logfile - \
        --access-logformat "$ACCESS_LOG_FORMAT" conformance_cloud.wsgi:application
}

py() { "$VENV/bin/python" "$@"; }

bootstrap() { # PHASE
    run_step "bootstrap-$1" env CONFORMANCE_DIR="$DIR" KEYSTONE_URL="$KEYSTONE_URL" REGION="$REGION" \
        ADMIN_PASSWORD="$ADMIN_PASSWORD" DEMO_PASSWORD="$DEMO_PASSWORD" \
        SERVICE_PASSWORD="$SERVICE_PASSWORD" \
        "$VENV/bin/python" -m conformance_cloud.bootstrap "$1"
}

up() {
    [[ -x $VENV/bin/gunicorn ]] || {
        log "no venv at $VENV: run e2e/conformance/setup.sh first"
        exit 1
    }
    local name pid
    if [[ -f $DIR/pids ]]; then
        while read -r name pid; do
            if alive "$pid"; then
                log "$name (pid $pid) of a previous run still runs: '$0 down $DIR' first"
                exit 1
            fi
        done <"$DIR/pids"
    fi
    # One cloud per machine: its API ports are fixed. Refuse before touching anything, or the
    # waits below would be answered by the other cloud.
    local port
    for port in 5000 8774 8776 8778 9292 9696 8004 "$MYSQL_PORT" "$RABBIT_PORT" "$EPMD_PORT" \
        $((RABBIT_PORT + 20000)); do
        if (exec 3<>"/dev/tcp/$HOST/$port") 2>/dev/null; then
            log "port $HOST:$port is in use (another conformance cloud? '$0 status DIR' tells)"
            exit 1
        fi
    done
    local t0=$SECONDS
    local item
    for item in "${OWNED[@]}"; do rm -rf "${DIR:?}/$item"; done
    mkdir -p "$DIR/log" "$DIR/run"
    : >"$DIR/pids"
    (
        umask 077
        printf 'DB_PASSWORD=%s\nADMIN_PASSWORD=%s\nDEMO_PASSWORD=%s\nSERVICE_PASSWORD=%s\n' \
            "$(secret)" "$(secret)" "$(secret)" "$(secret)" >"$DIR/secrets.env"
    )
    printf 'MYSQL_PORT=%s\nRABBIT_PORT=%s\nEPMD_PORT=%s\n' "$MYSQL_PORT" "$RABBIT_PORT" "$EPMD_PORT" \
        >"$DIR/ports.env"
    # shellcheck disable=SC1091
    source "$DIR/secrets.env"
    render_configs
    write_clouds_yaml

    log "starting MariaDB (:$MYSQL_PORT) and RabbitMQ (:$RABBIT_PORT) under $DIR"
    start_mariadb
    start_rabbitmq

    # Schemas, in parallel (each a separate step log).
    local e=$DIR/etc
    local -a steps=()
    (run_step db-keystone "$VENV/bin/keystone-manage" --config-file "$e/keystone/keystone.conf" db_sync) &
    steps+=($!)
    (run_step db-placement "$VENV/bin/placement-manage" --config-file "$e/placement/placement.conf" db sync) &
    steps+=($!)
    (
        n=("$VENV/bin/nova-manage" --config-file "$e/nova/nova.conf")
        run_step db-nova "${n[@]}" api_db sync
        run_step db-nova "${n[@]}" cell_v2 map_cell0 --database_connection "$(db_url nova_cell0)"
        run_step db-nova "${n[@]}" cell_v2 create_cell --name cell1
        run_step db-nova "${n[@]}" db sync
    ) &
    steps+=($!)
    (run_step db-glance "$VENV/bin/glance-manage" --config-file "$e/glance/glance-api.conf" db_sync) &
    steps+=($!)
    (run_step db-cinder "$VENV/bin/cinder-manage" --config-file "$e/cinder/cinder.conf" db sync) &
    steps+=($!)
    (
        run_step db-neutron "$VENV/bin/python" -m conformance_cloud.neutron_schema \
            --config-file "$e/neutron/neutron.conf"
        run_step db-neutron "$VENV/bin/neutron-db-manage" --config-file "$e/neutron/neutron.conf" stamp heads
    ) &
    steps+=($!)
    (run_step db-heat "$VENV/bin/heat-manage" --config-file "$e/heat/heat.conf" db_sync) &
    steps+=($!)
    local failed=0
    for pid in "${steps[@]}"; do wait "$pid" || failed=1; done
    ((failed == 0)) || fail "a schema step failed (see above)"

    local k=("$VENV/bin/keystone-manage" --config-file "$e/keystone/keystone.conf")
    run_step keystone-setup "${k[@]}" fernet_setup --keystone-user root --keystone-group root
    run_step keystone-setup "${k[@]}" credential_setup --keystone-user root --keystone-group root
    run_step keystone-setup "${k[@]}" bootstrap --bootstrap-password "$ADMIN_PASSWORD" \
        --bootstrap-admin-url "$KEYSTONE_URL/v3/" --bootstrap-internal-url "$KEYSTONE_URL/v3/" \
        --bootstrap-public-url "$KEYSTONE_URL/v3/" --bootstrap-region-id "$REGION"

    api keystone 5000 2 keystone.wsgi.api "" OS_KEYSTONE_CONFIG_DIR="$e/keystone"
    wait_http keystone "$KEYSTONE_URL/v3"
    wait_tcp rabbitmq "$RABBIT_PORT"
    # Users, projects, roles, services, endpoints and Heat's domain: before any service starts.
    bootstrap identity

    api placement 8778 1 placement.wsgi.api "" OS_PLACEMENT_CONFIG_DIR="$e/placement"
    api glance 9292 1 glance.wsgi.api "" OS_GLANCE_CONFIG_DIR="$e/glance"
    api nova-api 8774 2 nova.wsgi.osapi_compute "" OS_NOVA_CONFIG_DIR="$e/nova"
    api cinder-api 8776 1 cinder.wsgi.api "--config-file $e/cinder/cinder.conf"
    api neutron-api 9696 2 neutron.wsgi.api "" OS_NEUTRON_CONFIG_DIR="$e/neutron" \
        OS_NEUTRON_CONFIG_FILES="neutron.conf"
    api heat-api 8004 1 heat.wsgi.api "--config-file $e/heat/heat.conf"
    local nova=(--config-file "$e/nova/nova.conf")
    start nova-conductor "$VENV/bin/nova-conductor" "${nova[@]}"
    start nova-scheduler "$VENV/bin/nova-scheduler" "${nova[@]}"
    local z
    for z in "${ZONES[@]}"; do
        start "nova-compute-$z" "$VENV/bin/nova-compute" "${nova[@]}" --config-file "$e/nova/compute-$z.conf"
    done
    start cinder-scheduler "$VENV/bin/cinder-scheduler" --config-file "$e/cinder/cinder.conf"
    start cinder-volume "$VENV/bin/cinder-volume" --config-file "$e/cinder/cinder.conf"
    start heat-engine "$VENV/bin/heat-engine" --config-file "$e/heat/heat.conf"

    wait_http placement http://$HOST:8778/
    wait_http glance http://$HOST:9292/
    wait_http nova-api http://$HOST:8774/
    wait_http cinder-api http://$HOST:8776/
    wait_http neutron-api http://$HOST:9696/
    wait_http heat-api http://$HOST:8004/
    log "APIs answer ($((SECONDS - t0))s)"

    # Flavors, images, network, aggregates and zones, volume types, then a canary per zone.
    bootstrap world
    bootstrap canary
    while read -r name pid; do
        alive "$pid" || fail "$name exited" "$name"
    done <"$DIR/pids"
    touch "$DIR/ready"
    log "ready in $((SECONDS - t0))s: OS_CLIENT_CONFIG_FILE=$DIR/clouds.yaml OS_CLOUD=conformance"
}

# ---------------------------------------------------------------------------------------------
# status

status() {
    if [[ ! -f $DIR/pids ]]; then
        echo "nothing recorded in $DIR (not up)"
        return 1
    fi
    local name pid rss pss total=0 total_pss=0 down=0
    printf '%-22s %8s %8s %8s %s\n' SERVICE PID RSS_MIB PSS_MIB STATE
    while read -r name pid; do
        rss=0
        pss=0
        local p
        # Sum over the process group (gunicorn workers, cinder-volume backends...). RSS counts
        # pages shared by forked workers once per worker; PSS splits them.
        for p in $(pgrep -g "$pid" 2>/dev/null || true); do
            rss=$((rss + $(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)))
            pss=$((pss + $(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)))
        done
        total=$((total + rss))
        total_pss=$((total_pss + pss))
        if alive "$pid"; then
            printf '%-22s %8s %8s %8s %s\n' "$name" "$pid" $((rss / 1024)) $((pss / 1024)) running
        else
            printf '%-22s %8s %8s %8s %s\n' "$name" "$pid" - - STOPPED
            down=1
        fi
    done <"$DIR/pids"
    printf '%-22s %8s %8s %8s\n' total "" $((total / 1024)) $((total_pss / 1024))
    if [[ -f $DIR/ready ]]; then echo "ready: $DIR/clouds.yaml"; else echo "not ready"; fi
    return "$down"
}

# reload: re-renders the configuration files (same secrets and ports) and makes every API
# service re-read them (gunicorn's HUP: new workers, no downtime). The other daemons keep theirs.
reload() {
    [[ -f $DIR/secrets.env && -f $DIR/pids ]] || {
        log "$DIR is not up"
        exit 1
    }
    # shellcheck disable=SC1091
    source "$DIR/secrets.env"
    render_configs
    local name pid
    for name in "${API_SERVICES[@]}"; do
        pid=$(pid_of "$name")
        [[ -n $pid ]] && alive "$pid" && kill -HUP "$pid" && log "reloaded $name"
    done
}

case $CMD in
up) up ;;
reload) reload ;;
down)
    stop_all
    log "stopped"
    ;;
status) status ;;
*) usage ;;
esac
