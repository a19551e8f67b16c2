"""kubebook's own objects do not read as risks without a reason, and no remediation advises removing them.

The prod baseline (built with real kustomize) plus the local control plane's own bindings
(built by the same code that creates them) are audited: without waivers every FAIL/WARN on
one of kubebook's objects says whose it is and what to do instead, and the top risks never
tell the reader to delete them; with the repository's waivers every such finding is waived
with its reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubebook.audit import AuditInventory, catalog, own, posture, run_audit
from kubebook.audit.waivers import load_waivers

WAIVERS = Path(__file__).resolve().parents[3] / "manifests" / "audit-waivers.yaml"
REMOVAL = ("delete", "remove", "Remove", "Delete")


def _local_control_plane_objects() -> list[dict[str, Any]]:
    from kubernetes import client

    from kubebook.localcluster import bootstrap

    made: list[Any] = []

    class Recorder:
        def __getattr__(self, name: str) -> Any:
            return lambda body, *_, **__: made.append(body)

    original = client.RbacAuthorizationV1Api
    client.RbacAuthorizationV1Api = lambda api: Recorder()  # type: ignore[assignment,misc]
    try:
        bootstrap.ensure_rbac(None)  # type: ignore[arg-type]
    finally:
        client.RbacAuthorizationV1Api = original  # type: ignore[misc]
    serialize = client.ApiClient().sanitize_for_serialization
    kinds = {"V1ClusterRoleBinding": "ClusterRoleBinding", "V1ClusterRole": "ClusterRole"}
    return [{**serialize(body), "kind": kinds[type(body).__name__]} for body in made
            if type(body).__name__ in kinds]


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    from kubebook.provision.build import build

    try:
        built = build("prod")
    except Exception as error:
        pytest.fail(f"cannot build the prod overlay: {error}")
    cluster_admin = {"kind": "ClusterRole", "apiVersion": "rbac.authorization.k8s.io/v1",  # the API server's own
                     "metadata": {"name": "cluster-admin", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
                     "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                               {"nonResourceURLs": ["*"], "verbs": ["*"]}]}
    return [*built.objects, *_local_control_plane_objects(), cluster_admin]


def _own_rows(result: Any) -> list[dict[str, Any]]:
    return [r for r in result.rows.records(include_passed=False)
            if r["result"] in ("FAIL", "WARN") and r["kind"] in own.RBAC_KINDS and r["name"].startswith("kubebook")]


def test_without_waivers_kubebooks_objects_say_whose_they_are_and_what_to_do(objects: list[dict[str, Any]]) -> None:
    result = run_audit(AuditInventory.from_objects(objects))
    rows = _own_rows(result)
    names = {r["name"] for r in rows}
    assert {"kubebook:cluster-admins", "kubebook-runner-mutating", "kubebook-developers"} <= names, names
    for row in rows:
        assert own.MARK in row["message"] and "keep it" in row["message"], row
    admin = next(r for r in rows if r["name"] == "kubebook:cluster-admins")
    assert "locks the admin out" in admin["message"]
    risks = posture.top_risks(result.findings, 100)
    for check, text in zip(risks["check"], risks["remediation"], strict=True):
        checks = {r["check"] for r in rows}
        if check in checks and all(own.MARK in r["message"] for r in result.rows.records(include_passed=False)
                                   if r["check"] == check and r["result"] in ("FAIL", "WARN")):
            assert not any(word in text for word in REMOVAL), (check, text)
        elif check in checks:
            assert "keep them" in text, (check, text)


def test_no_check_advises_deleting_kubebooks_admin_binding_without_the_exception() -> None:
    text = catalog.get("rbac.cluster-admin-binding").remediation
    assert "kubebook:cluster-admins" in text and "keep those" in text


def test_with_the_repositorys_waivers_every_own_finding_is_waived_with_a_reason(
        objects: list[dict[str, Any]]) -> None:
    result = run_audit(AuditInventory.from_objects(objects), load_waivers(WAIVERS, set(catalog.load_catalog())))
    open_own = [r for r in _own_rows(result) if not r["waived"]]
    assert not open_own, [(r["check"], r["kind"], r["name"]) for r in open_own]
    assert all(r["waiver"] and len(r["waiver"]) > 20 for r in _own_rows(result))
