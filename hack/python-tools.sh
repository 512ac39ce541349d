#!/usr/bin/env bash
# Puts the Python tools the tests run into a virtualenv at .tools/venv (git-ignored):
# kubernetes-validate checks rendered Helm manifests against the Kubernetes JSON schemas it
# bundles (offline: it needs no network at run time).
# Idempotent: does nothing when the pinned versions are already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
KUBERNETES_VALIDATE=1.37.0
venv=.tools/venv
if [ -x "$venv/bin/kubernetes-validate" ] &&
  [ "$("$venv/bin/kubernetes-validate" --version 2>/dev/null)" = "$KUBERNETES_VALIDATE" ]; then
  exit 0
fi
echo "tools: installing kubernetes-validate $KUBERNETES_VALIDATE into $venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  "kubernetes-validate==$KUBERNETES_VALIDATE"
"$venv/bin/kubernetes-validate" --version
