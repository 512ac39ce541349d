#!/usr/bin/env bash
# Installs what the conformance cloud needs (idempotent; quick when everything is there):
# MariaDB, RabbitMQ and curl from Debian, and one venv at <repo>/.tools/venv-openstack with the
# pinned OpenStack services (requirements.txt), then this directory's python/ helpers (not
# editable). CONFORMANCE_VENV moves the venv; PYTHON selects the interpreter (python3, 3.10+).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
VENV=${CONFORMANCE_VENV:-$REPO/.tools/venv-openstack}
PYTHON=${PYTHON:-python3}
APT=(apt-get -o DPkg::Lock::Timeout=300)

log() { printf '[setup %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

t0=$SECONDS
pkgs=(mariadb-server mariadb-client rabbitmq-server curl procps)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
    log "apt: installing ${missing[*]}"
    # No init system here: keep the packages' scripts from starting their daemons
    # (cloud.sh starts its own, with data under its DIR).
    created_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        created_policy=1
    fi
    "${APT[@]}" update -qq
    DEBIAN_FRONTEND=noninteractive "${APT[@]}" install -y -qq --no-install-recommends "${missing[@]}"
    ((created_policy == 0)) || rm -f /usr/sbin/policy-rc.d
fi

stamp=$(sha256sum <"$HERE/requirements.txt" | cut -d" " -f1)
if [[ -f $VENV/.conformance-stamp && $(cat "$VENV/.conformance-stamp") == "$stamp" ]]; then
    log "venv $VENV up to date"
else
    log "venv: $VENV (one pip install, about 70 s)"
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$HERE/requirements.txt"
    echo "$stamp" >"$VENV/.conformance-stamp"
fi

# The project's own package (WSGI wrappers, the ML2 driver's entry point, the bootstrap), not
# editable: the venv may live outside this checkout (CONFORMANCE_VENV, kept between CI runs) and
# outlive it. Reinstalled, in seconds, whenever its sources change.
own=$(cd "$HERE/python" && find . -name '*.py' -o -name pyproject.toml | sort | xargs cat | sha256sum | cut -d' ' -f1)
if [[ ! -f $VENV/.conformance-own-stamp || $(cat "$VENV/.conformance-own-stamp") != "$own" ]]; then
    log "installing the conformance_cloud package into $VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps \
        --force-reinstall "$HERE/python"
    rm -rf "$HERE/python/build" "$HERE/python/"*.egg-info
    echo "$own" >"$VENV/.conformance-own-stamp"
fi
log "done in $((SECONDS - t0))s"
