"""OCI images made on this machine, served by the cluster's loopback registry, listed from the node's store.

There is no image registry to pull from, so kubebook makes the few images a real node needs from
files it has: ``busybox`` from Debian's static busybox, ``pause`` (the pod sandbox) from a static Go
program of ours, and ``kubebook`` (the in-cluster runner) from this repository and its venv.
Layers are reproducible tars (fixed mtimes and owners, gzip without a timestamp), so a rebuild
yields the same digests. They are pushed to the cluster's Distribution registry on 127.0.0.1
(TLS from the cluster CA) and pulled from there by containerd: the API server's AlwaysPullImages
admission (CIS 1.2.11) stays on, and every pull is a real, verified registry pull.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import subprocess
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubebook.errors import LocalClusterError

BUSYBOX = Path("/bin/busybox")
BUSYBOX_TAG = "1.35.0"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n" \
         "kubebook:x:10001:10001:kubebook:/tmp:/bin/sh\n"
GROUP = "root:x:0:\nnogroup:x:65534:\nkubebook:x:10001:\n"
# Debian builds busybox without wget's timeout feature, yet the applet still accepts -T and then
# dereferences the missing value: `wget -T 2 ...`, the first thing most people type in a pod, dies
# with SIGSEGV. /bin/wget is this wrapper: -T N, -TN, --timeout=N and --timeout N become busybox's
# `timeout N` around the real applet, every other argument passes through unchanged.
WGET_WRAPPER = """#!/bin/sh
# kubebook: busybox wget with -T/--timeout (Debian's busybox lacks them and crashes on -T)
secs=""
n=$#
while [ "$n" -gt 0 ]; do
  arg=$1; shift; n=$((n - 1))
  case $arg in
    --timeout=*) secs=${arg#--timeout=} ;;
    --timeout|-T) secs=$1; shift; n=$((n - 1)) ;;
    -T*) secs=${arg#-T} ;;
    -[cqS]*T) set -- "$@" "${arg%T}"; secs=$1; shift; n=$((n - 1)) ;;
    -[cqS]*T[0-9]*) set -- "$@" "${arg%%T*}"; secs=${arg#*T} ;;
    *) set -- "$@" "$arg" ;;
  esac
done
case $secs in
  "") exec /bin/busybox wget "$@" ;;
  *[!0-9]*) echo "wget: -T wants whole seconds, got '$secs'" >&2; exit 2 ;;
  *) exec /bin/busybox timeout "$secs" /bin/busybox wget "$@" ;;
esac
"""


@dataclass(frozen=True)
class Entry:
    """One file system entry of a layer: a file (``source`` or ``data``), a folder or a symlink."""

    path: str
    source: Path | None = None
    data: bytes | None = None
    mode: int = 0o644
    link: str | None = None
    folder: bool = False


@dataclass
class Image:
    """A built image: its blobs (digest -> bytes) and its manifest."""

    repository: str
    tag: str
    blobs: dict[str, bytes] = field(default_factory=dict)
    manifest: bytes = b""

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.manifest).hexdigest()

    @property
    def size(self) -> int:
        return len(self.manifest) + sum(len(blob) for blob in self.blobs.values())


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer(entries: Iterable[Entry], level: int = 6) -> tuple[bytes, str]:
    """(gzipped layer, diff id of the uncompressed tar), both reproducible; ``level`` is gzip's."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in sorted(entries, key=lambda e: e.path):
            info = tarfile.TarInfo(entry.path.lstrip("/"))
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            info.mode = entry.mode
            if entry.folder:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif entry.link is not None:
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, entry.link, 0o777
                tar.addfile(info)
            else:
                data = entry.data if entry.data is not None else Path(str(entry.source)).read_bytes()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    uncompressed = raw.getvalue()
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", mtime=0, compresslevel=level) as archive:
        archive.write(uncompressed)
    return packed.getvalue(), _digest(uncompressed)


def image(repository: str, tag: str, layers: list[list[Entry]], config: dict[str, Any], level: int = 6) -> Image:
    """An OCI image (linux/amd64) from layer entry lists and a runtime config (Cmd, Entrypoint, User ...)."""
    built = Image(repository, tag)
    descriptors, diff_ids = [], []
    for entries in layers:
        blob, diff_id = layer(entries, level)
        digest = _digest(blob)
        built.blobs[digest] = blob
        descriptors.append({"mediaType": LAYER_TYPE, "digest": digest, "size": len(blob)})
        diff_ids.append(diff_id)
    config_blob = json.dumps({
        "architecture": "amd64", "os": "linux", "config": config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": "kubebook.localcluster.images"}],
    }, sort_keys=True).encode()
    config_digest = _digest(config_blob)
    built.blobs[config_digest] = config_blob
    built.manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": CONFIG_TYPE, "digest": config_digest, "size": len(config_blob)},
        "layers": descriptors,
    }, sort_keys=True).encode()
    return built


def base_entries() -> list[Entry]:
    """Folders and account files every image here has (so runAsUser 10001 has a name and /tmp exists)."""
    entries = [Entry(folder, folder=True, mode=0o755) for folder in ("/etc", "/proc", "/sys", "/dev", "/root")]
    entries += [Entry("/tmp", folder=True, mode=0o1777), Entry("/etc/passwd", data=PASSWD.encode()),
                Entry("/etc/group", data=GROUP.encode())]
    return entries


def busybox_image_entries() -> list[Entry]:
    """The files of the busybox image: /bin/busybox, a symlink per applet, /bin/wget the timeout wrapper."""
    if not BUSYBOX.is_file():
        raise LocalClusterError(f"{BUSYBOX} is missing", hint="install the Debian package busybox-static")
    applets = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True, check=True).stdout.split()
    entries = [*base_entries(), Entry("/bin", folder=True, mode=0o755),
               Entry("/bin/busybox", source=BUSYBOX, mode=0o755)]
    entries += [Entry(f"/bin/{name}", link="busybox") for name in applets if re.fullmatch(r"[\w.\[-]+", name)
                and name not in ("busybox", "wget")]
    entries.append(Entry("/bin/wget", data=WGET_WRAPPER.encode(), mode=0o755))
    return entries


def busybox_image() -> Image:
    """busybox from Debian's busybox-static (see :func:`busybox_image_entries`)."""
    config = {"Cmd": ["sh"], "Env": ["PATH=/bin"], "WorkingDir": "/"}
    return image("kubebook/busybox", BUSYBOX_TAG, [busybox_image_entries()], config)


def pause_image(pause_binary: Path) -> Image:
    """The pod sandbox: one static Go binary that sleeps and reaps, run as nobody."""
    entries = [*base_entries(), Entry("/pause", source=pause_binary, mode=0o755)]
    return image("kubebook/pause", "1", [entries], {"Entrypoint": ["/pause"], "User": "65535:65535"})


def ref(registry: str, built: Image) -> str:
    return f"{registry}/{built.repository}:{built.tag}"


def push(registry: str, built: Image, ca_file: Path) -> str:
    """Upload blobs (skipping those present) and the manifest; return the pushed reference."""
    import requests

    base = f"https://{registry}/v2/{built.repository}"
    with requests.Session() as session:
        session.trust_env = False  # loopback only: no proxy, and REQUESTS_CA_BUNDLE must not replace our CA
        session.verify = str(ca_file)
        for digest, blob in built.blobs.items():
            if session.head(f"{base}/blobs/{digest}", timeout=30).status_code == 200:
                continue
            started = session.post(f"{base}/blobs/uploads/", timeout=30)
            _expect(started, 202, f"starting the upload of {digest}")
            location = started.headers["Location"]
            if location.startswith("/"):
                location = f"https://{registry}{location}"
            separator = "&" if "?" in location else "?"
            done = session.put(f"{location}{separator}digest={digest}", data=blob, timeout=120,
                               headers={"Content-Type": "application/octet-stream"})
            _expect(done, 201, f"uploading {digest}")
        answer = session.put(f"{base}/manifests/{built.tag}", data=built.manifest, timeout=30,
                             headers={"Content-Type": MANIFEST_TYPE})
        _expect(answer, 201, f"pushing the manifest of {built.repository}:{built.tag}")
    return ref(registry, built)


def _expect(response: Any, status: int, what: str) -> None:
    if response.status_code != status:
        raise LocalClusterError(f"registry refused {what}: HTTP {response.status_code} {response.text[:200]}")


def name_of(reference: str) -> str:
    """``127.0.0.1:5000/kubebook/busybox:1.35.0`` -> ``busybox``."""
    path = reference.split("@", 1)[0]
    last = path.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def list_store(ctr: Path, socket: Path) -> list[dict[str, Any]]:
    """Images in containerd's ``k8s.io`` store: {name, ref, digest, size} (size = manifest + config + layers)."""
    base = [str(ctr), "--address", str(socket), "--namespace", "k8s.io"]
    listing = subprocess.run([*base, "images", "ls"], capture_output=True, text=True, check=False, timeout=30)
    if listing.returncode != 0:
        raise LocalClusterError(f"cannot list the node's images: {listing.stderr.strip()[:300]}")
    rows = []
    for line in listing.stdout.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 3 or fields[0].startswith("sha256:") or "@" in fields[0]:
            continue
        reference, digest = fields[0], fields[2]
        rows.append({"name": name_of(reference), "ref": reference, "digest": digest,
                     "size": _content_size(base, digest)})
    return sorted(rows, key=lambda row: (row["name"], row["ref"]))


def _content_size(base: list[str], digest: str) -> int:
    shown = subprocess.run([*base, "content", "get", digest], capture_output=True, check=False, timeout=30)
    if shown.returncode != 0:
        return 0
    manifest = json.loads(shown.stdout)
    parts = [manifest.get("config", {}), *manifest.get("layers", [])]
    return len(shown.stdout) + sum(int(part.get("size", 0)) for part in parts)
