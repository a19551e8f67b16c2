"""The in-cluster runner image ``kubebook:0.1.0``: this repository and its venv on a Debian base.

``kubebook schedule render-cronjobs`` names an image that holds the project at ``/opt/kubebook``
with kubebook installed. Nothing can be pulled, so the image is assembled from this host: the
Debian shared libraries the interpreter and the venv's extension modules link against (found
with ``ldd``, copied from the host's Debian 12 packages), Debian's static busybox as ``/bin/sh``,
the Python interpreter the venv was made from (at its own path, so the venv's links hold), the
venv at ``/opt/kubebook/.venv`` (script shebangs and the editable install pointed there) and the
project's runbooks, library and schedules. Three layers, so a code change rebuilds the small one:
each layer is cached under ``<cache>/layers/`` by a fingerprint of its entries (path, mode, link, and
each source file's path, size, mtime and inode), and a layer whose files did not change is read back
instead of being tarred and gzipped again (the venv's alone costs ~30 s of CPU here).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from kubebook.errors import LocalClusterError
from kubebook.localcluster import images
from kubebook.localcluster.images import Entry, Image
from kubebook.localcluster.paths import cache_dir

TARGET = Path("/opt/kubebook")
PROJECT_PARTS = ("lib", "runbooks", "labs", "notebooks", "scheduled", "manifests", "pyproject.toml")
SKIP_DIRS = {"__pycache__", ".pytest_cache", "tests", "test", ".git"}
ELF = b"\x7fELF"


def _walk(root: Path, target: Path, keep_tests: bool = False) -> list[Entry]:
    """Entries for a tree copied from ``root`` to ``target`` (symlinks kept as symlinks)."""
    entries = [Entry(str(target), folder=True, mode=0o755)]
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if keep_tests or d not in SKIP_DIRS)
        here = Path(folder)
        relative = here.relative_to(root)
        for name in dirs:
            path = here / name
            destination = str(target / relative / name)
            if path.is_symlink():
                entries.append(Entry(destination, link=os.readlink(path)))
            else:
                entries.append(Entry(destination, folder=True, mode=0o755))
        for name in sorted(files):
            path = here / name
            destination = str(target / relative / name)
            if path.is_symlink():
                entries.append(Entry(destination, link=os.readlink(path)))
            elif path.is_file():
                entries.append(Entry(destination, source=path, mode=0o755 if os.access(path, os.X_OK) else 0o644))
    return entries


def _elf_files(roots: list[Path]) -> list[Path]:
    found = []
    for root in roots:
        for folder, _, files in os.walk(root):
            for name in files:
                path = Path(folder) / name
                if path.is_symlink() or not (name.endswith(".so") or ".so." in name or os.access(path, os.X_OK)):
                    continue
                try:
                    with path.open("rb") as handle:
                        if handle.read(4) == ELF:
                            found.append(path)
                except OSError:
                    continue
    return found


def shared_libraries(roots: list[Path]) -> set[str]:
    """Host libraries (outside ``roots``) that the ELF files under ``roots`` load, per ``ldd``."""
    libraries: set[str] = set()
    files = _elf_files(roots)
    for start in range(0, len(files), 200):
        chunk = [str(f) for f in files[start:start + 200]]
        result = subprocess.run(["ldd", *chunk], capture_output=True, text=True, check=False)
        for match in re.finditer(r"(?:=>\s*)?(/[^\s]+\.so[^\s]*)\s+\(0x", result.stdout):
            path = match.group(1)
            if not any(path.startswith(str(root)) for root in roots):
                libraries.add(path)
    return libraries


def _library_entries(libraries: set[str]) -> list[Entry]:
    entries = []
    for path in sorted(libraries):
        real = Path(path).resolve()
        entries.append(Entry(path, source=real, mode=0o755))
    return entries


def runner_image(project: Path, venv: Path, tag: str = "0.1.0") -> Image:
    """Build ``kubebook:<tag>`` from a project checkout and its venv (made by ``make test``)."""
    python_home = Path(os.path.realpath(venv / "bin" / "python")).parent.parent
    if not (venv / "bin" / "python").exists() or not (project / "lib" / "kubebook").is_dir():
        raise LocalClusterError(f"{project} has no lib/kubebook or {venv} is no venv",
                                hint="run 'make test' or 'make run' once to create .venv")
    busybox = images.BUSYBOX
    base = [*images.base_entries(), Entry("/bin", folder=True, mode=0o755),
            Entry("/bin/busybox", source=busybox, mode=0o755), Entry("/bin/sh", link="busybox"),
            Entry("/bin/env", link="busybox"), Entry("/usr", folder=True, mode=0o755),
            Entry("/usr/bin", folder=True, mode=0o755), Entry("/usr/bin/env", link="/bin/busybox")]
    base += _library_entries(shared_libraries([python_home, venv]) | {"/lib64/ld-linux-x86-64.so.2"})
    zoneinfo = Path("/usr/share/zoneinfo")
    if zoneinfo.is_dir():
        base += _walk(zoneinfo, zoneinfo)
    base += _walk(python_home, python_home)
    venv_entries = _venv_entries(venv)
    project_entries = [Entry(str(TARGET), folder=True, mode=0o755)]
    for part in PROJECT_PARTS:
        source = project / part
        if source.is_dir():
            project_entries += _walk(source, TARGET / part)[1:] if part != "lib" else _walk(source, TARGET / part)
        elif source.is_file():
            project_entries.append(Entry(str(TARGET / part), source=source))
    config = {"Env": [f"PATH={TARGET}/.venv/bin:/bin:/usr/bin", "PYTHONDONTWRITEBYTECODE=1", "HOME=/tmp/home"],
              "WorkingDir": str(TARGET), "User": "10001:10001", "Cmd": ["kubebook", "--help"]}
    # gzip level 1: the venv layer is ~1.3 GB, and level 6 costs minutes of CPU for little size
    layers = [cached_layer(entries, level=1) for entries in (_dedupe(base), venv_entries, project_entries)]
    prune_layer_cache()
    return assemble("kubebook", tag, layers, config)


def layer_cache() -> Path:
    return cache_dir() / "layers"


def fingerprint(entries: list[Entry], level: int) -> str:
    """What a layer's bytes depend on, without reading its files: paths, modes, links, data and file stats."""
    digest = hashlib.sha256(f"kubebook-layer v1 gzip {level}\n".encode())
    for entry in sorted(entries, key=lambda e: e.path):
        parts = [entry.path, oct(entry.mode), entry.link or "", "folder" if entry.folder else ""]
        if entry.source is not None:
            stat = Path(entry.source).stat()
            parts += [str(entry.source), str(stat.st_size), str(stat.st_mtime_ns), str(stat.st_ino)]
        if entry.data is not None:
            parts.append(hashlib.sha256(entry.data).hexdigest())
        digest.update("\0".join(parts).encode() + b"\n")
    return digest.hexdigest()


def cached_layer(entries: list[Entry], level: int) -> tuple[bytes, str]:
    """(gzipped layer, diff id) from the cache when its fingerprint is there, else built and stored."""
    key = fingerprint(entries, level)
    folder = layer_cache()
    blob_path, meta_path = folder / f"{key}.tar.gz", folder / f"{key}.json"
    try:
        meta = json.loads(meta_path.read_text())
        blob = blob_path.read_bytes()
        if hashlib.sha256(blob).hexdigest() == meta["sha256"]:
            os.utime(blob_path)  # recently used: pruning keeps it
            return blob, str(meta["diff_id"])
    except (OSError, ValueError, KeyError):
        pass
    blob, diff_id = images.layer(entries, level)
    folder.mkdir(parents=True, exist_ok=True)
    for path, data in ((blob_path, blob), (meta_path, json.dumps(
            {"sha256": hashlib.sha256(blob).hexdigest(), "diff_id": diff_id}).encode())):
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_bytes(data)
        partial.replace(path)  # atomic: a concurrent build reads the old file or the new one, never half
    return blob, diff_id


def prune_layer_cache(keep: int = 6) -> list[Path]:
    """Delete all but the ``keep`` most recently written layers (each venv change leaves a ~500 MB one)."""
    folder = layer_cache()
    blobs = sorted(folder.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True) \
        if folder.is_dir() else []
    removed = []
    for blob in blobs[keep:]:
        for path in (blob, blob.with_name(blob.name.replace(".tar.gz", ".json"))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def assemble(repository: str, tag: str, layers: list[tuple[bytes, str]], config: dict[str, Any]) -> Image:
    """An OCI image from built layers: the same config and manifest as :func:`images.image` writes."""
    built = Image(repository, tag)
    descriptors = []
    for blob, _ in layers:
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        built.blobs[digest] = blob
        descriptors.append({"mediaType": images.LAYER_TYPE, "digest": digest, "size": len(blob)})
    config_blob = json.dumps({
        "architecture": "amd64", "os": "linux", "config": config,
        "rootfs": {"type": "layers", "diff_ids": [diff_id for _, diff_id in layers]},
        "history": [{"created_by": "kubebook.localcluster.images"}],
    }, sort_keys=True).encode()
    config_digest = "sha256:" + hashlib.sha256(config_blob).hexdigest()
    built.blobs[config_digest] = config_blob
    built.manifest = json.dumps({
        "schemaVersion": 2, "mediaType": images.MANIFEST_TYPE,
        "config": {"mediaType": images.CONFIG_TYPE, "digest": config_digest, "size": len(config_blob)},
        "layers": descriptors,
    }, sort_keys=True).encode()
    return built


def _venv_entries(venv: Path) -> list[Entry]:
    """The venv at /opt/kubebook/.venv: shebangs and the editable install point into the image."""
    old = str(venv)
    entries = []
    for entry in _walk(venv, TARGET / ".venv", keep_tests=True):
        if entry.source is not None and entry.source.name.startswith("__editable__") and \
                entry.source.suffix == ".pth":
            entries.append(Entry(entry.path, data=f"{TARGET / 'lib'}\n".encode()))
        elif entry.source is not None and entry.source.parent == venv / "bin" and entry.mode & 0o111:
            data = entry.source.read_bytes()
            if data.startswith(b"#!") and old.encode() in data.split(b"\n", 1)[0]:
                data = data.replace(old.encode(), str(TARGET / ".venv").encode(), 1)
            entries.append(Entry(entry.path, data=data, mode=entry.mode))
        else:
            entries.append(entry)
    return entries


def _dedupe(entries: list[Entry]) -> list[Entry]:
    seen: dict[str, Entry] = {}
    for entry in entries:
        seen.setdefault(entry.path, entry)
    # parent folders of library paths (tar extraction creates them, but give them sane modes)
    for path in list(seen):
        parent = Path(path).parent
        while str(parent) not in ("/", "") and str(parent) not in seen:
            seen[str(parent)] = Entry(str(parent), folder=True, mode=0o755)
            parent = parent.parent
    return list(seen.values())


if __name__ == "__main__":  # pragma: no cover
    built = runner_image(Path.cwd(), Path.cwd() / ".venv")
    print(built.digest, built.size, file=sys.stderr)
