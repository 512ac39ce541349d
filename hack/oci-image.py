#!/usr/bin/env python3
"""Writes the operator's OCI image as an OCI archive (a tar of an OCI image layout), from a
static binary, without any registry or container engine: one layer on an empty base holding
/gluster-operator, the CA bundle the cloud client's platform verifier reads
(/etc/ssl/certs/ca-certificates.crt), /etc/passwd and /etc/group naming the non-root user
65532, and an empty /tmp. Reproducible: every timestamp is SOURCE_DATE_EPOCH, owners are 0/0,
entries sorted, gzip without a name or time, JSON with sorted keys, so the same inputs give
the same digest.

usage: oci-image.py --binary PATH --out ARCHIVE --version V --revision R --source URL
       [--name REPO] [--ca-bundle PATH]
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import time

UID = 65532


def sde():
    value = os.environ.get("SOURCE_DATE_EPOCH")
    if value is None:
        sys.exit("oci-image.py: set SOURCE_DATE_EPOCH (make image sets the commit's time)")
    return int(value)


def add(tar, name, data, mode, epoch, kind=tarfile.REGTYPE):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = epoch
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if kind == tarfile.REGTYPE:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    else:
        tar.addfile(info)


def layer(binary, ca_bundle, epoch):
    """The root filesystem as an uncompressed tar (entries sorted, directories first)."""
    files = {
        "gluster-operator": (open(binary, "rb").read(), 0o755),
        "etc/passwd": (b"root:x:0:0:root:/:/sbin/nologin\n"
                       b"nonroot:x:%d:%d:gluster-operator:/:/sbin/nologin\n" % (UID, UID), 0o644),
        "etc/group": (b"root:x:0:\nnonroot:x:%d:\n" % UID, 0o644),
    }
    if ca_bundle:
        files["etc/ssl/certs/ca-certificates.crt"] = (open(ca_bundle, "rb").read(), 0o644)
    dirs = {"etc", "etc/ssl", "etc/ssl/certs", "tmp"}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in sorted(dirs):
            add(tar, d, b"", 0o1777 if d == "tmp" else 0o755, epoch, tarfile.DIRTYPE)
        for name in sorted(files):
            data, mode = files[name]
            add(tar, name, data, mode, epoch)
    return buf.getvalue()


def blob(blobs, data):
    digest = hashlib.sha256(data).hexdigest()
    blobs[digest] = data
    return "sha256:" + digest


def dumps(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--revision", required=True)
    p.add_argument("--source", required=True)
    p.add_argument("--name", default="gluster-operator")
    p.add_argument("--ca-bundle", default="/etc/ssl/certs/ca-certificates.crt")
    a = p.parse_args()
    epoch = sde()
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
    ca = a.ca_bundle if a.ca_bundle and os.path.exists(a.ca_bundle) else None

    blobs = {}
    tar = layer(a.binary, ca, epoch)
    diff_id = "sha256:" + hashlib.sha256(tar).hexdigest()
    gz = gzip.compress(tar, compresslevel=9, mtime=0)
    layer_digest = blob(blobs, gz)
    labels = {
        "org.opencontainers.image.title": "gluster-operator",
        "org.opencontainers.image.description":
            "Kubernetes operator that builds and runs GlusterFS storage clusters on OpenStack",
        "org.opencontainers.image.source": a.source,
        "org.opencontainers.image.version": a.version,
        "org.opencontainers.image.revision": a.revision,
        "org.opencontainers.image.created": created,
        "org.opencontainers.image.licenses": "Apache-2.0",
    }
    config = {
        "created": created,
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "User": "%d:%d" % (UID, UID),
            "Entrypoint": ["/gluster-operator"],
            "Cmd": ["run"],
            "Env": ["SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"],
            "WorkingDir": "/",
            "ExposedPorts": {"8080/tcp": {}},
            "Labels": labels,
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created, "created_by": "hack/oci-image.py (make image)"}],
    }
    config_bytes = dumps(config)
    config_digest = blob(blobs, config_bytes)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": len(config_bytes)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": layer_digest, "size": len(gz)}],
        "annotations": labels,
    }
    manifest_bytes = dumps(manifest)
    manifest_digest = blob(blobs, manifest_bytes)
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": len(manifest_bytes),
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {
                # skopeo/umoci/podman: oci-archive:FILE:<tag>
                "org.opencontainers.image.ref.name": a.version,
                # containerd (`ctr images import`, kind load image-archive): the chart's default.
                "io.containerd.image.name": "docker.io/library/%s:%s" % (a.name, a.version),
            },
        }],
    }
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        add(archive, "blobs", b"", 0o755, epoch, tarfile.DIRTYPE)
        add(archive, "blobs/sha256", b"", 0o755, epoch, tarfile.DIRTYPE)
        for digest in sorted(blobs):
            add(archive, "blobs/sha256/" + digest, blobs[digest], 0o644, epoch)
        add(archive, "index.json", dumps(index), 0o644, epoch)
        add(archive, "oci-layout", dumps({"imageLayoutVersion": "1.0.0"}), 0o644, epoch)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    tmp = a.out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(out.getvalue())
    os.replace(tmp, a.out)
    print("%s %s %s:%s" % (a.out, manifest_digest, a.name, a.version))


if __name__ == "__main__":
    main()
