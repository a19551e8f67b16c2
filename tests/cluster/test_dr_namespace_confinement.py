"""A namespace restore against the real API server creates only namespaced objects in the backup's own namespaces.

Each backup here is written as an attacker would: `dr backup`'s own file with objects added and both
checksums recomputed (bundle.write). Every refusal must come before anything changes.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubebook.cluster import Cluster
from kubebook.dr import backup, bundle, restore
from kubebook.errors import ParameterError

pytestmark = pytest.mark.cluster
SECRET_VALUE = "s3cr3t-" + uuid.uuid4().hex


def cli(*args: str, key: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubebook.cli", "dr", *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, bundle.KEY_ENV: key})


@pytest.fixture
def key() -> str:
    return bundle.new_key()


def forged(kube: Cluster, namespace: str, tmp_path: Path, key: str, *extra: dict[str, Any]) -> Path:
    """A real backup of ``namespace`` (a ConfigMap and a Secret) with ``extra`` objects added, checksums right."""
    kube.create_object({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app", "namespace": namespace},
                        "data": {"a": "b"}})
    kube.create_object({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": namespace},
                        "type": "Opaque", "stringData": {"password": SECRET_VALUE}})
    path = backup.backup(kube, [namespace], tmp_path / "real.tar.gz", key=base64.b64decode(key)).path
    data = bundle.read(path)
    out = tmp_path / f"forged-{uuid.uuid4().hex[:6]}.tar.gz"
    return bundle.write(out, {k: v for k, v in data.manifest.items() if k not in ("objects", "objects_sha256")},
                        data.objects + list(extra))


def refused(done: subprocess.CompletedProcess[str], *named: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    for name in named:
        assert name in done.stderr, done.stderr


def gone(kube: Cluster, namespace: str) -> None:
    kube.delete_object("v1", "Namespace", namespace)
    deadline = time.monotonic() + 90
    while kube.get_object("v1", "Namespace", namespace) is not None:
        assert time.monotonic() < deadline, f"namespace {namespace} was not deleted within 90 s"
        time.sleep(0.3)


def test_cluster_scoped_objects_and_a_shadowing_crd_are_refused_and_nothing_is_created(
        kube: Cluster, namespace: str, tmp_path: Path, key: str) -> None:
    tag = uuid.uuid4().hex[:6]
    crb = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
           "metadata": {"name": f"evil-{tag}"},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
           "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": namespace}]}
    webhook = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
               "metadata": {"name": f"evil-{tag}"}, "webhooks": []}
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "networkpolicies.networking.k8s.io",
                        "annotations": {"api-approved.kubernetes.io": "unapproved, testing"}},
           "spec": {"group": "networking.k8s.io", "scope": "Namespaced",
                    "names": {"plural": "networkpolicies", "singular": "networkpolicy", "kind": "NetworkPolicy"},
                    "versions": [{"name": "v9", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                        "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}
    policy = {"apiVersion": "networking.k8s.io/v9", "kind": "NetworkPolicy",
              "metadata": {"name": "x", "namespace": namespace}}
    path = forged(kube, namespace, tmp_path, key, crb, webhook, crd, policy)
    target = f"{namespace}-r"
    for extra in ((), ("--with-crds",), ("--dry-run",), ("--trial",)):
        done = cli("restore-namespace", str(path), "--map", f"{namespace}={target}", *extra, key=key)
        refused(done, f"ClusterRoleBinding/evil-{tag} (cluster-scoped)",
                f"ValidatingWebhookConfiguration/evil-{tag} (cluster-scoped)",
                "CustomResourceDefinition/networkpolicies.networking.k8s.io (its group networking.k8s.io is a "
                "built-in API group")
    assert kube.get_object("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", f"evil-{tag}") is None
    assert kube.get_object("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", f"evil-{tag}") is None
    assert kube.get_object("apiextensions.k8s.io/v1", "CustomResourceDefinition",
                           "networkpolicies.networking.k8s.io") is None
    assert kube.get_object("v1", "Namespace", target) is None
    assert kube.get_object("v1", "Namespace", f"{namespace}-trial") is None
    list(kube.list_objects("networking.k8s.io/v1", "NetworkPolicy"))  # the real API still answers


def test_objects_of_undeclared_namespaces_are_refused_with_map_and_trial_too(
        kube: Cluster, namespace: str, tmp_path: Path, key: str) -> None:
    tag = uuid.uuid4().hex[:6]
    planted = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"planted-{tag}",
                                                                    "namespace": "kube-system"}}
    path = forged(kube, namespace, tmp_path, key, planted)
    for extra in (("--map", f"{namespace}={namespace}-r"), ("--trial",), ()):
        refused(cli("restore-namespace", str(path), *extra, key=key),
                f"ConfigMap/kube-system/planted-{tag} (namespace kube-system is not declared by the backup)")
    assert kube.get_object("v1", "ConfigMap", f"planted-{tag}", "kube-system") is None
    assert kube.get_object("v1", "Namespace", f"{namespace}-trial") is None


def test_mapping_onto_kube_system_with_policy_update_is_refused_and_kube_system_is_untouched(
        kube: Cluster, namespace: str, tmp_path: Path, key: str) -> None:
    kube.create_object({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app", "namespace": namespace}})
    kube.apply_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace,
                                                                            "labels": {"tenant": "attacker"}}},
                      field_manager="test")
    path = backup.backup(kube, [namespace], tmp_path / "b.tar.gz", key=base64.b64decode(key)).path
    before = kube.get_object("v1", "Namespace", "kube-system")["metadata"].get("labels")
    done = cli("restore-namespace", str(path), "--map", f"{namespace}=kube-system", "--policy", "update", key=key)
    refused(done, "kube-system are system namespaces", "--allow-system-namespace kube-system")
    assert kube.get_object("v1", "Namespace", "kube-system")["metadata"].get("labels") == before
    assert kube.get_object("v1", "ConfigMap", "app", "kube-system") is None


def test_a_dry_run_shows_a_secrets_keys_and_hashes_never_its_value(
        kube: Cluster, namespace: str, tmp_path: Path, key: str) -> None:
    path = forged(kube, namespace, tmp_path, key)
    done = cli("restore-namespace", str(path), "--map", f"{namespace}={namespace}-r", "--dry-run", "--json", key=key)
    assert done.returncode == 0, done.stderr
    changes = {c["key"]: c for c in json.loads(done.stdout)["changes"]}
    secret = changes[f"Secret/{namespace}-r/db"]
    assert secret["action"] == "create" and "password:" in secret["diff"] and "keyed hash" in secret["diff"]
    for needle in (SECRET_VALUE, base64.b64encode(SECRET_VALUE.encode()).decode()):
        assert needle not in done.stdout and needle not in done.stderr


def test_a_journal_left_by_a_restore_whose_namespace_was_deleted_restores_everything_again(
        kube: Cluster, namespace: str, tmp_path: Path, key: str) -> None:
    for index in range(5):
        kube.create_object({"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": f"c{index}", "namespace": namespace}})
    path = backup.backup(kube, [namespace], tmp_path / "b.tar.gz", key=base64.b64decode(key)).path
    target = f"{namespace}-again"
    args = ("restore-namespace", str(path), "--map", f"{namespace}={target}", "--json")
    try:
        first = cli(*args, key=key)
        assert first.returncode == 0, first.stderr
        gone(kube, target)
        second = cli(*args, key=key)
        assert second.returncode == 0, second.stderr
        counts = json.loads(second.stdout)["counts"]
        assert counts.get("created", 0) >= 6 and "resumed" not in counts, second.stdout  # Namespace + 5 ConfigMaps
        assert {f"c{i}" for i in range(5)} <= {c["metadata"]["name"] for c in kube.list_objects("v1", "ConfigMap",
                                                                                               target)}
        third = json.loads(cli(*args, key=key).stdout)
        assert third["counts"] == {"resumed": sum(counts.values())}, third  # still there: resumed, not redone
    finally:
        kube.delete_object("v1", "Namespace", target)


@pytest.fixture
def viewer(kube: Cluster) -> Iterator[Cluster]:
    """The cluster as a user bound to the built-in ``view`` ClusterRole (it may not list Secrets, RBAC ...)."""
    user = f"dr-viewer-{uuid.uuid4().hex[:6]}"
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": user},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]}
    kube.create_object(binding)
    try:
        yield kube.impersonate(user)
    finally:
        kube.delete_object("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", user)


def test_a_read_only_account_hears_of_every_unreadable_kind_at_once(
        viewer: Cluster, namespace: str, tmp_path: Path) -> None:
    with pytest.raises(ParameterError) as caught:
        backup.backup(viewer, [namespace], tmp_path / "b.tar.gz")
    text = str(caught.value)
    assert "secrets" in text and "rolebindings" in text and "--partial" in text and "--exclude-kind secrets" in text
    assert not (tmp_path / "b.tar.gz").exists()
    export = backup.backup(viewer, [namespace], tmp_path / "p.tar.gz", partial=True)
    unreadable = {u["plural"] for u in export.unreadable}
    assert export.partial and {"secrets", "rolebindings"} <= unreadable
    assert bundle.read(export.path).manifest["unreadable"] == list(export.unreadable)


def test_the_trial_of_a_clean_backup_creates_only_its_scratch_namespace(
        kube: Cluster, namespace: str, tmp_path: Path, key: str) -> None:
    path = forged(kube, namespace, tmp_path, key)
    result, diffs = restore.trial(kube, path, key=base64.b64decode(key))
    assert not result.failed and [d for d in diffs if d.action != "unchanged"] == []
    assert {o.key.split("/")[1] for o in result.outcomes if o.key.count("/") == 2} == {f"{namespace}-trial"}
