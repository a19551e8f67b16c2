"""Namespace restores on an in-memory API: confinement, trusted journals, Secrets in plans (the real API in
tests/cluster/test_dr_namespace_confinement.py)."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kubebook.changes import object_key
from kubebook.cluster import Resource
from kubebook.dr import bundle, restore
from kubebook.errors import ApiError, ParameterError

VALUE = "p4ssw0rd-" + uuid.uuid4().hex[:8]
CLUSTER_SCOPED = {("v1", "Namespace"), ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
                  ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"),
                  ("apiextensions.k8s.io/v1", "CustomResourceDefinition")}
NAMESPACED = {("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Service"), ("networking.k8s.io/v1", "NetworkPolicy"),
              ("rbac.authorization.k8s.io/v1", "RoleBinding")}


class FakeCluster:
    """Enough of kubebook.cluster.Cluster for a restore: objects by key, 409 on existing, namespaces cascade."""

    server = "https://127.0.0.1:1"
    context = None

    def __init__(self) -> None:
        self.store: dict[str, dict[str, Any]] = {}
        self.writes: list[str] = []
        self.api_client = SimpleNamespace(configuration=SimpleNamespace(connection_pool_maxsize=4))
        self.served = {k: Resource(k[0], k[1], k[1].lower() + "s", False, ("list",)) for k in CLUSTER_SCOPED}
        self.served |= {k: Resource(k[0], k[1], k[1].lower() + "s", True, ("list",)) for k in NAMESPACED}
        for ns in ("default", "kube-system"):
            self.store[f"Namespace/{ns}"] = {"apiVersion": "v1", "kind": "Namespace", "metadata": {
                "name": ns, "uid": str(uuid.uuid4())}}

    def resources(self) -> dict[tuple[str, str], Resource]:
        return dict(self.served)

    def forget_resources(self) -> None:
        pass

    def fingerprint(self) -> str:
        return "fake-cluster"

    def _resource(self, api_version: str, kind: str) -> Resource:
        if (api_version, kind) not in self.served:
            raise ParameterError(f"the API server does not serve kind {kind} in {api_version}")
        return self.served[(api_version, kind)]

    def get_object(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Any:
        self._resource(api_version, kind)
        obj = self.store.get(object_key({"kind": kind, "metadata": {"name": name, "namespace": namespace}}))
        return json.loads(json.dumps(obj)) if obj else None

    def list_objects(self, api_version: str, kind: str, namespace: str | None = None, **_: Any) -> Any:
        self._resource(api_version, kind)
        return [json.loads(json.dumps(o)) for o in self.store.values()
                if o["kind"] == kind and (namespace is None or o["metadata"].get("namespace") == namespace)]

    def create_object(self, obj: dict[str, Any], **_: Any) -> dict[str, Any]:
        self._resource(obj["apiVersion"], obj["kind"])
        key = object_key(obj)
        if key in self.store:
            raise ApiError(f"{key} already exists", status=409)
        namespace = obj["metadata"].get("namespace")
        if namespace and f"Namespace/{namespace}" not in self.store:
            raise ApiError(f"namespaces {namespace!r} not found", status=404)
        stored = json.loads(json.dumps(obj))
        stored["metadata"]["uid"] = str(uuid.uuid4())
        self.store[key] = stored
        self.writes.append(key)
        return stored

    def apply_object(self, obj: dict[str, Any], **_: Any) -> dict[str, Any]:
        key = object_key(obj)
        stored = {**json.loads(json.dumps(obj)), "metadata": {**obj["metadata"],
                                                               "uid": self.store[key]["metadata"]["uid"]}}
        self.store[key] = stored
        self.writes.append(key)
        return stored

    def delete_object(self, api_version: str, kind: str, name: str, namespace: str | None = None, **_: Any) -> bool:
        key = object_key({"kind": kind, "metadata": {"name": name, "namespace": namespace}})
        if kind == "Namespace":
            for other in [k for k, o in self.store.items() if o["metadata"].get("namespace") == name]:
                del self.store[other]
        self.writes.append(f"delete {key}")
        return self.store.pop(key, None) is not None


@pytest.fixture
def key() -> bytes:
    return base64.b64decode(bundle.new_key())


@pytest.fixture
def kube() -> FakeCluster:
    return FakeCluster()


def cm(name: str, ns: str = "shop") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": {"a": "b"}}


def write(tmp_path: Path, key: bytes, *extra: dict[str, Any], namespaces: tuple[str, ...] = ("shop",),
          secret: bool = False) -> Path:
    """A backup as `dr backup` writes it (checksums right), holding whatever an attacker added."""
    objects: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
                                     for ns in namespaces]
    objects += [cm("app"), *extra]
    if secret:
        objects.append(bundle.seal_secret({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                                           "metadata": {"name": "db", "namespace": "shop"},
                                           "data": {"password": base64.b64encode(VALUE.encode()).decode()}}, key))
    path = tmp_path / f"b-{uuid.uuid4().hex[:6]}.tar.gz"
    return bundle.write(path, {"namespaces": list(namespaces)}, objects)


EVIL_CRB = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "evil"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": "app", "namespace": "shop"}]}
EVIL_WEBHOOK = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
                "metadata": {"name": "evil"}, "webhooks": []}
SHADOW_CRD = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
              "metadata": {"name": "networkpolicies.networking.k8s.io"},
              "spec": {"group": "networking.k8s.io", "scope": "Namespaced",
                       "names": {"plural": "networkpolicies", "kind": "NetworkPolicy"},
                       "versions": [{"name": "v9", "served": True, "storage": True}]}}
SHADOWED = {"apiVersion": "networking.k8s.io/v9", "kind": "NetworkPolicy",
            "metadata": {"name": "x", "namespace": "shop"}}


@pytest.mark.parametrize(("extra", "named"), [
    ([EVIL_CRB], "ClusterRoleBinding/evil (cluster-scoped)"),
    ([EVIL_WEBHOOK], "ValidatingWebhookConfiguration/evil (cluster-scoped)"),
    ([SHADOW_CRD, SHADOWED], "CustomResourceDefinition/networkpolicies.networking.k8s.io (its group "
                             "networking.k8s.io is a built-in API group"),
    ([cm("planted", "kube-system")], "ConfigMap/kube-system/planted (namespace kube-system is not declared"),
    ([cm("other", "tenant-b")], "ConfigMap/tenant-b/other (namespace tenant-b is not declared"),
    ([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system", "labels": {"x": "y"}}}],
     "Namespace/kube-system (a namespace the backup does not declare)"),
])
@pytest.mark.parametrize("how", ["restore", "plan", "mapped", "crds"])
def test_a_backup_holding_anything_outside_its_namespaces_is_refused_before_anything_changes(
        kube: FakeCluster, tmp_path: Path, key: bytes, extra: list[dict[str, Any]], named: str, how: str) -> None:
    path = write(tmp_path, key, *extra)
    before = json.dumps(kube.store, sort_keys=True)
    with pytest.raises(ParameterError, match="a namespace restore never creates") as caught:
        if how == "plan":
            restore.plan(kube, path, key=key, mapping={"shop": "shop2"})
        else:
            restore.restore(kube, path, key=key, mapping={"shop": "shop2"} if how == "mapped" else None,
                            include_crds=how == "crds")
    assert named in str(caught.value) and "\n" not in str(caught.value)
    assert kube.writes == [] and json.dumps(kube.store, sort_keys=True) == before


def test_a_trial_of_a_backup_with_foreign_objects_leaves_nothing_behind(
        kube: FakeCluster, tmp_path: Path, key: bytes) -> None:
    path = write(tmp_path, key, cm("planted", "kube-system"))
    with pytest.raises(ParameterError, match="ConfigMap/kube-system/planted"):
        restore.trial(kube, path, key=key)
    assert kube.writes == [] and "ConfigMap/kube-system/planted" not in kube.store


def test_a_trial_touches_only_its_scratch_namespaces(kube: FakeCluster, tmp_path: Path, key: bytes) -> None:
    path = write(tmp_path, key, cm("second"))
    result, diffs = restore.trial(kube, path, key=key)
    assert not result.failed and all(d.action == "unchanged" for d in diffs)
    created = [w for w in kube.writes if not w.startswith("delete ")]
    assert created and all(w == "Namespace/shop-trial" or w.startswith("ConfigMap/shop-trial/") for w in created)
    assert not [k for k in kube.store if "shop-trial" in k], "the scratch namespace is deleted with what it held"


@pytest.mark.parametrize("target", ["kube-system", "kube-public", "kube-node-lease", "kube-anything"])
def test_mapping_into_a_system_namespace_needs_the_flag_that_names_it(
        kube: FakeCluster, tmp_path: Path, key: bytes, target: str) -> None:
    path = write(tmp_path, key)
    with pytest.raises(ParameterError, match=f"{target} are system namespaces.*--allow-system-namespace {target}"):
        restore.restore(kube, path, key=key, mapping={"shop": target}, policy="update")
    assert kube.writes == []
    kube.store[f"Namespace/{target}"] = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": target}}
    result = restore.restore(kube, path, key=key, mapping={"shop": target}, allow_system=[target])
    assert f"ConfigMap/{target}/app" in kube.store and not result.failed


def test_a_mapping_of_an_undeclared_source_or_into_one_namespace_twice_is_refused(
        kube: FakeCluster, tmp_path: Path, key: bytes) -> None:
    path = write(tmp_path, key, namespaces=("shop", "shop2"))
    with pytest.raises(ParameterError, match="'kube-system' is not a namespace of this backup"):
        restore.restore(kube, path, key=key, mapping={"kube-system": "x"})
    with pytest.raises(ParameterError, match="shop and shop2 would both be restored into shop2"):
        restore.restore(kube, path, key=key, mapping={"shop": "shop2"})
    assert kube.writes == []


def test_a_crd_is_restored_only_when_asked_and_never_updated(kube: FakeCluster, tmp_path: Path, key: bytes) -> None:
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
                    "versions": [{"name": "v1", "served": True, "storage": True}]}}
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "shop"}}
    kube.served[("example.com/v1", "Widget")] = Resource("example.com/v1", "Widget", "widgets", True, ("list",))
    kube.store["CustomResourceDefinition/widgets.example.com"] = {
        **crd, "spec": {**crd["spec"], "x": "theirs"}, "status": {"conditions": [{"type": "Established",
                                                                                   "status": "True"}]}}
    path = write(tmp_path, key, crd, widget)
    result = restore.restore(kube, path, key=key)
    actions = {o.key: (o.action, o.reason) for o in result.outcomes}
    assert actions["CustomResourceDefinition/widgets.example.com"][0] == "left out"
    assert "--with-crds" in actions["CustomResourceDefinition/widgets.example.com"][1]
    assert actions["Widget/shop/w"][0] == "created" and "CustomResourceDefinition/widgets.example.com" not in \
        kube.writes
    again = restore.restore(kube, write(tmp_path, key, crd, widget), key=key, include_crds=True, policy="update")
    assert {o.key: o.action for o in again.outcomes}["CustomResourceDefinition/widgets.example.com"] == "skipped"
    assert kube.store["CustomResourceDefinition/widgets.example.com"]["spec"]["x"] == "theirs"


@pytest.mark.parametrize(("change", "says"), [
    ({"scope": "Cluster"}, "scope 'Cluster'"),
    ({"names": {"plural": "gadgets", "kind": "Gadget"}}, "its name is not <plural>.<group>"),
])
def test_a_crd_that_is_cluster_scoped_or_unrelated_is_refused(
        kube: FakeCluster, tmp_path: Path, key: bytes, change: dict[str, Any], says: str) -> None:
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
                    **change}}
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "shop"}}
    with pytest.raises(ParameterError, match=says):
        restore.restore(kube, write(tmp_path, key, crd, widget), key=key, include_crds=True)
    assert kube.writes == []


def test_a_stale_journal_resumes_nothing_that_is_gone(kube: FakeCluster, tmp_path: Path, key: bytes) -> None:
    path = write(tmp_path, key, cm("two"), cm("three"))
    first = restore.restore(kube, path, key=key, mapping={"shop": "shop-r"})
    assert first.counts == {"created": 4}
    kube.delete_object("v1", "Namespace", "shop-r")  # the target namespace is deleted after the first restore
    again = restore.restore(kube, path, key=key, mapping={"shop": "shop-r"})
    assert again.counts == {"created": 4}, again.outcomes
    assert {"ConfigMap/shop-r/app", "ConfigMap/shop-r/two", "ConfigMap/shop-r/three"} <= set(kube.store)
    third = restore.restore(kube, path, key=key, mapping={"shop": "shop-r"})
    assert third.counts == {"resumed": 4}, "what is still there (same uid) is resumed"


def test_a_hand_written_journal_is_set_aside(kube: FakeCluster, tmp_path: Path, key: bytes) -> None:
    path = write(tmp_path, key, cm("two"))
    journal = restore.journal_path(path, kube.server, {"shop": "shop-r"})
    journal.write_text("".join(json.dumps({"key": k, "action": "created"}) + "\n" for k in (
        "Namespace/shop-r", "ConfigMap/shop-r/app", "ConfigMap/shop-r/two")))
    result = restore.restore(kube, path, key=key, mapping={"shop": "shop-r"})
    assert result.counts == {"created": 3} and "set aside" in result.journal_note
    first = journal.read_text().splitlines()[0]
    assert json.loads(first)["backup_sha256"] == bundle.read(path).sha256, "the intent is the first line"


def test_a_journal_of_another_backup_or_cluster_is_set_aside(kube: FakeCluster, tmp_path: Path, key: bytes) -> None:
    path = write(tmp_path, key)
    restore.restore(kube, path, key=key, mapping={"shop": "shop-r"})
    kube.fingerprint = lambda: "another-cluster"  # type: ignore[method-assign]
    result = restore.restore(kube, path, key=key, mapping={"shop": "shop-r"})
    assert "written for another cluster" in result.journal_note and "resumed" not in result.counts


def test_a_second_restore_of_the_same_backup_is_refused_while_one_holds_the_lock(
        kube: FakeCluster, tmp_path: Path, key: bytes) -> None:
    path = write(tmp_path, key)
    journal = restore.journal_path(path, kube.server, {})
    fd = os.open(journal.with_name(journal.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        with pytest.raises(ParameterError, match="another restore of this backup into this cluster is running"):
            restore.restore(kube, path, key=key)
        assert kube.writes == []
    finally:
        os.close(fd)
    assert restore.restore(kube, path, key=key).counts == {"created": 2}


def test_plans_and_trial_diffs_of_secrets_show_keys_and_hashes_never_values(
        kube: FakeCluster, tmp_path: Path, key: bytes) -> None:
    path = write(tmp_path, key, secret=True)
    changes = restore.plan(kube, path, key=key, mapping={"shop": "shop-r"})
    secret = next(c for c in changes if c.key == "Secret/shop-r/db")
    assert secret.action == "create" and "password:" in secret.diff and "keyed hash" in secret.diff
    encodings = (VALUE, base64.b64encode(VALUE.encode()).decode(), VALUE.encode().hex())
    text = json.dumps([c._asdict() for c in changes])
    assert not [e for e in encodings if e in text], "no value in any encoding"
    # with policy update, a changed value shows as a changed hash; an unchanged one as no difference
    restore.restore(kube, path, key=key, mapping={"shop": "shop-r"})
    kube.store["Secret/shop-r/db"]["data"] = {"password": base64.b64encode(b"other").decode()}
    updated = next(c for c in restore.plan(kube, path, key=key, mapping={"shop": "shop-r"}, policy="update")
                   if c.key == "Secret/shop-r/db")
    assert updated.action == "change" and "keyed hash" in updated.diff
    assert not [e for e in (*encodings, "other", base64.b64encode(b"other").decode()) if e in updated.diff]
    _, diffs = restore.trial(kube, path, key=key)
    assert not [e for e in encodings if e in json.dumps([d._asdict() for d in diffs])]
    assert next(d for d in diffs if d.key == "Secret/shop-trial/db").action == "unchanged"
