"""Namespace backup and restore against the shared local cluster: identical copies, refusals, resume after a kill."""

from __future__ import annotations

import base64
import gzip
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubebook.changes import diff_objects
from kubebook.cluster import Cluster
from kubebook.dr import backup, bundle, restore

pytestmark = pytest.mark.cluster
SECRET_VALUE = "s3cr3t-" + uuid.uuid4().hex


def cli(*args: str, key: str, wait: bool = True) -> Any:
    argv = [sys.executable, "-m", "kubebook.cli", "dr", *args]
    env = {**os.environ, bundle.KEY_ENV: key}
    if not wait:
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)


def crd(group: str) -> dict[str, Any]:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"widgets.{group}"},
            "spec": {"group": group, "scope": "Namespaced",
                     "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                     "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                         "type": "object", "properties": {"spec": {"type": "object",
                                                                   "x-kubernetes-preserve-unknown-fields": True}}}}}]}}


@pytest.fixture
def key() -> str:
    return bundle.new_key()


@pytest.fixture
def shop(kube: Cluster, namespace: str) -> Iterator[tuple[str, str]]:
    """A namespace with a CRD's custom resource (owning a ConfigMap), a Secret, Service + Ingress, a Deployment."""
    group = f"dr{uuid.uuid4().hex[:8]}.example.com"
    kube.create_object(crd(group))
    restore._wait_established(kube, [f"widgets.{group}"])
    widget = kube.create_object({"apiVersion": f"{group}/v1", "kind": "Widget",
                                 "metadata": {"name": "w1", "namespace": namespace}, "spec": {"size": 3}})
    objects = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owned", "namespace": namespace,
         "ownerReferences": [{"apiVersion": f"{group}/v1", "kind": "Widget", "name": "w1",
                              "uid": widget["metadata"]["uid"]}]}, "data": {"a": "b"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": namespace},
         "type": "Opaque", "stringData": {"password": SECRET_VALUE}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": namespace},
         "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web", "namespace": namespace},
         "spec": {"rules": [{"host": "web.example", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
             "service": {"name": "web", "port": {"number": 80}}}}]}}]}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": namespace},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": {
             "metadata": {"labels": {"app": "web"}},
             "spec": {"containers": [{"name": "web", "image": "registry.local/web:1"}]}}}},
    ]
    for obj in objects:
        kube.create_object(obj)
    try:
        yield namespace, group
    finally:
        kube.delete_object("apiextensions.k8s.io/v1", "CustomResourceDefinition", f"widgets.{group}")


def test_namespace_restores_into_a_new_namespace_identical_except_server_set_fields(
        kube: Cluster, shop: tuple[str, str], tmp_path: Path, key: str) -> None:
    source, group = shop
    target = f"{source}-copy"
    secret_key = base64.b64decode(key)
    export = backup.backup(kube, [source], tmp_path / "shop.tar.gz", key=secret_key)
    assert {"Widget", "ConfigMap", "Secret", "Service", "Ingress", "Deployment", "CustomResourceDefinition",
            "Namespace"} <= set(export.per_kind)
    assert "ReplicaSet" not in export.per_kind, "a Deployment's ReplicaSets are recreated, never restored"
    raw = gzip.decompress(export.path.read_bytes())
    for needle in (SECRET_VALUE.encode(), base64.b64encode(SECRET_VALUE.encode())):
        assert needle not in raw and needle not in export.path.read_bytes()
    # The CRD goes away too, so the restore must create it and wait until it is Established before its Widgets.
    kube.delete_object("apiextensions.k8s.io/v1", "CustomResourceDefinition", f"widgets.{group}")
    deadline = time.monotonic() + 60
    while kube.get_object("apiextensions.k8s.io/v1", "CustomResourceDefinition", f"widgets.{group}") is not None:
        assert time.monotonic() < deadline, "the CRD was not deleted within 60 s"
        time.sleep(0.2)
    try:
        result = restore.restore(kube, export.path, key=secret_key, mapping={source: target}, include_crds=True)
        actions = {o.key: o.action for o in result.outcomes}
        assert actions[f"CustomResourceDefinition/widgets.{group}"] == "created"
        assert actions[f"Widget/{target}/w1"] == "created" and actions[f"Ingress/{target}/web"] == "created"
        assert not result.failed, result.failed
        expected = [restore.remap(o, {source: target}) for o in bundle.read(export.path).opened(secret_key)]
        differences = []
        for obj in expected:
            live = kube.get_object(obj["apiVersion"], obj["kind"], obj["metadata"]["name"],
                                   obj["metadata"].get("namespace"))
            change = diff_objects(restore._normalise(obj), restore._normalise(backup.strip(live)) if live else None)
            if change.action != "unchanged":
                differences.append(change.diff or change.key)
        assert differences == []
        owned = kube.get_object("v1", "ConfigMap", "owned", target)
        widget = kube.get_object(f"{group}/v1", "Widget", "w1", target)
        assert owned["metadata"]["ownerReferences"][0]["uid"] == widget["metadata"]["uid"]
        secret = kube.get_object("v1", "Secret", "db", target)
        assert base64.b64decode(secret["data"]["password"]).decode() == SECRET_VALUE
    finally:
        kube.delete_object("v1", "Namespace", target)


def test_a_backup_with_a_bad_checksum_is_refused_and_nothing_is_created(
        kube: Cluster, namespace: str, tmp_path: Path, key: str) -> None:
    kube.create_object({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": namespace}})
    path = backup.backup(kube, [namespace], tmp_path / "b.tar.gz", key=base64.b64decode(key)).path
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    target = f"{namespace}-bad"
    done = cli("restore-namespace", str(path), "--map", f"{namespace}={target}", key=key)
    assert done.returncode == 2 and "fails its checksum" in done.stderr
    assert kube.get_object("v1", "Namespace", target) is None


def test_a_restore_killed_midway_finishes_when_run_again(
        kube: Cluster, namespace: str, tmp_path: Path, key: str) -> None:
    count = 400
    for index in range(count):
        kube.create_object({"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": f"c{index:04d}", "namespace": namespace}, "data": {"i": str(index)}})
    path = backup.backup(kube, [namespace], tmp_path / "big.tar.gz", key=base64.b64decode(key)).path
    target = f"{namespace}-resumed"
    args = ("restore-namespace", str(path), "--map", f"{namespace}={target}", "--workers", "1", "--json")
    journal = restore.journal_path(path, kube.server, {namespace: target})
    try:
        process = cli(*args, key=key, wait=False)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if journal.exists() and len(journal.read_text().splitlines()) >= 61:  # the intent line + 60 objects
                break
            time.sleep(0.02)
        assert process.poll() is None, "the restore finished before it could be killed: " + process.stderr.read()
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        process.stdout.close()
        process.stderr.close()
        restored_before = len(list(kube.list_objects("v1", "ConfigMap", target)))
        assert restored_before < count
        done = cli(*args, key=key)
        assert done.returncode == 0, done.stderr
        counts = json.loads(done.stdout)["counts"]
        assert counts.get("resumed", 0) >= 60
        names = {c["metadata"]["name"] for c in kube.list_objects("v1", "ConfigMap", target)}
        assert {f"c{index:04d}" for index in range(count)} <= names
    finally:
        kube.delete_object("v1", "Namespace", target)
