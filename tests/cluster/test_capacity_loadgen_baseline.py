"""The load generator on a cluster provisioned with the prod baseline: admitted, scheduled, fed with usage.

The prod overlay is applied for this module and removed afterwards (its admission policies would
otherwise judge every other test's pods), like ``test_provision_live.py`` does.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from kubebook.capacity import loadgen
from kubebook.cluster import Cluster
from kubebook.errors import ApiError
from kubebook.provision import apply, build
from kubebook.provision.apply import remove
from kubebook.provision.cases import admission_cases


def _policies_act(kube: Cluster, acting: bool, timeout: float = 120.0) -> None:
    namespace = "prod-payments" if acting else "default"
    cases = [c for c in admission_cases(namespace) if c.policy]
    deadline = time.monotonic() + timeout
    while True:
        states = []
        for case in cases:
            try:
                kube.create_object(case.obj, dry_run=True)
                states.append(False)
            except ApiError as error:
                states.append("ValidatingAdmissionPolicy 'kubebook-" in error.message)
        if all(states) if acting else not any(states):
            return
        assert time.monotonic() < deadline, f"policies still {'not ' if acting else ''}acting after {timeout:.0f}s"
        time.sleep(1)


@pytest.fixture(scope="module")
def baseline(kube: Cluster) -> Iterator[Cluster]:
    prod = build("prod")
    tenants = [n for n in prod.namespaces() if n.startswith("prod-")]
    if any(kube.get_object("v1", "Namespace", n) for n in tenants):  # a killed session's leftovers
        remove(kube, prod.objects)
        deadline = time.monotonic() + 120
        while any(kube.get_object("v1", "Namespace", n) for n in tenants):
            assert time.monotonic() < deadline, "the previous session's namespaces did not terminate"
            time.sleep(1)
    apply(kube, prod.objects)
    _policies_act(kube, acting=True)
    try:
        yield kube
    finally:
        remove(kube, prod.objects)
        _policies_act(kube, acting=False)


def test_the_load_generator_is_admitted_by_the_prod_baseline_and_its_pods_get_usage(baseline: Cluster) -> None:
    namespace = f"capacity-load-{uuid.uuid4().hex[:6]}"
    workloads = loadgen.plan(2)
    try:
        loadgen.apply(baseline, namespace, workloads)  # refused by kubebook-resources before the fix
        deadline = time.monotonic() + 120
        pods: list[dict] = []
        while time.monotonic() < deadline:
            pods = [p for p in baseline.list_path(f"/api/v1/namespaces/{namespace}/pods",
                                                  label_selector=f"{loadgen.LABEL}=true")
                    if (p.get("spec") or {}).get("nodeName")]
            if len(pods) == sum(w.replicas for w in workloads):
                break
            time.sleep(2)
        assert len(pods) == sum(w.replicas for w in workloads), "the baseline admitted the Deployments but not pods"
        result = loadgen.tick(baseline, namespace, workloads, loadgen.LoadState(), simulated_seconds=3600.0)
        assert result["pods"] == len(pods)
        pod = baseline.get_object("v1", "Pod", pods[0]["metadata"]["name"], namespace)
        assert loadgen.USAGE_CPU in pod["metadata"]["annotations"]
    finally:
        baseline.delete_object("v1", "Namespace", namespace)
