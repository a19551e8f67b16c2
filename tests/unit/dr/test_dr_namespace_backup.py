"""`dr backup` on an in-memory API: every unreadable kind named at once, partial backups say so, the API
server's own Service is left out."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from test_dr_namespace_restore import FakeCluster  # tests/unit is on sys.path (rootdir-relative imports)

from kubebook.cluster import Resource
from kubebook.dr import backup, bundle
from kubebook.errors import ApiError, ParameterError


class ReadOnly(FakeCluster):
    """An account that may not list some kinds (403 from the API server, as RBAC answers)."""

    def __init__(self, forbidden: set[str]) -> None:
        super().__init__()
        self.forbidden = forbidden
        for kind in ("PodCertificateRequest", "Lease2"):
            self.served[("certificates.k8s.io/v1alpha1", kind)] = Resource(
                "certificates.k8s.io/v1alpha1", kind, kind.lower() + "s", True, ("list",))

    def list_objects(self, api_version: str, kind: str, namespace: str | None = None, **kw: Any) -> Any:
        if kind in self.forbidden:
            raise ApiError(f"{kind.lower()}s is forbidden: User \"viewer\" cannot list resource", status=403,
                           reason="Forbidden")
        return super().list_objects(api_version, kind, namespace, **kw)


def test_every_unreadable_kind_is_named_at_once_with_the_ways_on(tmp_path: Path) -> None:
    kube = ReadOnly({"PodCertificateRequest", "Secret"})
    kube.store["Namespace/shop"] = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    with pytest.raises(ParameterError) as caught:
        backup.backup(kube, ["shop"], tmp_path / "b.tar.gz")
    text = str(caught.value)
    assert "may not list 2 kind(s) in shop: podcertificaterequests, secrets" in text and "\n" not in text
    assert "--exclude-kind podcertificaterequests --exclude-kind secrets" in text and "--partial" in text
    assert not (tmp_path / "b.tar.gz").exists()


def test_a_partial_backup_says_so_in_its_manifest_and_result(tmp_path: Path) -> None:
    kube = ReadOnly({"PodCertificateRequest"})
    kube.store["Namespace/shop"] = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    kube.store["ConfigMap/shop/c"] = {"apiVersion": "v1", "kind": "ConfigMap",
                                      "metadata": {"name": "c", "namespace": "shop"}}
    export = backup.backup(kube, ["shop"], tmp_path / "b.tar.gz", partial=True)
    assert export.partial and export.unreadable[0]["plural"] == "podcertificaterequests"
    manifest = bundle.read(export.path).manifest
    assert manifest["partial"] is True and manifest["unreadable"][0]["namespace"] == "shop"
    assert export.per_kind == {"ConfigMap": 1, "Namespace": 1}
    excluded = backup.backup(kube, ["shop"], tmp_path / "c.tar.gz", exclude_kinds=["podcertificaterequests"])
    assert not excluded.partial and bundle.read(excluded.path).manifest["partial"] is False


def test_the_api_servers_own_kubernetes_service_is_left_out(tmp_path: Path) -> None:
    kube = FakeCluster()
    kube.store["Service/default/kubernetes"] = {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "kubernetes", "namespace": "default", "labels": {
            "component": "apiserver", "provider": "kubernetes"}}, "spec": {"ports": [{"port": 443}]}}
    kube.store["Service/default/web"] = {"apiVersion": "v1", "kind": "Service",
                                         "metadata": {"name": "web", "namespace": "default"}}
    export = backup.backup(kube, ["default"], tmp_path / "d.tar.gz", key=base64.b64decode(bundle.new_key()))
    keys = bundle.read(export.path).manifest["keys"]
    assert "Service/default/web" in keys and "Service/default/kubernetes" not in keys
    assert any("kubernetes Service" in why for why in export.skipped), json.dumps(export.skipped)
