"""A remove killed midway is journaled; the next command finishes or rolls it back and says so; the lock holds.

Generated overlay of tenant namespaces under unique names (nothing cluster-wide changes); the
namespaces, the journal and the lease are deleted afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubebook.cluster import Cluster
from kubebook.provision import journal

ROOT = Path(__file__).resolve().parents[2]
TENANTS = 12


class Many:
    def __init__(self, tmp_path: Path) -> None:
        self.prefix = f"kbcrash-{uuid.uuid4().hex[:6]}"
        self.full = 0
        self.root = tmp_path / "manifests"
        subprocess.run(["cp", "-r", str(ROOT / "manifests"), str(self.root)], check=True)
        overlay = self.root / "overlays" / "many"
        for i in range(TENANTS):
            folder = overlay / "tenants" / f"t{i}"
            folder.mkdir(parents=True)
            (folder / "kustomization.yaml").write_text(f"namespace: {self.prefix}-{i}\nresources:\n"
                                                       "- ../../../../tenant\n")
        (overlay / "kustomization.yaml").write_text(
            "resources:\n" + "".join(f"- tenants/t{i}\n" for i in range(TENANTS)) +
            "labels:\n- pairs:\n    app.kubernetes.io/managed-by: kubebook-provision\n")

    def args(self, command: str, kubeconfig: Path) -> list[str]:
        return [sys.executable, "-m", "kubebook.cli", "provision", command, "--overlay", "many",
                "--manifests", str(self.root), "--cluster", str(kubeconfig)]

    def run(self, command: str, kubeconfig: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.args(command, kubeconfig), capture_output=True, text=True, check=False,
                              timeout=300)

    def kill_midway(self, command: str, kubeconfig: Path, after: int) -> list[str]:
        proc = subprocess.Popen(self.args(command, kubeconfig), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        printed = []
        assert proc.stdout is not None
        for line in proc.stdout:
            printed.append(line)
            if len(printed) == after:
                os.killpg(proc.pid, signal.SIGKILL)
                break
        proc.wait(timeout=60)
        assert proc.returncode == -signal.SIGKILL, "it finished before it could be interrupted"
        return printed


@pytest.fixture
def many(kube: Cluster, local_cluster: Path, tmp_path: Path) -> Iterator[Many]:
    made = Many(tmp_path)
    applied = made.run("apply", local_cluster)
    assert applied.returncode == 0, applied.stdout[-2000:] + applied.stderr
    made.full = _left(kube, made)  # what the apply made, counted the way the half-removed checks count
    assert made.full >= 4 * TENANTS, made.full
    try:
        yield made
    finally:
        for i in range(TENANTS):
            kube.delete_object("v1", "Namespace", f"{made.prefix}-{i}")
        kube.delete_object("v1", "ConfigMap", journal.JOURNAL, journal.NAMESPACE)
        kube.delete_object("coordination.k8s.io/v1", "Lease", journal.LEASE, journal.NAMESPACE)


def _budgets(kube: Cluster, many: Many) -> int:
    """PodDisruptionBudgets left: the kind a remove deletes first (reverse dependency order)."""
    return sum(1 for i in range(TENANTS) for name in ("kubebook-critical", "kubebook-standard")
               if kube.get_object("policy/v1", "PodDisruptionBudget", name, f"{many.prefix}-{i}"))


def _left(kube: Cluster, many: Many) -> int:
    """The overlay's namespaced objects still there (each tenant: 2 PodDisruptionBudgets, 3 RoleBindings and a
    ServiceAccount). Which kind a remove deletes first follows its tiers, so "half-removed" counts them all."""
    kinds = (("policy/v1", "PodDisruptionBudget"), ("rbac.authorization.k8s.io/v1", "RoleBinding"),
             ("v1", "ServiceAccount"))
    return sum(len([o for o in kube.list_objects(api, kind, f"{many.prefix}-{i}")
                    if o["metadata"]["name"] != "default"]) for i in range(TENANTS) for api, kind in kinds)



def test_a_killed_remove_is_finished_by_the_next_remove_which_says_so(
        kube: Cluster, local_cluster: Path, many: Many) -> None:
    printed = many.kill_midway("remove", local_cluster, after=8)
    assert all(line.startswith("deleted") for line in printed), printed
    pending = journal.pending(kube)
    assert pending is not None and pending.operation == "remove" and pending.overlay == "many"
    assert 0 < _left(kube, many) < many.full  # half-removed

    diff = many.run("diff", local_cluster)
    assert "note: an interrupted 'provision remove --overlay many'" in diff.stderr and "is pending" in diff.stderr

    again = many.run("remove", local_cluster)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr
    notes = [line for line in again.stdout.splitlines() if line.startswith("note: ")]
    assert notes[0].startswith("note: took over the lock of ") and ":remove, which stopped renewing it" in notes[0]
    assert notes[1].startswith("note: an interrupted 'provision remove --overlay many'")
    assert notes[1].endswith("finishing it first")
    assert "note: finished the interrupted remove:" in again.stdout
    assert journal.pending(kube) is None, (journal.pending(kube), again.stdout.splitlines()[-1], again.stderr[-500:])
    assert kube.get_object("coordination.k8s.io/v1", "Lease", journal.LEASE, journal.NAMESPACE) is None
    assert _budgets(kube, many) == 0
    for i in range(TENANTS):
        live = kube.get_object("v1", "Namespace", f"{many.prefix}-{i}")
        assert live is None or live["metadata"].get("deletionTimestamp")


def test_a_killed_remove_is_rolled_back_by_an_apply_of_the_same_overlay(
        kube: Cluster, local_cluster: Path, many: Many) -> None:
    many.kill_midway("remove", local_cluster, after=8)
    assert journal.pending(kube) is not None
    assert 0 < _left(kube, many) < many.full  # half-removed
    applied = many.run("apply", local_cluster)
    assert applied.returncode == 0, applied.stdout[-2000:] + applied.stderr
    notes = [line for line in applied.stdout.splitlines() if line.startswith("note: ")]
    assert "took over the lock" in notes[0]  # the killed remove's, at once: its process is gone
    assert notes[1].endswith("is rolled back: this apply re-creates what it deleted")
    assert "note: rolled back: the interrupted remove's journal is closed" in applied.stdout
    assert journal.pending(kube) is None
    assert _budgets(kube, many) == 2 * TENANTS


def test_a_second_run_is_refused_while_the_lock_is_held_and_a_dead_holder_is_taken_over(
        kube: Cluster, local_cluster: Path, many: Many) -> None:
    with journal.locked(kube, "remove"):
        refused = many.run("apply", local_cluster)
    assert refused.returncode == 1
    assert "another provisioning run holds the lock" in refused.stderr and refused.stderr.strip().count("\n") == 0
    # a holder on this host that died (SIGKILL: no release) is taken over at once, and the output says so
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    now = journal._micro(journal._now())
    kube.request("POST", journal._lease_path(kube), body={
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": journal.LEASE, "namespace": journal.NAMESPACE},
        "spec": {"holderIdentity": f"{journal.identity().split(':')[0]}:{dead.pid}:remove",
                 "leaseDurationSeconds": 30, "acquireTime": now, "renewTime": now}})
    taken = many.run("apply", local_cluster)
    assert taken.returncode == 0, taken.stdout[-2000:] + taken.stderr
    assert f":{dead.pid}:remove, which stopped renewing it" in taken.stdout.splitlines()[0]
