"""Snapshot retention: keep-last plus calendar buckets, and never the newest verified snapshot."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kubebook.archive import Archive
from kubebook.dr import snapshots


def seal(archive: Archive, when: datetime, verified: bool, run_id: str) -> None:
    meta = {"kind": "etcd-snapshot", "run_id": run_id, "cluster": "c", "taken": when.isoformat(), "sha256": "x",
            "size": 1, "revision": 1, "total_keys": 1, "verified": verified, "checks": {}}
    archive.seal_run(run_id=run_id, runbook=snapshots.RUNBOOK, started=when, ended=when,
                     status="succeeded" if verified else "failed", exit_code=0 if verified else 1, trigger="dr",
                     artifacts={snapshots.DB: b"db", snapshots.RESULTS: json.dumps(meta).encode()})


def test_newest_verified_snapshot_survives_a_run_of_failed_ones(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    now = datetime(2026, 11, 28, 12, tzinfo=UTC)
    seal(archive, now - timedelta(days=3), True, "20261125T120000Z-aaaaaa")
    seal(archive, now - timedelta(days=2), True, "20261126T120000Z-bbbbbb")
    for hours in (3, 2, 1):
        seal(archive, now - timedelta(hours=hours), False, f"20261128T{12 - hours:02d}0000Z-ffffff")
    result = snapshots.prune(keep_last=2, archive=archive)
    kept = {s.run_id for s in snapshots.list_snapshots(archive)}
    assert "20261126T120000Z-bbbbbb" in kept, "the newest verified snapshot must never be deleted"
    assert "20261125T120000Z-aaaaaa" not in kept and len(kept) == 3
    assert sorted(result["remove"]) == ["20261125T120000Z-aaaaaa", "20261128T090000Z-ffffff"]
    assert snapshots.find("latest", archive).run_id == "20261126T120000Z-bbbbbb"
    assert archive.verify() == []


def test_daily_buckets_keep_one_per_day(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    base = datetime(2026, 11, 20, tzinfo=UTC)
    for day in range(5):
        for hour in (6, 18):
            when = base + timedelta(days=day, hours=hour)
            seal(archive, when, True, f"{when:%Y%m%dT%H%M%SZ}-{day}{hour:02d}")
    snapshots.prune(keep_daily=3, archive=archive)
    kept = sorted(s.taken for s in snapshots.list_snapshots(archive))
    assert [t.day for t in kept] == [22, 23, 24] and all(t.hour == 18 for t in kept)
