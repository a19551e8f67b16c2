"""Remediation against the real API server: a dry run changes nothing, a confirmed run fixes what the audit found."""

from __future__ import annotations

import time

import pytest
from kubernetes import client

from kubebook.audit import AuditInventory, remediate, run_audit
from kubebook.errors import ParameterError

FIXED_CHECKS = {"pss.namespace-enforce", "network.default-deny-ingress", "network.default-deny-egress",
                "rbac.default-sa-automount"}


def _verdicts(kube, namespace: str) -> dict[str, str]:
    frame = run_audit(AuditInventory.from_cluster(kube)).findings
    rows = frame[frame["check"].isin(FIXED_CHECKS) & ((frame["namespace"] == namespace) | (frame["name"] == namespace))]
    return dict(zip(rows["check"], rows["result"], strict=True))


def _wait_for_default_account(kube, namespace: str) -> None:
    for _ in range(100):
        if kube.core.list_namespaced_service_account(namespace, field_selector="metadata.name=default").items:
            return
        time.sleep(0.1)
    raise AssertionError(f"the controller-manager created no default ServiceAccount in {namespace}")


def test_dry_run_shows_the_diff_and_changes_nothing(kube, namespace) -> None:
    _wait_for_default_account(kube, namespace)
    before = _verdicts(kube, namespace)
    assert set(before.values()) == {"FAIL"}, before
    plan = remediate.plan(AuditInventory.from_cluster(kube), namespaces=[namespace])
    assert {f.check for f in plan.fixes} == {"pss.namespace-enforce", "network.default-deny-ingress",
                                             "rbac.default-sa-automount"}
    changes = {c.key: c for c in remediate.preview(kube, plan.fixes)}
    assert {c.action for c in changes.values()} == {"change", "create"}
    labels = changes[f"Namespace/{namespace}"]
    assert labels.action == "change"
    assert "+    pod-security.kubernetes.io/enforce: baseline" in labels.diff.splitlines(), labels.diff
    assert labels.diff.startswith(f"--- live/Namespace/{namespace}\n+++ planned/Namespace/{namespace}\n")
    account = changes[f"ServiceAccount/{namespace}/default"]
    assert "+automountServiceAccountToken: false" in account.diff.splitlines(), account.diff
    policy = changes[f"NetworkPolicy/{namespace}/{remediate.POLICY_NAME}"]
    assert policy.action == "create" and "+  - Egress" in policy.diff.splitlines(), policy.diff
    assert "None" not in policy.diff and "resourceVersion" not in policy.diff
    assert _verdicts(kube, namespace) == before
    assert kube.networking.list_namespaced_network_policy(namespace).items == []


def test_confirmed_run_fixes_and_the_re_audit_shows_it(kube, namespace) -> None:
    _wait_for_default_account(kube, namespace)
    plan = remediate.plan(AuditInventory.from_cluster(kube), namespaces=[namespace])
    with pytest.raises(ParameterError):
        remediate.apply(kube, plan.fixes, confirm=False)
    applied = remediate.apply(kube, plan.fixes, confirm=True)
    assert len(applied) == 3 and {c.action for c in applied} == {"change", "create"}
    assert [c.action for c in remediate.preview(kube, plan.fixes)] == ["unchanged"] * 3, "applying is idempotent"
    assert set(_verdicts(kube, namespace).values()) == {"PASS"}
    again = remediate.plan(AuditInventory.from_cluster(kube), namespaces=[namespace])
    assert again.fixes == [], "a second plan after applying has nothing left to do"


def test_labels_are_not_enforced_over_pods_that_would_violate_them(kube, namespace) -> None:
    # baseline allows this pod (the cluster's admission defaults enforce baseline); restricted does not
    pod = client.V1Pod(metadata=client.V1ObjectMeta(name="rooty"), spec=client.V1PodSpec(containers=[
        client.V1Container(name="c", image="registry.k8s.io/pause:3.10")]))
    kube.core.create_namespaced_pod(namespace, pod)
    inv = AuditInventory.from_cluster(kube)
    plan = remediate.plan(inv, namespaces=[namespace], kinds=["psa-labels"], level="restricted")
    assert plan.fixes == []
    assert "rooty" in plan.skipped[0]["reason"]
    assert len(remediate.plan(inv, namespaces=[namespace], kinds=["psa-labels"]).fixes) == 1, "baseline is fine"


def test_system_namespaces_and_bad_settings_are_refused_before_anything_is_sent(kube) -> None:
    plan = remediate.plan(AuditInventory.from_cluster(kube), namespaces=["kube-system"])
    assert plan.fixes == [] and "system namespace" in plan.skipped[0]["reason"]
    with pytest.raises(ParameterError, match="level"):
        remediate.plan(AuditInventory.from_cluster(kube), level="strict")
    with pytest.raises(ParameterError, match="not found"):
        remediate.plan(AuditInventory.from_cluster(kube), namespaces=["no-such-namespace"])
    with pytest.raises(ParameterError, match="unknown fix kinds"):
        remediate.plan(AuditInventory.from_cluster(kube), kinds="psa-labels, nonsense")


def test_a_refused_fix_carries_the_servers_reason(kube, namespace) -> None:
    _wait_for_default_account(kube, namespace)
    plan = remediate.plan(AuditInventory.from_cluster(kube), namespaces=namespace, kinds="default-deny")
    broken = plan.fixes[0]
    broken.body["spec"]["policyTypes"] = ["Sideways"]  # the API server's validation refuses it
    (change,) = remediate.preview(kube, plan.fixes)
    assert change.action == "refused" and "Sideways" in change.reason, change

