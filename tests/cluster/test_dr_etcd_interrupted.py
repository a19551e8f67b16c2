"""etcd restore safety on a real throwaway cluster: SIGKILL at the worst moment, two restores at once, and a
snapshot of another cluster.

The worst moment is right after the restore moved the etcd data aside and before it restored any member:
``KUBEBOOK_DR_TEST_PAUSE_AT`` holds the restore there, and the test kills it with a real SIGKILL.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubebook import cluster as cluster_mod
from kubebook.archive import Archive
from kubebook.dr import etcd, etcdrestore, snapshots, throwaway
from kubebook.localcluster import manager, processes
from kubebook.localcluster.manager import LocalCluster

pytestmark = pytest.mark.cluster
NAME = "pytest-dretcd"
OTHER = "pytest-dretcd-b"


def kubebook(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubebook.cli", *args], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "KUBEBOOK_HEADLESS": "1", **(env or {})})


def paused_restore(*args: str, phase: str) -> subprocess.Popen[str]:
    """`kubebook dr restore ...` started and held at ``phase`` (its stderr says so), still running."""
    proc = subprocess.Popen([sys.executable, "-m", "kubebook.cli", "dr", "restore", *args], text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "KUBEBOOK_HEADLESS": "1", etcdrestore.PAUSE_ENV: phase})
    assert proc.stderr is not None
    seen, deadline = [], time.monotonic() + 300
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 5)
        if not ready:
            continue
        line = proc.stderr.readline()
        if not line:
            pytest.fail(f"the restore ended (exit {proc.wait()}) before pausing: {''.join(seen)[-2000:]}")
        seen.append(line)
        if f"paused after phase {phase!r}" in line:
            return proc
    proc.kill()
    pytest.fail(f"the restore did not reach {phase!r} within 300s: {''.join(seen)[-2000:]}")


def sigkill(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL


def configmap_names(lc: LocalCluster, namespace: str = "default") -> set[str]:
    kube = cluster_mod.connect(lc.kubeconfig)
    try:
        return {c["metadata"]["name"] for c in kube.list_objects("v1", "ConfigMap", namespace)}
    finally:
        kube.api_client.close()


def write_configmap(lc: LocalCluster, name: str) -> None:
    kube = cluster_mod.connect(lc.kubeconfig)
    try:
        kube.create_object({"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": name, "namespace": "default"}, "data": {"x": "1"}})
    finally:
        kube.api_client.close()


def etcd_alive(lc: LocalCluster) -> bool:
    record = lc.load_state()["components"]["etcd-0"]
    return processes.is_alive(processes.ProcessRecord(**record))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCluster, Path]]:
    LocalCluster(name=NAME).down(purge=True)  # a session killed mid-way must not leave state behind
    archive = tmp_path_factory.mktemp("dretcd-archive")
    with throwaway.throwaway_cluster(name=NAME, nodes=1) as lc:
        kube = cluster_mod.connect(lc.kubeconfig)
        throwaway.seed(kube, 50)
        kube.api_client.close()
        yield lc, archive


def snapshot(lc: LocalCluster, archive: Path) -> str:
    snap = snapshots.take(etcd.EtcdTarget.local(lc.name), cluster=lc.name, archive=Archive(archive), trial=False)
    assert snap.verified and snap.origin and snap.origin.get("ca_sha256")
    return snap.run_id


def test_sigkill_after_the_data_was_moved_aside_then_up_refuses_and_resume_recovers(
        cluster: tuple[LocalCluster, Path]) -> None:
    lc, archive = cluster
    run_id = snapshot(lc, archive)
    write_configmap(lc, "written-after-the-snapshot")
    restore_args = ("--name", NAME, "--snapshot", run_id, "--archive", str(archive), "--confirm", NAME)
    first = paused_restore(*restore_args, phase="moved-aside")
    try:
        # a second restore meanwhile: refused at once, naming the first, nothing changed
        started = time.monotonic()
        second = kubebook("dr", "restore", *restore_args)
        assert time.monotonic() - started < 30
        assert second.returncode == 2, second.stderr
        assert second.stderr.count("\n") == 1 and f"pid {first.pid}" in second.stderr, second.stderr
        assert "already being restored" in second.stderr
    finally:
        sigkill(first)  # the worst moment: the data is aside, no member is restored yet
    assert not etcd_alive(lc)
    assert (lc.root / manager.ETCD_ASIDE / "member-0").is_dir(), "the data from before was moved, not deleted"

    up = kubebook("cluster", "up", "--name", NAME, "--real-nodes", "0")
    assert up.returncode != 0, "cluster up must not start an emptied etcd as if nothing happened"
    refusal = up.stderr.strip().splitlines()[-1]
    assert "interrupted" in refusal and run_id in refusal, up.stderr
    assert f"kubebook dr restore --name {NAME} --resume" in refusal
    assert f"kubebook dr restore --name {NAME} --rollback" in refusal
    assert not etcd_alive(lc), "nothing was started"

    resumed = kubebook("dr", "restore", "--name", NAME, "--resume", "--json")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert json.loads(resumed.stdout)["action"] == "resumed"
    assert lc.status()["healthy"]
    names = configmap_names(lc)
    assert "written-after-the-snapshot" not in names, "the snapshot's data is back, not the later write"
    assert len(configmap_names(lc, throwaway.SEED_NAMESPACE)) >= 50
    assert not (lc.root / manager.ETCD_ASIDE).exists() and not (lc.root / manager.RESTORE_JOURNAL).exists()


def test_sigkill_after_the_data_was_moved_aside_then_rollback_puts_it_back(
        cluster: tuple[LocalCluster, Path]) -> None:
    lc, archive = cluster
    run_id = snapshot(lc, archive)
    write_configmap(lc, "kept-by-the-rollback")
    sigkill(paused_restore("--name", NAME, "--snapshot", run_id, "--archive", str(archive), "--confirm", NAME,
                           phase="moved-aside"))
    rolled = kubebook("dr", "restore", "--name", NAME, "--rollback")
    assert rolled.returncode == 0, rolled.stderr[-2000:]
    assert lc.status()["healthy"]
    assert "kept-by-the-rollback" in configmap_names(lc), "the data from before the restore is back"
    assert not (lc.root / manager.ETCD_ASIDE).exists() and not (lc.root / manager.RESTORE_JOURNAL).exists()


def test_sigkill_once_every_member_was_restored_then_up_finishes_the_restore(
        cluster: tuple[LocalCluster, Path]) -> None:
    lc, archive = cluster
    run_id = snapshot(lc, archive)
    write_configmap(lc, "gone-after-the-finished-restore")
    sigkill(paused_restore("--name", NAME, "--snapshot", run_id, "--archive", str(archive), "--confirm", NAME,
                           phase="restored"))
    up = kubebook("cluster", "up", "--name", NAME, "--real-nodes", "0")
    assert up.returncode == 0, up.stderr[-2000:]
    assert "interrupted after every etcd member was restored" in up.stderr
    assert "finished the interrupted etcd restore" in up.stderr
    assert "gone-after-the-finished-restore" not in configmap_names(lc)
    assert not (lc.root / manager.ETCD_ASIDE).exists() and not (lc.root / manager.RESTORE_JOURNAL).exists()


def test_a_snapshot_of_another_cluster_is_refused_and_the_override_says_what_is_lost(
        cluster: tuple[LocalCluster, Path]) -> None:
    lc, archive = cluster
    run_id = snapshot(lc, archive)
    LocalCluster(name=OTHER).down(purge=True)
    with throwaway.throwaway_cluster(name=OTHER, nodes=1) as other:
        write_configmap(other, "only-in-b")
        pids = {n: c["pid"] for n, c in other.load_state()["components"].items()}
        done = kubebook("dr", "restore", "--name", OTHER, "--snapshot", run_id, "--archive", str(archive),
                        "--confirm", OTHER)
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1, done.stderr
        assert f"taken from cluster {NAME!r}, not {OTHER!r}" in done.stderr
        assert "cannot be decrypted" in done.stderr and f"--replace-with-snapshot-of {NAME}" in done.stderr
        assert {n: c["pid"] for n, c in other.load_state()["components"].items()} == pids, "nothing stopped"
        assert "only-in-b" in configmap_names(other)

        forced = kubebook("dr", "restore", "--name", OTHER, "--snapshot", run_id, "--archive", str(archive),
                          "--confirm", OTHER, "--replace-with-snapshot-of", NAME, "--json")
        assert forced.returncode == 0, forced.stderr[-2000:]
        crossing = json.loads(forced.stdout)["cross_cluster"]
        assert crossing["from"] == NAME and crossing["into"] == OTHER and not crossing["secrets_readable"]
        assert "only-in-b" not in configmap_names(other)
