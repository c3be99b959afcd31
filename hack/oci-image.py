#!/usr/bin/env python3
"""Writes a one-layer OCI image archive (an OCI layout in a tar, what
`ctr images import` reads) from files on this machine, with no registry and
no container engine. Used for the test node's pause image (hack/node.sh) and
scimitar's image (hack/image.sh). The output is reproducible: the same inputs
give the same bytes (fixed times, owners and order).

  oci-image.py --out ARCHIVE --name REF
      [--file SRC:DEST[:MODE[:UID]]]... [--dir DEST[:MODE[:UID]]]... [--text DEST:CONTENT]...
      [--user U:G] [--entrypoint JSON] [--cmd JSON] [--expose PORT/PROTO]...
      [--env K=V]... [--workdir DIR] [--label K=V]...
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import tarfile


def add_dirs(tar, seen, path, uid=0, mode=0o755):
    parts = path.strip("/").split("/")
    for n in range(1, len(parts) + 1):
        d = "/".join(parts[:n])
        if d and d not in seen:
            seen.add(d)
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = mode if n == len(parts) else 0o755
            info.uid = info.gid = uid if n == len(parts) else 0
            info.mtime = 0
            tar.addfile(info)


def layer(entries):
    """entries: sorted list of (dest, kind, data, mode, uid)."""
    buf = io.BytesIO()
    seen = set()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for dest, kind, data, mode, uid in entries:
            dest = dest.strip("/")
            parent = os.path.dirname(dest)
            if parent:
                add_dirs(tar, seen, parent)
            if kind == "dir":
                add_dirs(tar, seen, dest, uid, mode)
                continue
            info = tarfile.TarInfo(dest)
            info.size = len(data)
            info.mode = mode
            info.uid = info.gid = uid
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def blob(root, data):
    digest = hashlib.sha256(data).hexdigest()
    root["blobs/sha256/" + digest] = data
    return "sha256:" + digest, len(data)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--name", required=True, help="image reference, e.g. ghcr.io/x/y:tag")
    p.add_argument("--file", action="append", default=[])
    p.add_argument("--dir", action="append", default=[])
    p.add_argument("--text", action="append", default=[])
    p.add_argument("--user", default="")
    p.add_argument("--entrypoint")
    p.add_argument("--cmd")
    p.add_argument("--expose", action="append", default=[])
    p.add_argument("--env", action="append", default=[])
    p.add_argument("--workdir", default="/")
    p.add_argument("--label", action="append", default=[])
    a = p.parse_args()

    entries = []
    for spec in a.file:
        src, dest, *rest = spec.split(":")
        mode = int(rest[0], 8) if rest else (0o755 if os.access(src, os.X_OK) else 0o644)
        uid = int(rest[1]) if len(rest) > 1 else 0
        with open(src, "rb") as f:
            entries.append((dest, "file", f.read(), mode, uid))
    for spec in a.text:
        dest, content = spec.split(":", 1)
        entries.append((dest, "file", content.encode(), 0o644, 0))
    for spec in a.dir:
        dest, *rest = spec.split(":")
        mode = int(rest[0], 8) if rest else 0o755
        uid = int(rest[1]) if len(rest) > 1 else 0
        entries.append((dest, "dir", b"", mode, uid))
    entries.sort(key=lambda e: e[0])

    raw = layer(entries)
    diff_id = "sha256:" + hashlib.sha256(raw).hexdigest()
    gz = gzip.compress(raw, compresslevel=6, mtime=0)
    root = {}
    layer_digest, layer_size = blob(root, gz)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {
            "User": a.user,
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] + a.env,
            "WorkingDir": a.workdir,
            "ExposedPorts": {port: {} for port in a.expose},
            "Labels": dict(kv.split("=", 1) for kv in a.label),
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "hack/oci-image.py"}],
    }
    if a.entrypoint:
        config["config"]["Entrypoint"] = json.loads(a.entrypoint)
    if a.cmd:
        config["config"]["Cmd"] = json.loads(a.cmd)
    config_digest, config_size = blob(root, json.dumps(config, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": layer_digest, "size": layer_size}],
    }
    manifest_digest, manifest_size = blob(root, json.dumps(manifest, sort_keys=True).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest, "size": manifest_size,
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {"io.containerd.image.name": a.name,
                            "org.opencontainers.image.ref.name": a.name.rsplit(":", 1)[-1]},
        }],
    }
    root["index.json"] = json.dumps(index, sort_keys=True).encode()
    root["oci-layout"] = b'{"imageLayoutVersion":"1.0.0"}'

    tmp = a.out + ".tmp"
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as out:
        for d in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            info.mtime = 0
            out.addfile(info)
        for name in sorted(root):
            info = tarfile.TarInfo(name)
            info.size = len(root[name])
            info.mode = 0o644
            info.mtime = 0
            out.addfile(info, io.BytesIO(root[name]))
    os.replace(tmp, a.out)
    print(manifest_digest)


if __name__ == "__main__":
    main()
