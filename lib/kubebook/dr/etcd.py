"""etcd's own tools, run as binaries: snapshot save, status, restore, endpoint status and defrag.

etcdctl talks to a live member over mTLS (the client certificates of the cluster's
etcd CA); etcdutl works on files (a snapshot, a data dir) and needs no member.
Both are built from upstream modules by ``kubebook cluster build`` and run only
from here. A snapshot written by ``etcdctl snapshot save`` ends with the SHA-256
of everything before it; :func:`embedded_hash_ok` checks that the same way
``etcdutl snapshot restore`` does, so a damaged file is refused before a restore.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from kubebook.dr.errors import DrError, IntegrityError
from kubebook.errors import ParameterError
from kubebook.localcluster import build

# Upstream's advice for a restore that watchers must not mistake for old data: jump the revision
# far past anything a client has seen and mark it compacted, so every watch restarts with a fresh list.
BUMP_REVISION = 1_000_000_000


@dataclass(frozen=True)
class EtcdTarget:
    """How to reach an etcd cluster: its client URLs and the client certificate for mTLS."""

    endpoints: tuple[str, ...]
    cacert: Path
    cert: Path
    key: Path

    @classmethod
    def local(cls, name: str) -> EtcdTarget:
        """The etcd of kubebook local cluster ``name`` (the health-check client certificate)."""
        from kubebook.localcluster.manager import LocalCluster

        layout = LocalCluster(name=name).layout()
        pki = layout.pki
        return cls(tuple(layout.etcd_client_urls()), pki / "etcd-ca.crt",
                   pki / "etcd-healthcheck-client.crt", pki / "etcd-healthcheck-client.key")

    def flags(self, endpoints: tuple[str, ...] | None = None) -> list[str]:
        return [f"--endpoints={','.join(endpoints or self.endpoints)}", f"--cacert={self.cacert}",
                f"--cert={self.cert}", f"--key={self.key}"]


class SnapshotStatus(NamedTuple):
    """What ``etcdutl snapshot status`` says about a snapshot file."""

    hash: int
    revision: int
    total_keys: int
    total_size: int
    version: str


class MemberStatus(NamedTuple):
    """One member as ``etcdctl endpoint status`` reports it."""

    endpoint: str
    member_id: str
    revision: int
    db_size: int
    db_size_in_use: int
    is_leader: bool


def _run(binary: str, args: list[str], timeout: float = 120.0) -> str:
    argv = [str(build.binary(binary)), *args]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as error:
        raise DrError(f"{binary} {args[0]} did not finish within {timeout:.0f}s") from error
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip().splitlines()
        raise DrError(f"{binary} {' '.join(a for a in args if not a.startswith('--'))} failed: "
                      f"{message[-1] if message else f'exit {done.returncode}'}")
    return done.stdout


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def embedded_hash_ok(path: Path) -> bool | None:
    """True/False for a snapshot carrying etcd's trailing SHA-256, None when it carries none.

    etcd pads its bbolt file to 512-byte pages; ``snapshot save`` appends 32 bytes of hash,
    so ``size % 512 == 32`` marks a file that has one (etcdutl uses the same test).
    """
    size = path.stat().st_size
    if size % 512 != hashlib.sha256().digest_size:
        return None
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        remaining = size - 32
        while remaining:
            block = handle.read(min(1 << 20, remaining))
            digest.update(block)
            remaining -= len(block)
        return digest.digest() == handle.read(32)


def save(target: EtcdTarget, path: Path, endpoint: str | None = None) -> Path:
    """``etcdctl snapshot save`` from one member (the first by default) into ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _run("etcdctl", [*target.flags((endpoint or target.endpoints[0],)), "snapshot", "save", str(path)], 300)
    if not path.is_file():
        raise DrError(f"etcdctl reported success but wrote no snapshot at {path}")
    return path


def status(path: Path) -> SnapshotStatus:
    """``etcdutl snapshot status`` (opens the bbolt file and hashes its buckets)."""
    if not path.is_file():
        raise ParameterError(f"snapshot {path} does not exist")
    doc = json.loads(_run("etcdutl", ["snapshot", "status", str(path), "--write-out=json"]))
    return SnapshotStatus(int(doc.get("hash", 0)), int(doc.get("revision", 0)), int(doc.get("totalKey", 0)),
                          int(doc.get("totalSize", 0)), str(doc.get("version", "")))


def restore_member(snapshot: Path, data_dir: Path, *, name: str, initial_cluster: str, peer_url: str,
                   token: str, bump_revision: int = BUMP_REVISION) -> None:
    """Create one member's data dir from ``snapshot`` (etcdutl checks the embedded hash first)."""
    if data_dir.exists():
        raise DrError(f"refusing to restore over existing data dir {data_dir}", hint="remove it first")
    args = ["snapshot", "restore", str(snapshot), f"--data-dir={data_dir}", f"--name={name}",
            f"--initial-cluster={initial_cluster}", f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster-token={token}"]
    if bump_revision:
        args += [f"--bump-revision={bump_revision}", "--mark-compacted"]
    _run("etcdutl", args, 600)


class TrialRestore(NamedTuple):
    """A restore into a scratch dir: did it work, how long, how big."""

    ok: bool
    seconds: float
    db_bytes: int
    message: str


def trial_restore(snapshot: Path, scratch_root: Path | None = None) -> TrialRestore:
    """Prove a snapshot restores: ``etcdutl snapshot restore`` into a scratch dir, then remove it."""
    scratch = Path(tempfile.mkdtemp(prefix="kubebook-trial-restore-", dir=scratch_root))
    started = time.monotonic()
    try:
        restore_member(snapshot, scratch / "member", name="trial", initial_cluster="trial=http://127.0.0.1:1",
                       peer_url="http://127.0.0.1:1", token="kubebook-trial")
        db = scratch / "member" / "member" / "snap" / "db"
        if not db.is_file():
            return TrialRestore(False, time.monotonic() - started, 0, f"no database at {db} after restore")
        return TrialRestore(True, time.monotonic() - started, db.stat().st_size, "restored into a scratch data dir")
    except DrError as error:
        return TrialRestore(False, time.monotonic() - started, 0, error.message)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def check_file(path: Path, expected_sha256: str | None) -> None:
    """Refuse a snapshot whose bytes differ from our recorded SHA-256 or from etcd's embedded hash."""
    if not path.is_file():
        raise IntegrityError(f"snapshot {path} does not exist")
    if expected_sha256 is not None:
        actual = sha256_file(path)
        if actual != expected_sha256:
            raise IntegrityError(f"snapshot {path.name} is damaged or was modified: SHA-256 {actual[:16]}... "
                                 f"differs from the recorded {expected_sha256[:16]}...",
                                 hint="restore from another snapshot; nothing was changed")
    if embedded_hash_ok(path) is False:
        raise IntegrityError(f"snapshot {path.name} fails etcd's embedded SHA-256 check",
                             hint="restore from another snapshot; nothing was changed")


def members(target: EtcdTarget) -> list[MemberStatus]:
    """``etcdctl endpoint status`` for every endpoint (a dead one raises DrError)."""
    docs: list[dict[str, Any]] = json.loads(_run("etcdctl", [*target.flags(), "endpoint", "status",
                                                             "--write-out=json"], 60))
    out = []
    for doc in docs:
        st = doc.get("Status") or {}
        header = st.get("header") or {}
        member_id = f"{int(header.get('member_id', 0)):x}"
        out.append(MemberStatus(str(doc.get("Endpoint")), member_id, int(header.get("revision", 0)),
                                int(st.get("dbSize", 0)), int(st.get("dbSizeInUse", 0)),
                                int(st.get("leader", -1)) == int(header.get("member_id", -2))))
    return out


class DefragResult(NamedTuple):
    """DB size per member before and after ``etcdctl defrag``."""

    before: dict[str, int]
    after: dict[str, int]
    seconds: float

    @property
    def reclaimed(self) -> int:
        return sum(self.before.values()) - sum(self.after.values())


def defrag(target: EtcdTarget) -> DefragResult:
    """Defragment every member one at a time (each blocks its own writes briefly)."""
    before = {m.endpoint: m.db_size for m in members(target)}
    started = time.monotonic()
    for endpoint in target.endpoints:
        _run("etcdctl", [*target.flags((endpoint,)), "defrag"], 300)
    seconds = time.monotonic() - started
    return DefragResult(before, {m.endpoint: m.db_size for m in members(target)}, seconds)
