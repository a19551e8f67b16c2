"""`cluster up` without --real-nodes: 1 where the host can run a node now, else 0 with the reason printed.

The host lock (one real node per host) lives at /run/kubebook/real-node.json; these tests point
``runtime.LOCK`` at a temporary file so a real node running elsewhere on the machine is neither
seen nor disturbed. The "other cluster holds the host" case uses a real process (a sleeping
``sleep``) recorded as that cluster's kubelet, so the liveness check is the real one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubebook.localcluster.manager import LocalCluster
from kubebook.localcluster.node import placement, runtime
from kubebook.localcluster.node.hostcheck import check_host


@pytest.fixture
def lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "run" / "real-node.json"
    monkeypatch.setattr(runtime, "LOCK", path)
    return path


@pytest.fixture
def other_node(tmp_path: Path, lock: Path) -> Iterator[Path]:
    """Another cluster whose real node runs: its state records a live process, the lock names it."""
    sleeper = subprocess.Popen([shutil.which("sleep") or "/bin/sleep", "300"])
    other = tmp_path / "clusters" / "lab"
    other.mkdir(parents=True)
    record = {"component": "kubelet", "pid": sleeper.pid, "argv": [shutil.which("sleep") or "/bin/sleep", "300"],
              "log": str(other / "kubelet.log")}
    (other / "state.json").write_text(json.dumps({"real_node": {"components": {"kubelet": record}}}))
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({"cluster_root": str(other)}))
    try:
        yield other
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_number_the_cluster_was_set_up_with_is_kept(tmp_path: Path, lock: Path) -> None:
    choice = placement.choose(tmp_path / "mine", {"real_nodes": 0})
    assert choice.count == 0 and "--real-nodes 1 changes it" in choice.reason


def test_a_free_capable_host_gets_one(tmp_path: Path, lock: Path) -> None:
    support = check_host()
    if not support.supported:
        pytest.skip(f"this host cannot run a real node, so the default is 0 here: {support.summary()}")
    choice = placement.choose(tmp_path / "mine", {})
    assert choice == (1, f"{support.summary()}; --real-nodes 0 for KWOK nodes only")


def test_a_host_held_by_another_cluster_gets_none_and_says_which(tmp_path: Path, other_node: Path) -> None:
    if not check_host().supported:
        pytest.skip("the host check answers first on this host")
    choice = placement.choose(tmp_path / "mine", {})
    assert choice.count == 0
    assert str(other_node) in choice.reason and "one real node per host" in choice.reason
    assert "kubebook cluster down --name lab" in choice.reason
    # the holder itself keeps its node
    assert placement.choose(other_node, {}).count == 1


def test_a_dead_holder_frees_the_host(tmp_path: Path, other_node: Path) -> None:
    state = json.loads((other_node / "state.json").read_text())
    state["real_node"]["components"]["kubelet"]["pid"] = 2 ** 22 + 1  # above pid_max: no such process
    (other_node / "state.json").write_text(json.dumps(state))
    assert runtime.host_holder(tmp_path / "mine") is None


def test_an_unreadable_or_foreign_lock_frees_the_host(tmp_path: Path, lock: Path) -> None:
    lock.parent.mkdir(parents=True)
    for text in ("", "not json \xff", "[1, 2]", '{"cluster_root": 7}', '{"cluster_root": "/nonexistent"}'):
        lock.write_text(text, encoding="utf-8", errors="surrogateescape")
        assert runtime.host_holder(tmp_path / "mine") is None, text


def test_a_host_that_cannot_run_a_node_gets_none_with_the_check_reason(
        tmp_path: Path, lock: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that is not root (its effective uid, as the host check reads it) gets 0 and the check's reason.

    The uid is what ``os.geteuid`` answers in this process, so the test holds wherever the checkout
    sits (a 0700 home included) and spawns no other user.
    """
    monkeypatch.setattr(os, "geteuid", lambda: 65534)
    count, reason = placement.choose(tmp_path / "mine", {})
    assert count == 0 and reason.startswith("host cannot run a real node: not root (uid 65534)")


def test_the_manager_records_only_a_number_the_user_gave(tmp_path: Path, lock: Path) -> None:
    assert LocalCluster(name="x", root=tmp_path / "x", real_nodes=0).planned_real_nodes({}) == (0, "asked for")
    assert LocalCluster(name="x", root=tmp_path / "x").planned_real_nodes({"real_nodes": 1}).count == 1
    assert LocalCluster(name="x", root=tmp_path / "x").planned_real_nodes({}).count == 0
    started_by_auto = {"real_node": {"components": {"kubelet": {}}}}  # no recorded number: "auto" started it
    assert LocalCluster(name="x", root=tmp_path / "x").planned_real_nodes(started_by_auto).count == 1
    auto = LocalCluster(name="x", root=tmp_path / "x", real_nodes="auto")
    assert auto.planned_real_nodes({"real_nodes": 0}).count == 0
    assert auto.planned_real_nodes({}) == placement.choose(tmp_path / "x", {})
