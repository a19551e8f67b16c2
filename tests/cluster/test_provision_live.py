"""The baseline against the real local control plane: dry run, apply, no-op re-apply, proof, errors.

The prod overlay is applied once for the module and removed afterwards (its admission
policies would otherwise judge every other test's pods).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubebook.cluster import Cluster
from kubebook.errors import ApiError
from kubebook.provision import apply, build, plan, verify
from kubebook.provision.apply import remove
from kubebook.provision.cases import admission_cases
from kubebook.provision.verify import SETTLE, Access, subject_access


@pytest.fixture(scope="module")
def prod() -> object:
    return build("prod")


@pytest.fixture(scope="module")
def applied(kube: Cluster, prod: object) -> Iterator[dict[str, object]]:
    """Plan first (and check nothing changed), then apply; the plan and both reports are kept for the tests.

    A cluster reused from an earlier session may still carry the baseline: it is removed first.
    """
    tenants = [n for n in prod.namespaces() if n.startswith("prod-")]
    if any(kube.get_object("v1", "Namespace", n) for n in tenants):
        remove(kube, prod.objects)
        deadline = time.monotonic() + 120
        while any(kube.get_object("v1", "Namespace", n) for n in tenants):
            assert time.monotonic() < deadline, "the previous session's namespaces did not terminate"
            time.sleep(1)
    before = {n: kube.get_object("v1", "Namespace", n) for n in prod.namespaces()}
    changes = plan(kube, prod.objects)
    after_plan = {n: kube.get_object("v1", "Namespace", n) for n in prod.namespaces()}
    first = apply(kube, prod.objects)
    second = apply(kube, prod.objects)
    _wait_for_policies(kube, acting=True)  # admission reads policies from an informer: they act a moment later
    try:
        yield {"before": before, "changes": changes, "after_plan": after_plan, "first": first, "second": second}
    finally:
        remove(kube, prod.objects)
        _wait_for_policies(kube, acting=False)  # or the next module's pods meet a policy that is being deleted


def _refused(kube: Cluster, obj: dict) -> bool:
    try:
        kube.create_object(obj, dry_run=True)
    except ApiError as error:
        return "ValidatingAdmissionPolicy 'kubebook-" in error.message
    return False


def _wait_for_policies(kube: Cluster, *, acting: bool, timeout: float = 120.0) -> None:
    """Until every policy refuses its violation (``acting``), or none does any more, in a namespace they bind."""
    namespace = "prod-payments" if acting else "default"
    cases = [c for c in admission_cases(namespace) if c.policy]
    deadline = time.monotonic() + timeout
    while True:
        states = [_refused(kube, c.obj) for c in cases]
        if all(states) if acting else not any(states):
            return
        assert time.monotonic() < deadline, f"policies still {'not ' if acting else ''}acting after {timeout:.0f}s"
        time.sleep(1)


def test_dry_run_changes_nothing_and_a_second_apply_is_a_no_op(applied: dict, kube: Cluster, prod: object) -> None:
    assert applied["after_plan"] == applied["before"]  # the dry run created no namespace
    changes = applied["changes"]
    assert not [c for c in changes if c.action == "refused"], [c for c in changes if c.action == "refused"][:3]
    assert {c.action for c in changes} <= {"create", "change", "unchanged"}
    first, second = applied["first"], applied["second"]
    assert first.complete and first.counts()["created"] > 0
    assert second.complete and second.counts() == {"created": 0, "configured": 0, "unchanged": len(prod.objects),
                                                   "failed": 0}
    again = plan(kube, prod.objects)
    assert {c.action for c in again} == {"unchanged"}, [c for c in again if c.action != "unchanged"][:3]


def test_a_changed_field_is_a_conflict_shown_and_applied_again_only_with_force(
        applied: dict, kube: Cluster, prod: object) -> None:
    """Someone else's write to a declared field makes it theirs: apply shows the conflict and keeps their value
    (the ownership rule); force, asked for after seeing it, takes the field back."""
    ns = prod.namespaces()[0]
    quota = kube.get_object("v1", "ResourceQuota", "kubebook-quota", ns)
    quota["spec"]["hard"]["pods"] = "999"
    kube.request("PUT", kube.object_path("v1", "ResourceQuota", ns, "kubebook-quota"), body=quota,
                 query={"fieldManager": "someone-else"})
    shown = apply(kube, prod.objects)
    assert [(e.key, e.action) for e in shown.entries if e.action != "unchanged"] == [
        (f"ResourceQuota/{ns}/kubebook-quota", "conflict")]
    message = shown.conflicts[0].message
    assert 'conflict with "someone-else"' in message and ".spec.hard.pods" in message
    assert not shown.complete
    assert kube.get_object("v1", "ResourceQuota", "kubebook-quota", ns)["spec"]["hard"]["pods"] == "999"
    report = apply(kube, prod.objects, force=True)
    assert [e.key for e in report.entries if e.action == "configured"] == [f"ResourceQuota/{ns}/kubebook-quota"]
    assert kube.get_object("v1", "ResourceQuota", "kubebook-quota", ns)["spec"]["hard"]["pods"] == "50"


def test_each_admission_policy_refuses_its_violation_by_name_and_admits_the_compliant_pod(
        applied: dict, kube: Cluster) -> None:
    namespace = "prod-payments"
    for case in admission_cases(namespace):
        if case.policy is None:
            kube.create_object(case.obj, dry_run=True)  # raises if refused
            continue
        with pytest.raises(ApiError) as caught:
            kube.create_object(case.obj, dry_run=True)
        assert f"ValidatingAdmissionPolicy '{case.policy}'" in caught.value.message, (case.name, caught.value.message)


def test_admission_policy_messages_say_what_to_do(applied: dict, kube: Cluster) -> None:
    by_policy = {c.policy: c for c in admission_cases("prod-web") if c.policy}
    expected = {"kubebook-allowed-registries": "registry.k8s.io", "kubebook-image-tags": "pin a version tag",
                "kubebook-required-labels": "add metadata.labels.team", "kubebook-resources": "resources.limits.cpu",
                "kubebook-host-isolation": "hostNetwork"}
    for policy, hint in expected.items():
        with pytest.raises(ApiError) as caught:
            kube.create_object(by_policy[policy].obj, dry_run=True)
        assert hint in caught.value.message, (policy, caught.value.message)


def test_policy_messages_name_the_exact_field_to_add_on_a_workload(applied: dict, kube: Cluster) -> None:
    """A Deployment's labels and limits go in its pod template: the message says that path, and only what is missing."""
    import copy

    from kubebook.provision.cases import _deployment, compliant_pod

    deployment = _deployment(compliant_pod("prod-web", "kb-message-check"))
    unlabelled = copy.deepcopy(deployment)
    unlabelled["spec"]["template"]["metadata"]["labels"].pop("team")
    unlabelled["spec"]["selector"]["matchLabels"].pop("team")
    with pytest.raises(ApiError) as caught:
        kube.create_object(unlabelled, dry_run=True)
    assert "missing required label team on the pod template; add spec.template.metadata.labels.team (team: " \
           in caught.value.message, caught.value.message
    unlimited = copy.deepcopy(deployment)
    unlimited["spec"]["template"]["spec"]["containers"][0]["resources"].pop("limits")
    with pytest.raises(ApiError) as caught:
        kube.create_object(unlimited, dry_run=True)
    assert "missing main: resources.limits.cpu, resources.limits.memory (for example" in caught.value.message, \
        caught.value.message


def test_personas_are_denied_what_the_baseline_forbids(applied: dict, kube: Cluster) -> None:
    groups = ("kubebook:developers", "system:authenticated")
    developer_secrets = Access("developer", "dana", groups, "get", "secrets", "prod-payments", False)
    assert subject_access(kube, developer_secrets)[0] is False
    assert subject_access(kube, developer_secrets._replace(verb="create", resource="deployments", group="apps"))[0]
    auditor = Access("auditor", "avery", ("kubebook:auditors", "system:authenticated"), "get", "secrets",
                     "prod-payments", False)
    assert subject_access(kube, auditor)[0] is False
    assert subject_access(kube, auditor._replace(verb="list", resource="pods"))[0] is True


def test_verify_passes_every_control_on_the_provisioned_cluster(applied: dict, kube: Cluster, prod: object) -> None:
    controls = verify(kube, prod)
    failed = [c for c in controls if not c.passed]
    assert not failed, failed
    families = {c.control for c in controls}
    assert families == {"admission", "pod-security", "quota", "rbac", "network"}
    assert {c.target for c in controls if c.control == "network"} == set(prod.namespaces()) - {
        "kube-system", "kube-public", "kube-node-lease"}


def _delete_and_wait(kube: Cluster, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
    """Delete (foreground: the object lingers until the garbage collector lets go) and wait until it is gone."""
    kube.delete_object(api_version, kind, name, namespace)
    deadline = time.monotonic() + 30
    while kube.get_object(api_version, kind, name, namespace) is not None:
        assert time.monotonic() < deadline, f"{kind} {name} was not deleted"
        time.sleep(0.2)


def test_verify_fails_a_control_that_is_broken(applied: dict, kube: Cluster, prod: object) -> None:
    """Remove one default-deny policy and one admission binding: exactly those controls fail, then re-apply heals."""
    _delete_and_wait(kube, "networking.k8s.io/v1", "NetworkPolicy", "default-deny", "prod-web")
    _delete_and_wait(kube, "admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding", "kubebook-image-tags")
    time.sleep(2)  # the API server's policy informer drops the binding shortly after it is gone
    try:
        failed = {(c.control, c.target, c.check) for c in verify(kube, prod, settle=1) if not c.passed}
        assert ("network", "prod-web", "default deny") in failed
        assert ("admission", "prod-payments", "image tagged :latest") in failed
        assert all(f[0] in ("network", "admission") for f in failed), failed
    finally:
        report = apply(kube, prod.objects)
    assert report.complete and report.counts()["created"] == 2
    assert all(c.passed for c in verify(kube, prod, settle=SETTLE))  # the re-created binding takes a moment


def test_bad_overlay_names_and_malformed_overlays_apply_nothing(kube: Cluster, tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "kubebook.cli", "provision", "apply", "--overlay", "nope"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "unknown overlay 'nope'" in result.stderr
    root = tmp_path / "manifests"
    subprocess.run(["cp", "-r", str(Path(__file__).resolve().parents[2] / "manifests"), str(root)], check=True)
    broken = root / "overlays" / "broken"
    broken.mkdir()
    (broken / "namespace.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: kb-provision-broken\n")
    (broken / "kustomization.yaml").write_text("resources:\n- namespace.yaml\npatches:\n- path: nothere.yaml\n")
    result = subprocess.run([sys.executable, "-m", "kubebook.cli", "provision", "apply", "--overlay", "broken",
                             "--manifests", str(root)], capture_output=True, text=True, check=False)
    assert result.returncode == 2, result.stderr
    assert "kustomize could not build" in result.stderr and result.stderr.strip().count("\n") == 0
    assert kube.get_object("v1", "Namespace", "kb-provision-broken") is None
