"""Manifest inventories: multi-document YAML, Helm and kustomize output, Lists, JSON, and unreadable input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubebook.audit import AuditInventory
from kubebook.errors import ParameterError

HELM = """---
# Source: shop/templates/serviceaccount.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: shop
---
# Source: shop/templates/secret.yaml
apiVersion: v1
kind: Secret
metadata:
  name: shop-db
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"data":{"password":"c2VjcmV0"}}'
data:
  password: c2VjcmV0
stringData:
  token: plain-text-token
--- # a comment after the separator
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  namespace: prod
spec:
  template:
    spec:
      containers: [{name: web, image: shop:1}]
"""


def test_helm_output_is_split_per_document_with_lines(tmp_path: Path) -> None:
    (tmp_path / "rendered.yaml").write_text(HELM)
    inv = AuditInventory.from_manifests(tmp_path)
    assert inv.counts() == {"Deployment": 1, "Secret": 1, "ServiceAccount": 1}
    assert inv.origins[("Deployment", "prod", "shop")] == (str(tmp_path / "rendered.yaml"), 20)
    assert inv.origins[("ServiceAccount", None, "shop")][1] == 2
    assert not inv.unreadable and inv.source == "manifests"


def test_secret_values_never_enter_the_inventory(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(HELM)
    secret = AuditInventory.from_manifests(tmp_path).objects("Secret")[0]
    assert secret["data"] == {"password": None} and secret["stringData"] == {"token": None}
    assert "c2VjcmV0" not in json.dumps(secret) and "plain-text-token" not in json.dumps(secret)


def test_lists_json_and_nested_directories(tmp_path: Path) -> None:
    (tmp_path / "overlays" / "prod").mkdir(parents=True)
    (tmp_path / "overlays" / "prod" / "kustomized.yml").write_text(
        "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Namespace, metadata: {name: a}}\n"
        "- {apiVersion: v1, kind: Namespace, metadata: {name: b}}\n")
    (tmp_path / "pod.json").write_text(json.dumps({"apiVersion": "v1", "kind": "PodList", "items": [
        {"kind": "Pod", "metadata": {"name": "p", "namespace": "x"}, "spec": {"containers": []}}]}))
    (tmp_path / "README.md").write_text("not a manifest")
    inv = AuditInventory.from_manifests(tmp_path)
    assert inv.counts() == {"Namespace": 2, "Pod": 1}
    assert [ns["metadata"]["name"] for ns in inv.objects("Namespace")] == ["a", "b"]


def test_unreadable_documents_are_recorded_not_skipped(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("kind: ConfigMap\nmetadata: {name: ok}\n---\nkey: [unclosed\n---\n- a\n---\n"
                                       "kind: ConfigMap\nmetadata: {}\n")
    (tmp_path / "bad.json").write_text("{nope")
    (tmp_path / "latin1.yaml").write_bytes(b"kind: ConfigMap\nmetadata: {name: \xe9}\n")
    inv = AuditInventory.from_manifests(tmp_path)
    assert inv.counts() == {"ConfigMap": 1}
    problems = {Path(k.split(":")[0]).name + ":" + (k.split(":")[1] if ":" in k else ""): v
                for k, v in inv.unreadable.items()}
    assert problems["bad.yaml:4"].startswith("invalid YAML")
    assert problems["bad.yaml:6"] == "document is not a Kubernetes object (no string 'kind')"
    assert problems["bad.yaml:8"] == "ConfigMap has no metadata.name"
    assert problems["bad.json:"].startswith("invalid JSON")
    assert problems["latin1.yaml:"].startswith("cannot read file")


def test_missing_path_is_a_parameter_error(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="does not exist"):
        AuditInventory.from_manifests(tmp_path / "nope")


def test_unknown_control_plane_is_a_parameter_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEBOOK_DATA_DIR", str(tmp_path))
    with pytest.raises(ParameterError, match="no local control plane named 'ghost'"):
        AuditInventory.from_control_plane("ghost")
    (tmp_path / "clusters" / "dev").mkdir(parents=True)
    inv = AuditInventory.from_control_plane("dev")
    assert (inv.source, inv.control_plane, inv.objects("Pod")) == ("control-plane", "dev", [])
