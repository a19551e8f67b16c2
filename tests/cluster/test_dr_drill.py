"""Full-cluster drill on a throwaway local cluster (the drill wipes etcd, so never the shared one)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kubebook import cluster as cluster_mod
from kubebook.archive import Archive
from kubebook.dr import etcd, snapshots, throwaway
from kubebook.localcluster.manager import LocalCluster

pytestmark = pytest.mark.cluster
NAME = "pytest-dr"
SEEDED = 2000


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubebook.cli", "dr", *args], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "KUBEBOOK_HEADLESS": "1"})


@pytest.fixture(scope="module")
def drilled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCluster, Path]]:
    LocalCluster(name=NAME).down(purge=True)  # a session killed mid-way must not leave state behind
    archive = tmp_path_factory.mktemp("dr-archive")
    with throwaway.throwaway_cluster(name=NAME, nodes=1) as lc:
        kube = cluster_mod.connect(lc.kubeconfig)
        throwaway.seed(kube, SEEDED)
        _wait_until_controllers_settle(kube)
        kube.api_client.close()
        yield lc, archive


def _wait_until_controllers_settle(kube: cluster_mod.Cluster, quiet: float = 10.0, timeout: float = 120.0) -> None:
    """Until kube-system's ServiceAccounts stop changing for ``quiet`` seconds.

    The controller-manager creates one account per controller as each starts; on a loaded
    machine the last ones appear after the seeding, and one made after the drill's snapshot
    is rightly listed as created after it - which is not what this test is about.
    """
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        names = sorted(sa["metadata"]["name"] for sa in kube.list_objects("v1", "ServiceAccount", "kube-system"))
        if names != last:
            last, since = names, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(1)


def test_drill_with_2000_objects_loses_nothing_and_lists_exactly_what_came_after(
        drilled: tuple[LocalCluster, Path], drill_probes: Callable[..., list]) -> None:
    lc, archive = drilled
    done = cli("drill", "--name", NAME, "--json", "--probe-objects", "4", "--archive", str(archive))
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert {"expected", "restored", "lost", "created_after_snapshot", "rto_seconds", "status"} <= set(result)
    assert result["lost"] == [] and result["status"] == "passed"
    assert result["expected"] >= SEEDED and result["restored"] == result["expected"]
    after = result["created_after_snapshot"]
    assert len(drill_probes(after)) == 4, after
    kube = cluster_mod.connect(lc.kubeconfig)
    try:
        seeded = list(kube.list_objects("v1", "ConfigMap", throwaway.SEED_NAMESPACE))
        assert len([c for c in seeded if c["metadata"]["name"].startswith("seed-")]) == SEEDED
        assert not [c for c in kube.list_objects("v1", "ConfigMap", "default")
                    if c["metadata"]["name"].startswith("kubebook-dr-probe")], "post-snapshot objects came back"
        kube.create_object({"apiVersion": "v1", "kind": "ConfigMap",  # the restored cluster takes writes
                            "metadata": {"name": "after-restore", "namespace": "default"}})
    finally:
        kube.api_client.close()
    phases = [event["phase"] for event in result["timeline"]]
    assert phases.index("disaster") < phases.index("restore") < phases.index("verify")


def test_a_snapshot_with_one_flipped_byte_is_refused_before_any_restore(
        drilled: tuple[LocalCluster, Path], tmp_path: Path) -> None:
    lc, archive = drilled
    snap = snapshots.take(etcd.EtcdTarget.local(NAME), cluster=NAME, archive=Archive(archive), trial=False)
    assert snap.verified
    flipped = tmp_path / "flipped.db"
    shutil.copy(snap.path, flipped)
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0x01
    flipped.write_bytes(bytes(data))
    pids = {n: c["pid"] for n, c in lc.load_state()["components"].items()}
    done = cli("restore", "--name", NAME, "--snapshot", str(flipped), "--confirm", NAME)
    assert done.returncode == 2, done.stderr
    assert "embedded SHA-256" in done.stderr
    assert {n: c["pid"] for n, c in lc.load_state()["components"].items()} == pids, "nothing may be stopped"
    assert LocalCluster(name=NAME).status()["healthy"]

    # the same flip inside the archive: `reports verify` and `dr verify` both name it
    os.chmod(snap.path.parent, 0o755)
    os.chmod(snap.path, 0o644)
    snap.path.write_bytes(bytes(data))
    assert any("snapshot.db: modified" in p for p in Archive(archive).verify())
    done = cli("verify", snap.run_id, "--archive", str(archive))
    assert done.returncode == 2 and "damaged or was modified" in done.stderr


def test_restore_without_the_name_confirmed_changes_nothing(drilled: tuple[LocalCluster, Path]) -> None:
    done = cli("restore", "--name", NAME)
    assert done.returncode == 2 and f"--confirm {NAME}" in done.stderr
