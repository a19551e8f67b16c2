"""etcd snapshots kept in the report archive: taken, verified, listed, checked and pruned.

Each snapshot is sealed as one archive entry of runbook ``etcd-snapshots``
(``snapshot.db``, ``results.json``, ``report.html``), so the ledger holds the
snapshot's SHA-256 and ``kubebook reports verify`` names a snapshot whose bytes
changed. The entry's status is ``succeeded`` only when the snapshot passed every
check (our SHA-256, etcd's embedded hash, ``etcdutl snapshot status`` and a trial
restore into a scratch dir); the archive's retention never deletes a runbook's
newest successful entry, which here means the newest *verified* snapshot.
"""

from __future__ import annotations

import html
import json
import os
import secrets
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from kubebook.archive import Archive
from kubebook.dr import etcd, origin
from kubebook.dr.errors import IntegrityError
from kubebook.errors import ArchiveError, ParameterError
from kubebook.localcluster.paths import cluster_dir

RUNBOOK = "etcd-snapshots"
DB = "snapshot.db"
RESULTS = "results.json"


class Snapshot(NamedTuple):
    """One archived snapshot and what its checks found when it was taken."""

    run_id: str
    path: Path
    taken: datetime
    cluster: str
    sha256: str
    revision: int
    total_keys: int
    size: int
    verified: bool
    checks: dict[str, Any]
    origin: dict[str, str] | None = None  # the cluster's fingerprints when taken (kubebook.dr.origin); None: unknown

    def as_dict(self) -> dict[str, Any]:
        out = self._asdict()
        out["path"], out["taken"] = str(self.path), self.taken.isoformat()
        return out


def inspect(path: Path, expected_sha256: str | None = None, *, trial: bool = True) -> dict[str, Any]:
    """Every check of one snapshot file, as data; raises IntegrityError on the first hard failure.

    Order matters: the cheap hashes first, so a flipped byte is refused before etcdutl opens the file.
    """
    started = time.monotonic()
    etcd.check_file(path, expected_sha256)
    sha = expected_sha256 or etcd.sha256_file(path)
    embedded = etcd.embedded_hash_ok(path)
    try:
        status = etcd.status(path)
    except etcd.DrError as error:
        raise IntegrityError(f"snapshot {path.name} cannot be read by etcdutl: {error.message}",
                             hint="restore from another snapshot; nothing was changed") from error
    checks: dict[str, Any] = {"sha256": sha, "embedded_hash": embedded, "status": status._asdict()}
    if trial:
        result = etcd.trial_restore(path)
        checks["trial_restore"] = result._asdict()
        if not result.ok:
            raise IntegrityError(f"snapshot {path.name} did not restore into a scratch dir: {result.message}",
                                 hint="restore from another snapshot; nothing was changed")
    checks["seconds"] = round(time.monotonic() - started, 3)
    return checks


def take(target: etcd.EtcdTarget, *, cluster: str, archive: Archive | None = None, trial: bool = True) -> Snapshot:
    """Save a snapshot from the first member, check it, and seal it into the archive."""
    archive = archive or Archive()
    archive.root.mkdir(parents=True, exist_ok=True)
    taken = datetime.now(UTC)
    run_id = f"{taken.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"
    scratch = Path(tempfile.mkdtemp(prefix=".snapshot-", dir=archive.root))
    try:
        path = etcd.save(target, scratch / DB)
        try:
            checks = inspect(path, trial=trial)
            verified, problem = True, ""
        except IntegrityError as error:
            checks, verified, problem = {"sha256": etcd.sha256_file(path), "status": {}}, False, error.message
        status = checks.get("status") or {}
        meta = {"kind": "etcd-snapshot", "run_id": run_id, "cluster": cluster, "taken": taken.isoformat(),
                "endpoint": target.endpoints[0], "sha256": checks["sha256"], "size": path.stat().st_size,
                "revision": status.get("revision", 0), "total_keys": status.get("total_keys", 0),
                "verified": verified, "problem": problem, "checks": checks,
                "origin": origin.identity(cluster_dir(cluster))}
        folder = archive.seal_run(run_id=run_id, runbook=RUNBOOK, started=taken, ended=datetime.now(UTC),
                                  status="succeeded" if verified else "failed", exit_code=0 if verified else 1,
                                  trigger="dr", artifacts={DB: path.read_bytes(),
                                                           RESULTS: json.dumps(meta, indent=1).encode(),
                                                           "report.html": _report(meta).encode()})
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return _from_meta(folder, meta)


def _report(meta: dict[str, Any]) -> str:
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                   for k, v in meta.items() if k != "checks")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>etcd snapshot {meta['run_id']}</title>"
            f"</head><body><h1>etcd snapshot {html.escape(meta['run_id'])}</h1><table>{rows}</table>"
            f"<pre>{html.escape(json.dumps(meta['checks'], indent=1))}</pre></body></html>")


def _from_meta(folder: Path, meta: dict[str, Any]) -> Snapshot:
    return Snapshot(meta["run_id"], folder / DB, datetime.fromisoformat(meta["taken"]), meta["cluster"],
                    meta["sha256"], int(meta["revision"]), int(meta["total_keys"]), int(meta["size"]),
                    bool(meta["verified"]), dict(meta.get("checks") or {}), meta.get("origin"))


def list_snapshots(archive: Archive | None = None, cluster: str | None = None) -> list[Snapshot]:
    """Archived snapshots, newest first (optionally of one cluster)."""
    archive = archive or Archive()
    out = []
    for run in archive.list_runs(runbook=RUNBOOK):
        try:
            meta = json.loads((run.run_dir / RESULTS).read_text())
        except (OSError, ValueError):
            continue  # `kubebook reports verify` names a damaged entry
        if cluster is None or meta.get("cluster") == cluster:
            out.append(_from_meta(run.run_dir, meta))
    return out


def find(snapshot: str, archive: Archive | None = None, cluster: str | None = None) -> Snapshot:
    """A snapshot by run id (or unique prefix), ``latest`` (newest verified), or a path to a file.

    A file's origin is unknown (``cluster`` is empty: :mod:`kubebook.dr.origin` looks it up by SHA-256);
    a file or run id that does not exist is input that is wrong (ParameterError, exit 2).
    """
    archive = archive or Archive()
    if snapshot in ("latest", ""):
        verified = [s for s in list_snapshots(archive, cluster) if s.verified]
        if not verified:
            raise ArchiveError(f"no verified etcd snapshot{' of ' + cluster if cluster else ''} in {archive.root}",
                               hint="take one with 'kubebook dr snapshot'")
        return verified[0]
    path = Path(snapshot)
    if path.is_file():
        return Snapshot("", path, datetime.fromtimestamp(path.stat().st_mtime, UTC), "",
                        "", 0, 0, path.stat().st_size, False, {})
    if os.sep in snapshot or snapshot.endswith(".db") or snapshot.startswith((".", "~")) or path.exists():
        raise ParameterError(f"snapshot file {path} {'is not a file' if path.exists() else 'does not exist'}",
                             hint="give an existing file, a run id from 'kubebook dr snapshot --list', or 'latest'")
    try:
        record = archive.find(snapshot)
    except ArchiveError as error:
        if not error.message.startswith("no run") and " runs in " not in error.message:
            raise
        raise ParameterError(f"no etcd snapshot {snapshot!r}: {error.message}",
                             hint="see 'kubebook dr snapshot --list' for run ids") from error
    if record.runbook != RUNBOOK:
        raise ArchiveError(f"run {record.run_id} is a {record.runbook} report, not an etcd snapshot")
    return _from_meta(record.run_dir, json.loads((record.run_dir / RESULTS).read_text()))


def verify(snapshot: Snapshot, *, archive: Archive | None = None, trial: bool = True) -> dict[str, Any]:
    """Re-check an archived snapshot: the ledger's SHA-256, etcd's hash, status and a trial restore."""
    expected = snapshot.sha256 or None
    if snapshot.run_id:
        entry = _ledger_hash(archive or Archive(), snapshot)
        if entry and expected and entry != expected:
            raise IntegrityError(f"snapshot {snapshot.run_id}: results.json and the ledger disagree on its SHA-256",
                                 hint="run 'kubebook reports verify'; nothing was changed")
        expected = entry or expected
    return inspect(snapshot.path, expected, trial=trial)


def _ledger_hash(archive: Archive, snapshot: Snapshot) -> str | None:
    from kubebook.archive import ledger

    for entry in ledger.entries(archive.ledger_path):
        if entry.get("type") == "run" and entry.get("run_id") == snapshot.run_id:
            return (entry.get("artifacts") or {}).get(DB)
    return None


def prune(*, keep_last: int = 0, keep_daily: int = 0, keep_weekly: int = 0, keep_monthly: int = 0,
          archive: Archive | None = None, dry_run: bool = False) -> dict[str, Any]:
    """Retention for snapshots: keep-last plus daily/weekly/monthly, never the newest verified one."""
    plan = (archive or Archive()).prune(keep_last=keep_last, keep_daily=keep_daily, keep_weekly=keep_weekly,
                                        keep_monthly=keep_monthly, runbook=RUNBOOK, dry_run=dry_run)
    return {"keep": plan.keep, "remove": [r.run_id for r in plan.remove], "dry_run": dry_run}


def backup_and_prune(cluster: str, *, archive: Archive | None = None, keep_last: int = 7, keep_daily: int = 7,
                     keep_weekly: int = 4, keep_monthly: int = 6, defrag: bool = False) -> dict[str, Any]:
    """What the etcd backup schedule runs: optional defrag, a checked snapshot, then retention."""
    archive = archive or Archive()
    target = etcd.EtcdTarget.local(cluster)
    out: dict[str, Any] = {}
    if defrag:
        result = etcd.defrag(target)
        out["defrag"] = {"before": sum(result.before.values()), "after": sum(result.after.values()),
                         "reclaimed": result.reclaimed, "seconds": round(result.seconds, 3)}
    snap = take(target, cluster=cluster, archive=archive)
    out["snapshot"] = {k: v for k, v in snap.as_dict().items() if k != "checks"}
    out["retention"] = prune(keep_last=keep_last, keep_daily=keep_daily, keep_weekly=keep_weekly,
                             keep_monthly=keep_monthly, archive=archive)
    out["snapshots"] = [{k: v for k, v in s.as_dict().items() if k != "checks"}
                        for s in list_snapshots(archive, cluster)]
    return out
