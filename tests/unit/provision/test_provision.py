"""The baseline overlays as kustomize builds them, and the engine's pure parts (order, stamps, selection).

These build with the real kubectl kustomize of `kubebook cluster build`; no cluster is needed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from kubebook.errors import ParameterError
from kubebook.provision import build, overlays, select
from kubebook.provision.apply import STAMP, holds, ordered, stamped
from kubebook.provision.build import parse
from kubebook.provision.verify import access_cases

ROOT = Path(__file__).resolve().parents[3]
MANIFESTS = ROOT / "manifests"


def _kubectl() -> Path:
    from kubebook.errors import BuildError
    from kubebook.localcluster.build import binary

    try:
        return binary("kubectl")
    except BuildError:
        pytest.skip("kubectl is not built yet (make test builds it with 'kubebook cluster build')")


@pytest.fixture(scope="module")
def built() -> dict[str, object]:
    _kubectl()
    return {name: build(name) for name in ("dev", "staging", "prod")}


def _kinds(objects: list[dict], kind: str, namespace: str | None = None) -> list[dict]:
    return [o for o in objects
            if o["kind"] == kind and (namespace is None or o["metadata"].get("namespace") == namespace)]


def test_the_three_overlays_exist() -> None:
    assert overlays() == ["dev", "prod", "staging"]


@pytest.mark.parametrize("overlay, enforce", [("dev", "baseline"), ("staging", "restricted"), ("prod", "restricted")])
def test_every_tenant_namespace_has_pod_security_quota_limits_and_default_deny(built: dict, overlay: str,
                                                                               enforce: str) -> None:
    objects = built[overlay].objects
    tenants = [n for n in _kinds(objects, "Namespace") if "kubebook.io/tenant" in n["metadata"]["labels"]]
    assert len(tenants) >= 2
    system = {"kube-system": "baseline", "kube-public": "restricted", "kube-node-lease": "restricted"}
    for ns in _kinds(objects, "Namespace"):
        labels, name = ns["metadata"]["labels"], ns["metadata"]["name"]
        expected = enforce if ns in tenants else system.get(name, "restricted")
        default_sa = [s for s in _kinds(objects, "ServiceAccount", name) if s["metadata"]["name"] == "default"]
        assert default_sa and default_sa[0]["automountServiceAccountToken"] is False, name
        if name in system:
            assert labels["pod-security.kubernetes.io/enforce"] == expected, name
            continue
        assert labels["pod-security.kubernetes.io/enforce"] == expected, name
        assert labels["pod-security.kubernetes.io/audit"] == labels["pod-security.kubernetes.io/warn"] == "restricted"
        assert len(_kinds(objects, "ResourceQuota", name)) == 1, name
        assert len(_kinds(objects, "LimitRange", name)) == 1, name
        policies = {p["metadata"]["name"]: p["spec"] for p in _kinds(objects, "NetworkPolicy", name)}
        assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}, name
        assert policies["allow-dns"]["egress"][0]["ports"][0]["port"] == 53
    for ns in tenants:
        assert {p["metadata"]["name"] for p in _kinds(objects, "PodDisruptionBudget", ns["metadata"]["name"])} == {
            "kubebook-standard", "kubebook-critical"}


def test_cluster_wide_controls_are_in_every_overlay(built: dict) -> None:
    for overlay in built.values():
        objects = overlay.objects
        classes = {p["metadata"]["name"]: p for p in _kinds(objects, "PriorityClass")}
        assert set(classes) == {"kubebook-system", "kubebook-critical", "kubebook-default", "kubebook-batch"}
        assert [n for n, p in classes.items() if p.get("globalDefault")] == ["kubebook-default"]
        policies = {p["metadata"]["name"] for p in _kinds(objects, "ValidatingAdmissionPolicy")}
        bindings = {b["spec"]["policyName"] for b in _kinds(objects, "ValidatingAdmissionPolicyBinding")}
        assert policies == bindings == {"kubebook-allowed-registries", "kubebook-image-tags",
                                        "kubebook-required-labels", "kubebook-resources", "kubebook-host-isolation"}
        for policy in _kinds(objects, "ValidatingAdmissionPolicy"):
            for validation in policy["spec"]["validations"]:
                assert validation.get("message") or validation.get("messageExpression"), policy["metadata"]["name"]


def test_developers_exec_only_in_dev(built: dict) -> None:
    def exec_verdicts(overlay: str) -> list[bool]:
        return [c.allowed for c in access_cases(built[overlay]) if c.subresource == "exec"]

    assert exec_verdicts("dev") == [True]
    assert exec_verdicts("prod") == exec_verdicts("staging") == [False]
    bindings = {b["metadata"]["namespace"] for b in _kinds(built["dev"].objects, "RoleBinding")
                if b["roleRef"]["name"] == "kubebook-developer-exec"}
    assert bindings == {"dev-payments", "dev-web"}
    assert not [b for b in _kinds(built["prod"].objects, "RoleBinding") if "exec" in b["roleRef"]["name"]]


def test_developer_and_auditor_roles_grant_no_secrets(built: dict) -> None:
    roles = {r["metadata"]["name"]: r for r in _kinds(built["prod"].objects, "ClusterRole")}
    for name in ("kubebook-developer", "kubebook-auditor", "kubebook-ci-deployer"):
        for rule in roles[name]["rules"]:
            core = "" in rule["apiGroups"]
            assert not core or not {"secrets", "*"} & set(rule.get("resources", [])), (name, rule)


def test_runner_accounts_come_from_the_rendered_runner_manifests(built: dict) -> None:
    """One source: the overlay carries manifests/runner/rbac-*.yaml as render-cronjobs wrote it."""
    rendered = [d for f in sorted((MANIFESTS / "runner").glob("rbac-*.yaml"))
                for d in yaml.safe_load_all(f.read_text()) if d]
    assert rendered
    objects = built["prod"].objects
    for doc in rendered:
        match = [o for o in objects if o["kind"] == doc["kind"] and o["metadata"]["name"] == doc["metadata"]["name"]]
        assert len(match) == 1, doc["metadata"]["name"]
        for field in ("rules", "subjects", "roleRef"):
            assert match[0].get(field) == doc.get(field), (doc["metadata"]["name"], field)


def test_unknown_overlay_is_one_line_naming_the_known_ones() -> None:
    with pytest.raises(ParameterError) as caught:
        build("production")
    assert "unknown overlay 'production'" in str(caught.value) and "dev, prod, staging" in str(caught.value)
    assert "\n" not in str(caught.value)
    for bad in ("../base", "", ".hidden"):
        with pytest.raises(ParameterError):
            build(bad)


def test_malformed_overlay_is_kustomizes_error_in_one_line(tmp_path: Path) -> None:
    _kubectl()
    root = tmp_path / "manifests"
    shutil.copytree(MANIFESTS, root)
    (root / "overlays" / "broken").mkdir()
    (root / "overlays" / "broken" / "kustomization.yaml").write_text("resources:\n- ../../base\n- missing.yaml\n")
    with pytest.raises(ParameterError) as caught:
        build("broken", root)
    text = str(caught.value)
    assert "kustomize could not build" in text and "missing.yaml" in text and "nothing was applied" in text
    assert "\n" not in text


def test_documents_that_are_not_objects_or_repeat_are_refused() -> None:
    with pytest.raises(ParameterError, match="document 2 is not a Kubernetes object"):
        parse("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\nfoo: bar\n", "x")
    with pytest.raises(ParameterError, match="appears twice"):
        parse("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n"
              "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n", "x")


def test_dependency_order_puts_namespaces_first_and_policies_last(built: dict) -> None:
    kinds = [o["kind"] for o in ordered(built["prod"].objects)]
    assert kinds[0] == "Namespace"
    assert kinds.index("ClusterRole") < kinds.index("RoleBinding")
    assert max(i for i, k in enumerate(kinds) if k == "ServiceAccount") < kinds.index("RoleBinding")
    assert kinds[-1] == "ValidatingAdmissionPolicyBinding"
    assert set(kinds[-10:]) == {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}


def test_stamp_follows_content_and_holds_compares_declared_fields() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "n"}, "data": {"k": "v"}}
    one, again = stamped(obj), stamped(stamped(obj))
    assert one["metadata"]["annotations"][STAMP] == again["metadata"]["annotations"][STAMP]
    changed = stamped({**obj, "data": {"k": "w"}})
    assert changed["metadata"]["annotations"][STAMP] != one["metadata"]["annotations"][STAMP]
    live = {**one, "metadata": {**one["metadata"], "uid": "x", "resourceVersion": "9"}, "status": {}}
    assert holds(one, live)
    assert not holds(changed, live)
    assert holds(one, {**live, "data": {"k": "v", "extra": "x"}})  # extra live keys are fine
    assert not holds({"a": [1, 2]}, {"a": [1]})
    assert not holds(one, None)


def test_select_keeps_cluster_objects_and_the_named_namespaces(built: dict) -> None:
    prod = built["prod"]
    only = select(prod, "prod-web")
    assert only.namespaces() == ["prod-web"]
    assert {o["metadata"].get("namespace") for o in only.objects} <= {None, "prod-web", "kube-system"}
    assert _kinds(only.objects, "ValidatingAdmissionPolicy")
    assert select(prod, "") is prod
    with pytest.raises(ParameterError, match="has no namespace nope"):
        select(prod, "prod-web,nope")


def test_control_plane_configuration_has_one_source_in_manifests(tmp_path: Path) -> None:
    """`kubebook cluster up` writes what manifests/control-plane/ says (the encryption key excepted)."""
    from kubebook.localcluster import configs

    source = MANIFESTS / "control-plane"
    for write, name in ((configs.write_admission_config, "admission.yaml"),
                        (configs.write_audit_policy, "audit-policy.yaml")):
        assert yaml.safe_load(write(tmp_path).read_text()) == yaml.safe_load((source / name).read_text())
    written = yaml.safe_load(configs.ensure_encryption_config(tmp_path).read_text())
    template = yaml.safe_load((source / "encryption.yaml").read_text())
    key = written["resources"][0]["providers"][0]["secretbox"]["keys"][0]
    assert key["secret"] != "GENERATED-PER-CLUSTER" and len(key["secret"]) == 44
    key["secret"] = "GENERATED-PER-CLUSTER"
    assert written == template
