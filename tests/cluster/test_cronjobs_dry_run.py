"""The rendered runner manifests are accepted by the real API server, and their pods pass Pod Security restricted.

Everything is created with a server-side dry run and strict field validation
(an unknown or misspelt field is an error), in the test's fresh namespace.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from kubebook.cluster import Cluster
from kubebook.schedule import cronjobs, load_schedules

ROOT = Path(__file__).resolve().parents[2]


def rendered() -> list[dict[str, Any]]:
    texts = cronjobs.render(load_schedules(ROOT / "scheduled" / "schedules.yaml"), root=ROOT)
    return [doc for name, text in texts.items() if name != "kustomization.yaml"
            for doc in yaml.safe_load_all(text) if doc]


def create(kube: Cluster, doc: dict[str, Any], namespace: str, dry_run: str | None = "All") -> Any:
    """Create ``doc`` (moved into ``namespace`` when namespaced) with strict field validation."""
    doc = copy.deepcopy(doc)
    options = {"dry_run": dry_run, "field_validation": "Strict"}
    kind = doc["kind"]
    cluster_scoped = {"Namespace": kube.core.create_namespace, "ClusterRole": kube.rbac.create_cluster_role,
                      "ClusterRoleBinding": kube.rbac.create_cluster_role_binding}
    if kind in cluster_scoped:
        if kind == "ClusterRoleBinding":
            for subject in doc["subjects"]:
                subject["namespace"] = namespace
        return cluster_scoped[kind](doc, **options)
    doc["metadata"]["namespace"] = namespace
    namespaced = {"PersistentVolumeClaim": kube.core.create_namespaced_persistent_volume_claim,
                  "ServiceAccount": kube.core.create_namespaced_service_account,
                  "CronJob": kube.batch.create_namespaced_cron_job, "Pod": kube.core.create_namespaced_pod}
    return namespaced[kind](namespace, doc, **options)


def pod_of(cronjob: dict[str, Any]) -> dict[str, Any]:
    template = cronjob["spec"]["jobTemplate"]["spec"]["template"]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": cronjob["metadata"]["name"], "labels": template["metadata"]["labels"]},
            "spec": template["spec"]}


def restricted(kube: Cluster, namespace: str) -> None:
    labels = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")}
    kube.core.patch_namespace(namespace, {"metadata": {"labels": labels}})


def test_every_rendered_manifest_is_accepted_by_a_strict_server_side_dry_run(kube: Cluster, namespace: str) -> None:
    docs = rendered()
    assert {d["kind"] for d in docs} >= {"Namespace", "PersistentVolumeClaim", "ServiceAccount", "ClusterRole",
                                         "ClusterRoleBinding", "CronJob"}
    for doc in docs:
        created = create(kube, doc, namespace)
        assert created.metadata.name == doc["metadata"]["name"]


def test_the_runner_pods_are_admitted_by_pod_security_restricted(kube: Cluster, namespace: str) -> None:
    restricted(kube, namespace)
    docs = rendered()
    for account in (d for d in docs if d["kind"] == "ServiceAccount"):
        create(kube, account, namespace, dry_run=None)  # pods need their account to exist
    cronjobs_found = [d for d in docs if d["kind"] == "CronJob"]
    assert cronjobs_found
    for cronjob in cronjobs_found:
        assert create(kube, pod_of(cronjob), namespace).spec.security_context.run_as_non_root is True


def test_pod_security_would_reject_the_pod_without_its_hardening(kube: Cluster, namespace: str) -> None:
    """The admission check above can fail: the same pod minus its container securityContext is refused."""
    restricted(kube, namespace)
    docs = rendered()
    for account in (d for d in docs if d["kind"] == "ServiceAccount"):
        create(kube, account, namespace, dry_run=None)
    pod = pod_of(next(d for d in docs if d["kind"] == "CronJob"))
    del pod["spec"]["containers"][0]["securityContext"]
    with pytest.raises(ApiException) as refused:
        create(kube, pod, namespace)
    assert refused.value.status == 403 and "violates PodSecurity" in refused.value.body
