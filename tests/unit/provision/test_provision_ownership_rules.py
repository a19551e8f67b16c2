"""The pure rules behind ownership and the lock (the real-cluster proof is tests/cluster/test_provision_ownership.py
and test_provision_crash.py)."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import sys

from kubebook.provision import journal
from kubebook.provision.apply import CREATED, _ours, created_by_kubebook, marked
from kubebook.provision.remove import other_managers

CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "a"}}


def test_only_an_object_this_apply_creates_or_that_carries_the_mark_gets_it() -> None:
    assert _ours(CM, None)
    assert not _ours(CM, {"metadata": {"name": "x"}})  # it was there before: never ours
    assert _ours(CM, marked(CM))
    default_sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": "a"}}
    assert not _ours(default_sa, None)  # the namespace's controller makes it
    assert created_by_kubebook(marked(CM)) and not created_by_kubebook(CM) and not created_by_kubebook(None)
    assert "annotations" not in CM["metadata"]  # marked() copies
    assert marked(CM)["metadata"]["annotations"] == {CREATED: "kubebook-provision"}


def test_other_managers_ignore_ours_and_status_writers() -> None:
    live = {"metadata": {"managedFields": [{"manager": "kubebook-provision", "operation": "Apply"},
                                           {"manager": "kube-controller-manager", "subresource": "status"},
                                           {"manager": "kubectl-edit", "operation": "Update"}]}}
    assert other_managers(live) == ["kubectl-edit"]
    assert other_managers({"metadata": {}}) == []


def test_a_lease_expires_after_its_duration_and_a_dead_local_holder_need_not_be_waited_for() -> None:
    now = dt.datetime.now(dt.UTC)
    fresh = {"renewTime": journal._micro(now), "leaseDurationSeconds": 30}
    stale = {"renewTime": journal._micro(now - dt.timedelta(seconds=31)), "leaseDurationSeconds": 30}
    assert not journal._expired(fresh) and journal._expired(stale) and journal._expired({})
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    host = socket.gethostname()
    assert journal._dead_here(f"{host}:{gone.pid}:remove")
    assert not journal._dead_here(journal.identity() + ":apply")  # this very process is alive
    assert not journal._dead_here(f"another-host:{gone.pid}:remove")  # someone else's: wait for its lease


class _Doomed:
    """A cluster whose journal is being deleted (foreground) for the first ``reads`` reads, then gone."""

    def __init__(self, reads: int) -> None:
        self.reads, self.applied = reads, []

    def get_object(self, *_: object) -> dict | None:
        self.reads -= 1
        if self.reads >= 0:
            return {"metadata": {"name": journal.JOURNAL, "deletionTimestamp": "2026-12-08T00:00:00Z"}}
        return {"metadata": {"name": journal.JOURNAL}, "data": {}} if self.applied else None

    def apply_object(self, obj: dict, **_: object) -> None:
        self.applied.append(obj)


def test_a_new_journal_is_written_only_once_the_one_being_deleted_is_gone() -> None:
    doomed = _Doomed(reads=3)
    journal.begin(doomed, "remove", "prod", [])
    assert doomed.reads < 0 and len(doomed.applied) == 1  # waited through the three doomed reads, then wrote


def test_a_journal_that_is_never_dropped_stops_the_operation_before_it_writes(monkeypatch) -> None:
    monkeypatch.setattr(journal, "GONE_SECONDS", 0.3)
    doomed = _Doomed(reads=10**6)
    try:
        journal.begin(doomed, "remove", "prod", [])
    except journal.ClusterError as error:
        assert "still being deleted" in str(error)
    else:
        raise AssertionError("begin wrote onto a journal that is being deleted")
    assert doomed.applied == []
