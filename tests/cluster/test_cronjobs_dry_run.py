"""The rendered runner manifests are accepted by the real API server, and their pods pass Pod Security restricted.

Everything is created with a server-side dry run and strict field validation
(an unknown or misspelt field is an error), in the test's fresh namespace.

The provisioned baseline's admission policies (manifests/base/admission-policies.yaml) judge the
rendering too: each test that needs them gets the five policies as they are in the file, renamed
for the test and bound to its namespace alone, with the allow-list ConfigMap of
manifests/base/policy-config.yaml copied into that namespace, so the session cluster's other tests
never meet them.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from kubebook.cluster import Cluster
from kubebook.errors import ApiError
from kubebook.provision.cases import admission_cases
from kubebook.schedule import cronjobs, load_schedules

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "manifests" / "base"
# How the runner image of a local cluster's real node is named: its loopback registry, pinned by digest.
LOCAL_REGISTRY = "127.0.0.1:5000"
LOCAL_IMAGE = f"{LOCAL_REGISTRY}/kubebook@sha256:{'0' * 64}"
REAL_NODE = {"real_node": True, "archive_host_path": "/var/lib/kubebook/reports", "image": LOCAL_IMAGE}


def rendered(**options: Any) -> list[dict[str, Any]]:
    texts = cronjobs.render(load_schedules(ROOT / "scheduled" / "schedules.yaml"), root=ROOT, **options)
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
    if kind == "PersistentVolume":
        doc["spec"]["claimRef"]["namespace"] = namespace
        return kube.core.create_persistent_volume(doc, **options)
    namespaced = {"PersistentVolumeClaim": kube.core.create_namespaced_persistent_volume_claim,
                  "ServiceAccount": kube.core.create_namespaced_service_account,
                  "CronJob": kube.batch.create_namespaced_cron_job, "Pod": kube.core.create_namespaced_pod,
                  "NetworkPolicy": kube.networking.create_namespaced_network_policy}
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


@pytest.fixture
def baseline(kube: Cluster, namespace: str) -> Iterator[Callable[[str], None]]:
    """``baseline(allowed_registries)``: the base admission policies, acting in this test's namespace only."""
    made: list[tuple[str, str]] = []

    def install(allowed: str) -> None:
        config = yaml.safe_load((BASE / "policy-config.yaml").read_text())
        config["metadata"]["namespace"] = namespace
        config["data"]["allowed-registries"] = allowed
        kube.create_object(config)
        for policy in yaml.safe_load_all((BASE / "admission-policies.yaml").read_text()):
            policy["metadata"]["name"] += f"-{namespace}"
            kube.create_object(policy)
            made.append(("ValidatingAdmissionPolicy", policy["metadata"]["name"]))
        for binding in yaml.safe_load_all((BASE / "admission-bindings.yaml").read_text()):
            binding["metadata"]["name"] += f"-{namespace}"
            binding["spec"]["policyName"] += f"-{namespace}"
            binding["spec"]["matchResources"] = {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}
            if "paramRef" in binding["spec"]:
                binding["spec"]["paramRef"]["namespace"] = namespace
            kube.create_object(binding)
            made.append(("ValidatingAdmissionPolicyBinding", binding["metadata"]["name"]))
        _wait_until_acting(kube, namespace)

    try:
        yield install
    finally:
        for kind, name in reversed(made):
            kube.delete_object("admissionregistration.k8s.io/v1", kind, name)


def _wait_until_acting(kube: Cluster, namespace: str, timeout: float = 60.0) -> None:
    """Admission reads policies and bindings from an informer: wait until each refuses its violation here."""
    cases = [c for c in admission_cases(namespace) if c.policy]
    deadline = time.monotonic() + timeout
    while True:
        waiting = [c.name for c in cases if not _refused_by(kube, c.obj, f"{c.policy}-{namespace}")]
        if not waiting:
            return
        assert time.monotonic() < deadline, f"the policies do not act after {timeout:.0f}s: {waiting}"
        time.sleep(0.5)


def _refused_by(kube: Cluster, obj: dict[str, Any], policy: str) -> bool:
    try:
        kube.create_object(obj, dry_run=True)
    except ApiError as error:
        return f"ValidatingAdmissionPolicy '{policy}'" in error.message
    return False


def _refusal(kube: Cluster, doc: dict[str, Any], namespace: str) -> str:
    """The API server's refusal of a dry-run create ('' when it admits the object)."""
    try:
        create(kube, doc, namespace)
    except ApiException as error:
        return str(error.body)
    return ""


def test_the_real_node_rendering_is_admitted_by_the_provisioned_policies(
        kube: Cluster, namespace: str, baseline: Callable[[str], None]) -> None:
    """The documented choice: the cluster's loopback registry joins the allow-list; everything else is as shipped."""
    shipped = yaml.safe_load((BASE / "policy-config.yaml").read_text())["data"]["allowed-registries"]
    baseline(f"{shipped},{LOCAL_REGISTRY}")
    restricted(kube, namespace)
    docs = rendered(**REAL_NODE)
    for account in (d for d in docs if d["kind"] == "ServiceAccount"):
        create(kube, account, namespace, dry_run=None)
    jobs = [d for d in docs if d["kind"] == "CronJob"]
    assert jobs and {d["kind"] for d in docs} >= {"PersistentVolume", "PersistentVolumeClaim", "NetworkPolicy"}
    for doc in (d for d in docs if d["kind"] != "ServiceAccount"):
        assert _refusal(kube, doc, namespace) == "", doc["metadata"]["name"]
    for cronjob in jobs:
        assert _refusal(kube, pod_of(cronjob), namespace) == "", cronjob["metadata"]["name"]


def test_the_provisioned_policies_refuse_an_unlisted_registry_and_a_template_without_its_team(
        kube: Cluster, namespace: str, baseline: Callable[[str], None]) -> None:
    """The admission above can fail: the shipped allow-list alone refuses the local image and the default one."""
    baseline(yaml.safe_load((BASE / "policy-config.yaml").read_text())["data"]["allowed-registries"])
    registries = f"ValidatingAdmissionPolicy 'kubebook-allowed-registries-{namespace}'"
    for options, image in ((REAL_NODE, LOCAL_IMAGE), ({}, cronjobs.DEFAULT_IMAGE)):
        cronjob = next(d for d in rendered(**options) if d["kind"] == "CronJob")
        refusal = _refusal(kube, cronjob, namespace)
        assert registries in refusal and f"image {image} is not from an allow-listed registry" in refusal
    cronjob = next(d for d in rendered(**{**REAL_NODE, "image": "registry.k8s.io/kubebook:0.1.0"})
                   if d["kind"] == "CronJob")
    assert _refusal(kube, cronjob, namespace) == ""  # an allow-listed image: the rest of the template passes
    del cronjob["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]["team"]
    refusal = _refusal(kube, cronjob, namespace)
    assert f"ValidatingAdmissionPolicy 'kubebook-required-labels-{namespace}'" in refusal
    assert "missing required label team on the pod template" in refusal
