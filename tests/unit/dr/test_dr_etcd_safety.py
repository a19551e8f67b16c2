"""`kubebook dr verify/restore` refuse before anything changes: a missing file, a snapshot of another cluster,
a second restore while one runs; and `cluster up` does not start an empty etcd after an interrupted restore.

These run on folders that look like a local cluster (state.json, pki, config) but start no process: every
refusal here must come before a single process is stopped or a file is moved.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kubebook.archive import Archive
from kubebook.cli import main
from kubebook.dr import etcdjournal as journal
from kubebook.dr import origin, snapshots
from kubebook.errors import LocalClusterError, ParameterError
from kubebook.localcluster import manager
from kubebook.localcluster.manager import LocalCluster

PORTS = {"etcd_client": 1, "etcd_peer": 2, "apiserver": 3, "controller_manager": 4, "scheduler": 5, "kwok": 6}


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KUBEBOOK_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def fake_cluster(data_dir: Path, name: str, key: str = "k") -> Path:
    """A local cluster's folder as `cluster up` leaves it, with its own CA and Secrets key, and no process."""
    root = data_dir / "clusters" / name
    (root / "pki").mkdir(parents=True)
    (root / "config").mkdir()
    (root / "etcd" / "member-0").mkdir(parents=True)
    (root / "etcd" / "member-0" / "data").write_text(f"the data of {name}")
    (root / "pki" / "ca.crt").write_text(f"CA of {name}")
    (root / "config" / "encryption.yaml").write_text(
        "resources:\n- resources: [secrets]\n  providers:\n  - secretbox:\n      keys:\n"
        f"      - name: key1\n        secret: {key}\n  - identity: {{}}\n")
    (root / "state.json").write_text(json.dumps({"name": name, "topology": "single", "ports": PORTS,
                                                 "components": {}}))
    return root


def seal_snapshot(archive: Archive, cluster: str, run_id: str, identity: dict[str, str] | None = None) -> None:
    when = datetime(2026, 12, 1, tzinfo=UTC)
    meta = {"kind": "etcd-snapshot", "run_id": run_id, "cluster": cluster, "taken": when.isoformat(),
            "sha256": hashlib.sha256(b"db").hexdigest(), "size": 2, "revision": 7, "total_keys": 3,
            "verified": True, "checks": {}}
    if identity is not None:
        meta["origin"] = identity
    archive.seal_run(run_id=run_id, runbook=snapshots.RUNBOOK, started=when, ended=when, status="succeeded",
                     exit_code=0, trigger="dr", artifacts={snapshots.DB: b"db",
                                                           snapshots.RESULTS: json.dumps(meta).encode()})


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["dr", *args])
    return code, capsys.readouterr().err


# ----- item 4: a missing file is input that is wrong ---------------------------------------------------------------
def test_verify_of_a_missing_file_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, err = run(capsys, "verify", str(tmp_path / "nosuch.db"), "--archive", str(tmp_path / "archive"))
    assert code == 2, err
    assert err.count("\n") == 1 and "nosuch.db does not exist" in err and "Traceback" not in err


def test_verify_of_a_run_id_that_matches_nothing_is_a_usage_error(capsys: pytest.CaptureFixture[str],
                                                                  tmp_path: Path) -> None:
    code, err = run(capsys, "verify", "20990101T000000Z-abcdef", "--archive", str(tmp_path / "archive"))
    assert code == 2 and "no etcd snapshot" in err and err.count("\n") == 1, err


# ----- item 1: a snapshot restores only into the cluster it was taken from -----------------------------------------
def test_a_snapshot_of_cluster_a_is_refused_for_cluster_b_before_anything_changes(
        capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path) -> None:
    fake_cluster(data_dir, "a")
    b = fake_cluster(data_dir, "b", key="other")
    archive = Archive(tmp_path / "archive")
    seal_snapshot(archive, "a", "20261201T000000Z-aaaaaa", origin.identity(data_dir / "clusters" / "a"))
    before = sorted(p.relative_to(b) for p in b.rglob("*"))
    code, err = run(capsys, "restore", "--name", "b", "--snapshot", "20261201T000000Z-aaaaaa",
                    "--archive", str(archive.root), "--confirm", "b")
    assert code == 2, err
    assert err.count("\n") == 1, err
    assert "taken from cluster 'a', not 'b'" in err
    assert "every object of 'b'" in err and "Secrets" in err  # says what would be lost
    assert "--replace-with-snapshot-of a" in err
    after = sorted(p.relative_to(b) for p in b.rglob("*"))
    assert [p for p in after if p not in before] == [Path(manager.RESTORE_LOCK)], "only the lock file is new"
    assert (b / "etcd" / "member-0" / "data").read_text() == "the data of b"
    assert not (b / manager.RESTORE_JOURNAL).exists()


def test_the_override_must_name_the_cluster_the_snapshot_came_from(data_dir: Path, tmp_path: Path) -> None:
    a, b = fake_cluster(data_dir, "a"), fake_cluster(data_dir, "b", key="other")
    archive = Archive(tmp_path / "archive")
    seal_snapshot(archive, "a", "20261201T000000Z-aaaaaa", origin.identity(a))
    snap = snapshots.find("20261201T000000Z-aaaaaa", archive)
    with pytest.raises(ParameterError, match="--replace-with-snapshot-of a"):
        origin.check(snap, "b", b, replace_with_snapshot_of="c", archive=archive)
    crossing = origin.check(snap, "b", b, replace_with_snapshot_of="a", archive=archive)
    assert crossing is not None and crossing["from"] == "a" and crossing["into"] == "b"
    assert "cannot be decrypted" in crossing["lost"]  # b has another Secrets key
    assert origin.check(snap, "a", a, replace_with_snapshot_of=None, archive=archive) is None


def test_a_cluster_recreated_under_the_same_name_is_another_cluster(data_dir: Path, tmp_path: Path) -> None:
    root = fake_cluster(data_dir, "a")
    archive = Archive(tmp_path / "archive")
    seal_snapshot(archive, "a", "20261201T000000Z-aaaaaa", origin.identity(root))
    (root / "pki" / "ca.crt").write_text("a new CA: the cluster was purged and started again")
    snap = snapshots.find("20261201T000000Z-aaaaaa", archive)
    with pytest.raises(ParameterError, match="re-created"):
        origin.check(snap, "a", root, replace_with_snapshot_of=None, archive=archive)


def test_a_file_of_unknown_origin_is_refused_unless_its_cluster_is_named(data_dir: Path, tmp_path: Path) -> None:
    root = fake_cluster(data_dir, "b")
    loose = tmp_path / "copied.db"
    loose.write_bytes(b"some snapshot")
    archive = Archive(tmp_path / "archive")
    snap = snapshots.find(str(loose), archive, cluster="b")
    assert snap.cluster == "", "a file's origin is unknown, not the cluster it is restored into"
    with pytest.raises(ParameterError, match="no record of the cluster"):
        origin.check(snap, "b", root, replace_with_snapshot_of=None, archive=archive)
    assert origin.check(snap, "b", root, replace_with_snapshot_of="b", archive=archive) is None


def test_a_copied_archive_snapshot_keeps_its_recorded_cluster(data_dir: Path, tmp_path: Path) -> None:
    fake_cluster(data_dir, "a")
    root = fake_cluster(data_dir, "b")
    archive = Archive(tmp_path / "archive")
    seal_snapshot(archive, "a", "20261201T000000Z-aaaaaa")
    record = snapshots.find("20261201T000000Z-aaaaaa", archive)
    copy = tmp_path / "copy.db"
    copy.write_bytes(record.path.read_bytes())
    snap = snapshots.find(str(copy), archive, cluster="b")
    with pytest.raises(ParameterError, match="taken from cluster 'a'"):
        origin.check(snap, "b", root, replace_with_snapshot_of=None, archive=archive)


# ----- item 3: one restore per cluster at a time -------------------------------------------------------------------
def test_a_second_restore_is_refused_at_once_naming_the_holder(
        capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path) -> None:
    root = fake_cluster(data_dir, "b")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom pathlib import Path\nfrom kubebook.dr import etcdjournal as journal\n"
        f"with journal.hold(Path({str(root)!r}), 'etcd restore of b from snapshot S'):\n"
        "    print('held', flush=True)\n    time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        code, err = run(capsys, "restore", "--name", "b", "--snapshot", "latest", "--archive",
                        str(tmp_path / "archive"), "--confirm", "b")
        assert time.monotonic() - started < 5, "refused at once, not after a wait"
        assert code == 2, err
        assert err.count("\n") == 1 and f"pid {holder.pid}" in err and "snapshot S" in err, err
        assert (root / "etcd" / "member-0" / "data").read_text() == "the data of b"
    finally:
        holder.kill()
        holder.wait()


def test_the_lock_is_free_again_after_the_holder_dies(data_dir: Path) -> None:
    root = fake_cluster(data_dir, "b")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import time\nfrom pathlib import Path\nfrom kubebook.dr import etcdjournal as journal\n"
        f"with journal.hold(Path({str(root)!r}), 'x'):\n    print('held', flush=True)\n    time.sleep(60)\n")],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    with pytest.raises(journal.RestoreBusy), journal.hold(root, "y"):
        pass
    holder.kill()  # SIGKILL: no cleanup runs, the kernel drops the flock
    holder.wait()
    with journal.hold(root, "y"):
        fd = os.open(root / manager.RESTORE_LOCK, os.O_RDWR)
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.close(fd)


# ----- item 2: `cluster up` after an interrupted restore -----------------------------------------------------------
def interrupted(root: Path, phase: str, *, moved: bool) -> None:
    journal.write(root, {"operation": "etcd-restore", "cluster": root.name, "phase": phase, "pid": 999999,
                         "started": "2026-12-01T00:00:00+00:00", "snapshot": {"ref": "20261201T000000Z-aaaaaa"}})
    if moved:
        os.rename(root / "etcd", root / manager.ETCD_ASIDE)
        (root / "etcd").mkdir()


def test_up_after_a_restore_killed_once_the_data_was_moved_aside_refuses_with_the_commands(data_dir: Path) -> None:
    root = fake_cluster(data_dir, "b")
    interrupted(root, "moved-aside", moved=True)
    with pytest.raises(LocalClusterError) as caught:
        LocalCluster(name="b").up()
    text = str(caught.value)
    assert "interrupted" in text and "20261201T000000Z-aaaaaa" in text and "\n" not in text
    assert "kubebook dr restore --name b --resume" in text and "kubebook dr restore --name b --rollback" in text
    assert (root / manager.ETCD_ASIDE / "member-0" / "data").read_text() == "the data of b", "kept, not deleted"
    assert (root / manager.RESTORE_JOURNAL).exists()


def test_up_while_a_restore_runs_refuses_naming_it(data_dir: Path) -> None:
    root = fake_cluster(data_dir, "b")
    interrupted(root, "moved-aside", moved=True)
    with journal.hold(root, "etcd restore of b from snapshot S"), \
            pytest.raises(LocalClusterError, match=f"being restored right now.*pid {os.getpid()}"):
        LocalCluster(name="b").up()


def test_rollback_puts_the_data_from_before_back(capsys: pytest.CaptureFixture[str], data_dir: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    root = fake_cluster(data_dir, "b")
    interrupted(root, "restoring", moved=True)
    (root / "etcd" / "member-0").mkdir()
    (root / "etcd" / "member-0" / "half").write_text("half-restored")
    started: list[str] = []
    monkeypatch.setattr(LocalCluster, "up", lambda self, progress=None, wait_nodes=True: started.append(self.name))
    code, err = run(capsys, "restore", "--name", "b", "--rollback")
    assert code == 0, err
    assert (root / "etcd" / "member-0" / "data").read_text() == "the data of b"
    assert not (root / "etcd" / "member-0" / "half").exists()
    assert not (root / manager.ETCD_ASIDE).exists() and not (root / manager.RESTORE_JOURNAL).exists()
    assert started == ["b"]


def test_resume_or_rollback_without_an_interrupted_restore_is_a_usage_error(
        capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    fake_cluster(data_dir, "b")
    for flag in ("--resume", "--rollback"):
        code, err = run(capsys, "restore", "--name", "b", flag)
        assert code == 2 and "no interrupted etcd restore" in err, err


def test_up_after_a_restore_killed_before_it_moved_anything_starts_the_cluster_as_it_was(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = fake_cluster(data_dir, "b")
    interrupted(root, "stopping", moved=False)
    said: list[str] = []
    monkeypatch.setattr(LocalCluster, "_start", lambda self, progress, wait_nodes: {"healthy": True})
    assert LocalCluster(name="b").up(progress=said.append) == {"healthy": True}
    assert any("interrupted before it changed any data" in s for s in said), said
    assert not (root / manager.RESTORE_JOURNAL).exists()
    assert (root / "etcd" / "member-0" / "data").read_text() == "the data of b"


def test_up_after_every_member_was_restored_finishes_the_restore_under_the_lock(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = fake_cluster(data_dir, "b")
    interrupted(root, "restored", moved=True)
    said: list[str] = []

    def start(self: LocalCluster, progress: object, wait_nodes: bool) -> dict[str, bool]:
        # nobody may start a restore while `up` finishes one
        with pytest.raises(journal.RestoreBusy), journal.hold(root, "a second restore"):
            pass
        return {"healthy": True}

    monkeypatch.setattr(LocalCluster, "_start", start)
    LocalCluster(name="b").up(progress=said.append)
    assert any("finished the interrupted etcd restore" in s for s in said), said
    assert not (root / manager.RESTORE_JOURNAL).exists() and not (root / manager.ETCD_ASIDE).exists()
    with journal.hold(root, "free again"):
        pass
