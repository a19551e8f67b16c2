"""node drain against a scripted API: skips, the dry run, 429 retries, the deadline, the lock, bad input."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest

from kubebook.errors import ApiError, ParameterError
from kubebook.lifecycle import maintenance as d


def pod(name: str, *, owner: str | None = "ReplicaSet", labels: dict[str, str] | None = None,
        mirror: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "shop", "uid": f"uid-{name}", "labels": labels or {}}
    if owner:
        meta["ownerReferences"] = [{"kind": owner, "name": "x", "controller": True}]
    if mirror:
        meta["annotations"] = {d.MIRROR_ANNOTATION: "x"}
    return {"metadata": meta, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}}


class FakeApi:
    """The paths drain uses; ``refuse`` says how many times each pod's real eviction answers 429."""

    def __init__(self, pods: list[dict[str, Any]], refuse: dict[str, int] | None = None,
                 pdbs: list[dict[str, Any]] | None = None) -> None:
        self.pods = {p["metadata"]["name"]: p for p in pods}
        self.refuse = dict(refuse or {})
        self.pdbs = pdbs or []
        self.lease: dict[str, Any] | None = None
        self.unschedulable: bool | None = None
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def request(self, method: str, path: str, *, query: dict[str, Any] | None = None, body: Any = None,
                **_: Any) -> Any:
        query = {k: v for k, v in (query or {}).items() if v is not None}
        self.calls.append((method, path, query))
        if path == "/api/v1/nodes/n1" and method == "GET":
            return {"metadata": {"name": "n1"}}
        if path.startswith("/api/v1/nodes/") and method == "GET":
            raise ApiError("not found", status=404)
        if path == "/api/v1/nodes":
            return {"items": [{"metadata": {"name": "n1"}}]}
        if path == "/api/v1/nodes/n1" and method == "PATCH":
            if "dryRun" not in query:
                self.unschedulable = body["spec"]["unschedulable"]
            return {"spec": {"unschedulable": self.unschedulable}}
        if path == "/api/v1/pods":
            return {"items": list(self.pods.values())}
        if path.endswith("/poddisruptionbudgets"):
            return {"items": self.pdbs}
        if path.endswith("/eviction"):
            name = path.split("/")[-2]
            if self.refuse.get(name, 0) > 0:
                if "dryRun" not in query:
                    self.refuse[name] -= 1
                raise ApiError("Cannot evict pod as it would violate the pod's disruption budget.", status=429)
            if "dryRun" not in query:
                self.pods.pop(name, None)
            return {}
        if path.endswith("/leases") and method == "POST":
            if self.lease is not None:
                raise ApiError("exists", status=409)
            self.lease = {**body, "metadata": {**body["metadata"], "uid": "lease-1"}}
            return self.lease
        if path.endswith(f"/leases/{d.LOCK_NAME}"):
            if method == "GET":
                return self.lease
            if method == "PUT":
                self.lease = body
                return body
            if method == "DELETE":
                self.lease = None
                return {}
        raise AssertionError(f"unexpected {method} {path}")


PDB = {"metadata": {"name": "web"}, "spec": {"minAvailable": 3, "selector": {"matchLabels": {"app": "web"}}},
       "status": {"disruptionsAllowed": 0}}


def test_skips_daemonset_and_mirror_pods_evicts_the_rest_and_releases_the_lock() -> None:
    api = FakeApi([pod("a"), pod("b"), pod("ds", owner="DaemonSet"), pod("static", owner="Node", mirror=True)])
    report = d.drain(api, "n1", confirm="n1", timeout=5, retry_seconds=0.01)
    assert report.exit_code == 0 and sorted(report.evicted) == ["shop/a", "shop/b"]
    assert {v.pod: v.reason.split(" ")[0] for v in report.skipped} == {"shop/ds": "DaemonSet", "shop/static": "mirror"}
    assert api.unschedulable is True and api.lease is None
    evictions = [(p, q) for m, p, q in api.calls if p.endswith("/eviction")]
    assert evictions[:2] == [("/api/v1/namespaces/shop/pods/a/eviction", {"dryRun": "All"}),
                             ("/api/v1/namespaces/shop/pods/b/eviction", {"dryRun": "All"})]  # the dry run first
    assert ("/api/v1/namespaces/shop/pods/a/eviction", {}) in evictions


def test_429_is_retried_until_the_budget_allows() -> None:
    api = FakeApi([pod("a", labels={"app": "web"})], refuse={"a": 3}, pdbs=[PDB])
    report = d.drain(api, "n1", confirm="n1", timeout=5, retry_seconds=0.01)
    assert report.exit_code == 0 and report.evicted == ["shop/a"]
    assert report.preflight[0].outcome == "blocked"
    assert report.preflight[0].pdbs[0].startswith("shop/web (minAvailable=3")


def test_a_budget_that_never_allows_times_out_on_time_naming_it() -> None:
    api = FakeApi([pod("a", labels={"app": "web"}), pod("b")], refuse={"a": 10**9}, pdbs=[PDB])
    started = time.monotonic()
    report = d.drain(api, "n1", confirm="n1", timeout=0.5, retry_seconds=0.05)
    assert time.monotonic() - started < 1.5
    assert report.exit_code == 1 and report.timed_out and report.evicted == ["shop/b"]
    assert [v.pod for v in report.blocked] == ["shop/a"] and "429" in report.blocked[0].reason
    assert report.as_dict()["blocking_pdbs"] == ["shop/web (minAvailable=3, disruptionsAllowed=0)"]
    assert api.lease is None  # released on the way out


def test_a_pod_without_a_controller_is_not_evicted_but_named() -> None:
    api = FakeApi([pod("lonely", owner=None)])
    report = d.drain(api, "n1", confirm="n1", timeout=2, retry_seconds=0.01)
    assert report.exit_code == 1 and report.blocked[0].pod == "shop/lonely" and "lonely" in api.pods


def test_dry_run_changes_nothing_and_takes_no_lock() -> None:
    api = FakeApi([pod("a", labels={"app": "web"})], refuse={"a": 1}, pdbs=[PDB])
    report = d.drain(api, "n1", dry_run=True, timeout=5)
    assert report.exit_code == 1 and report.blocked[0].pdbs and "a" in api.pods
    assert api.unschedulable is None and api.lease is None
    assert all(q.get("dryRun") == "All" for m, p, q in api.calls if m in ("PATCH", "POST"))


@pytest.mark.parametrize(("node", "confirm", "dry_run", "timeout", "match"), [
    ("n1", "n2", False, 5, "--confirm must name the node"),
    ("n1", None, False, 5, "--confirm must name the node"),
    ("n1", "n2", True, 5, "--confirm must name the node"),
    ("ghost", "ghost", False, 5, "node 'ghost' does not exist"),
    ("n1", "n1", False, 0, "--timeout must be more than 0"),
])
def test_bad_input_changes_nothing(node: str, confirm: str | None, dry_run: bool, timeout: float, match: str) -> None:
    api = FakeApi([pod("a")])
    with pytest.raises(ParameterError, match=match):
        d.drain(api, node, confirm=confirm, dry_run=dry_run, timeout=timeout)
    assert api.unschedulable is None and api.lease is None and "a" in api.pods


def test_a_held_lock_refuses_the_second_drain_naming_the_holder() -> None:
    api = FakeApi([pod("a")])
    now = dt.datetime.now(dt.UTC)
    api.lease = {"metadata": {"name": d.LOCK_NAME, "uid": "other"},
                 "spec": {"holderIdentity": "kubebook node drain n0 on h pid 1", "leaseDurationSeconds": 600,
                          "renewTime": d._micro(now)}}
    with pytest.raises(d.MaintenanceLocked, match="locked by kubebook node drain n0 on h pid 1"):
        d.drain(api, "n1", confirm="n1", timeout=5)
    assert api.unschedulable is None and "a" in api.pods


def test_an_expired_lock_is_taken_over() -> None:
    api = FakeApi([pod("a")])
    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    api.lease = {"metadata": {"name": d.LOCK_NAME, "uid": "lease-0"},
                 "spec": {"holderIdentity": "a crashed drain", "leaseDurationSeconds": 60, "renewTime": d._micro(old)}}
    report = d.drain(api, "n1", confirm="n1", timeout=5, retry_seconds=0.01)
    assert report.exit_code == 0 and report.lock_holder and "n1" in report.lock_holder


@pytest.mark.parametrize(("selector", "labels", "expected"), [
    ({"matchLabels": {"app": "web"}}, {"app": "web", "x": "y"}, True),
    ({"matchLabels": {"app": "web"}}, {"app": "db"}, False),
    ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}, {"tier": "b"}, True),
    ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a"]}]}, {"tier": "a"}, False),
    ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, {}, False),
    ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, {}, True),
    ({}, {"any": "thing"}, True),
])
def test_selector_matches(selector: dict[str, Any], labels: dict[str, str], expected: bool) -> None:
    assert d.selector_matches(selector, labels) is expected
