"""Ownership against the real API server: remove deletes only what kubebook created, apply overwrites no one.

Each test builds its own overlay (a tenant namespace and, in kube-system, a ConfigMap under a
unique name standing in for ``kubebook-audit``), so nothing cluster-wide of the baseline is
touched, and deletes what it made.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubebook.cluster import Cluster

ROOT = Path(__file__).resolve().parents[2]


class Overlay:
    def __init__(self, tmp_path: Path, name: str) -> None:
        self.name = name
        self.namespace = f"{name}-web"
        self.config = f"{name}-audit"
        self.root = tmp_path / "manifests"
        subprocess.run(["cp", "-r", str(ROOT / "manifests"), str(self.root)], check=True)
        folder = self.root / "overlays" / "owned"
        (folder / "web").mkdir(parents=True)
        (folder / "web" / "kustomization.yaml").write_text(f"namespace: {self.namespace}\nresources:\n"
                                                           "- ../../../tenant\n")
        (folder / "config.yaml").write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {self.config}\n"
                                            "  namespace: kube-system\ndata:\n  allowed-registries: registry.k8s.io\n")
        (folder / "kustomization.yaml").write_text(
            "resources:\n- web\n- config.yaml\n"
            "labels:\n- pairs:\n    app.kubernetes.io/managed-by: kubebook-provision\n")

    def run(self, command: str, kubeconfig: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kubebook.cli", "provision", command, "--overlay", "owned",
                               "--manifests", str(self.root), "--cluster", str(kubeconfig), *extra],
                              capture_output=True, text=True, check=False, timeout=300)


@pytest.fixture
def overlay(kube: Cluster, tmp_path: Path) -> Iterator[Overlay]:
    made = Overlay(tmp_path, f"kbown-{uuid.uuid4().hex[:6]}")
    try:
        yield made
    finally:
        kube.delete_object("v1", "Namespace", made.namespace)
        kube.delete_object("v1", "ConfigMap", made.config, "kube-system")


def _config_map(namespace: str, name: str, data: dict[str, str]) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}, "data": data}


def _gone_or_terminating(kube: Cluster, name: str) -> bool:
    live = kube.get_object("v1", "Namespace", name)
    return live is None or bool(live["metadata"].get("deletionTimestamp"))


def test_remove_keeps_a_namespace_holding_a_tenants_object_and_says_why(
        kube: Cluster, local_cluster: Path, overlay: Overlay) -> None:
    applied = overlay.run("apply", local_cluster)
    assert applied.returncode == 0, applied.stdout[-2000:] + applied.stderr
    kube.create_object(_config_map(overlay.namespace, "tenant-settings", {"colour": "blue"}))

    removed = overlay.run("remove", local_cluster)
    assert removed.returncode == 0, removed.stdout[-2000:] + removed.stderr
    kept = [line for line in removed.stdout.splitlines() if line.startswith("kept")]
    assert kept == [f"kept       Namespace/{overlay.namespace}  holds 1 object(s) kubebook did not create "
                    "(ConfigMap/tenant-settings): kept the namespace, released kubebook's fields; remove again "
                    "once they are gone"], removed.stdout
    namespace = kube.get_object("v1", "Namespace", overlay.namespace)
    assert namespace is not None and not namespace["metadata"].get("deletionTimestamp")
    assert kube.get_object("v1", "ConfigMap", "tenant-settings", overlay.namespace)["data"] == {"colour": "blue"}
    assert kube.get_object("networking.k8s.io/v1", "NetworkPolicy", "default-deny", overlay.namespace) is None
    assert "pod-security.kubernetes.io/enforce" not in (namespace["metadata"].get("labels") or {})

    kube.delete_object("v1", "ConfigMap", "tenant-settings", overlay.namespace)  # the tenant moves out
    again = overlay.run("remove", local_cluster)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr
    assert f"deleted    Namespace/{overlay.namespace}" in again.stdout
    assert _gone_or_terminating(kube, overlay.namespace)


def test_a_pre_existing_object_keeps_its_value_through_apply_and_its_keys_through_remove(
        kube: Cluster, local_cluster: Path, overlay: Overlay) -> None:
    kube.create_object(_config_map("kube-system", overlay.config, {"allowed-registries": "quay.io/mine",
                                                                   "theirs": "kept"}))
    applied = overlay.run("apply", local_cluster)
    assert applied.returncode == 1, applied.stdout[-2000:]
    (conflict,) = [line for line in applied.stdout.splitlines() if line.startswith("conflict")]
    assert f"ConfigMap/kube-system/{overlay.config}" in conflict and ".data.allowed-registries" in conflict
    assert "1 conflict(s): another owner's value kept" in applied.stdout.splitlines()[-1]
    live = kube.get_object("v1", "ConfigMap", overlay.config, "kube-system")
    assert live["data"] == {"allowed-registries": "quay.io/mine", "theirs": "kept"}
    assert "kubebook.io/created-by" not in (live["metadata"].get("annotations") or {})
    assert kube.get_object("v1", "Namespace", overlay.namespace) is not None  # the rest was applied

    removed = overlay.run("remove", local_cluster)
    assert removed.returncode == 0, removed.stdout[-2000:] + removed.stderr
    assert f"configured ConfigMap/kube-system/{overlay.config}  kubebook did not create it" in removed.stdout
    live = kube.get_object("v1", "ConfigMap", overlay.config, "kube-system")
    assert live["data"] == {"allowed-registries": "quay.io/mine", "theirs": "kept"}


def test_a_pre_existing_object_with_the_same_value_is_shared_and_keeps_it_after_remove(
        kube: Cluster, local_cluster: Path, overlay: Overlay) -> None:
    kube.create_object(_config_map("kube-system", overlay.config, {"allowed-registries": "registry.k8s.io"}))
    applied = overlay.run("apply", local_cluster)
    assert applied.returncode == 0, applied.stdout[-2000:]
    assert f"configured ConfigMap/kube-system/{overlay.config}" in applied.stdout
    removed = overlay.run("remove", local_cluster)
    assert removed.returncode == 0, removed.stdout[-2000:]
    live = kube.get_object("v1", "ConfigMap", overlay.config, "kube-system")
    assert live is not None and live["data"] == {"allowed-registries": "registry.k8s.io"}


def test_force_conflicts_takes_the_field_over_only_when_asked(
        kube: Cluster, local_cluster: Path, overlay: Overlay) -> None:
    kube.create_object(_config_map("kube-system", overlay.config, {"allowed-registries": "quay.io/mine"}))
    assert overlay.run("apply", local_cluster).returncode == 1
    forced = overlay.run("apply", local_cluster, "--force-conflicts", "--quiet")
    assert forced.returncode == 0, forced.stdout[-2000:]
    live = kube.get_object("v1", "ConfigMap", overlay.config, "kube-system")
    assert live["data"] == {"allowed-registries": "registry.k8s.io"}


def test_a_created_object_someone_else_wrote_to_is_released_not_deleted(
        kube: Cluster, local_cluster: Path, overlay: Overlay) -> None:
    assert overlay.run("apply", local_cluster).returncode == 0
    live = kube.get_object("v1", "ConfigMap", overlay.config, "kube-system")
    assert live["metadata"]["annotations"]["kubebook.io/created-by"] == "kubebook-provision"
    kube.request("PATCH", kube.object_path("v1", "ConfigMap", "kube-system", overlay.config),
                 query={"fieldManager": "tenant-editor"}, body={"data": {"extra": "mine"}},
                 content_type="application/merge-patch+json")
    removed = overlay.run("remove", local_cluster)
    assert removed.returncode == 0, removed.stdout[-2000:]
    assert f"configured ConfigMap/kube-system/{overlay.config}  also written by tenant-editor" in removed.stdout
    assert kube.get_object("v1", "ConfigMap", overlay.config, "kube-system")["data"] == {"extra": "mine"}
    deadline = time.monotonic() + 30
    while not _gone_or_terminating(kube, overlay.namespace):  # nothing foreign inside: deleted
        assert time.monotonic() < deadline
        time.sleep(0.5)


def test_an_object_still_being_deleted_is_waited_for_and_then_created_as_kubebooks(
        kube: Cluster, local_cluster: Path, overlay: Overlay) -> None:
    """A remove moments ago leaves objects terminating: apply waits them out instead of writing to a vanishing one."""
    held = _config_map("kube-system", overlay.config, {"allowed-registries": "registry.k8s.io"})
    held["metadata"]["finalizers"] = ["kubebook.io/test-hold"]
    kube.create_object(held)
    kube.delete_object("v1", "ConfigMap", overlay.config, "kube-system")  # terminating until the finalizer goes
    proc = subprocess.Popen([sys.executable, "-m", "kubebook.cli", "provision", "apply", "--overlay", "owned",
                             "--manifests", str(overlay.root), "--cluster", str(local_cluster)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    assert proc.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True)
    reader.start()
    deadline = time.monotonic() + 120
    while not any(line.startswith("created    Namespace/") for line in lines):  # the kind before ConfigMaps
        assert time.monotonic() < deadline and proc.poll() is None, lines
        time.sleep(0.2)
    time.sleep(4)
    assert not [line for line in lines if "ConfigMap/" in line], lines  # waiting, not writing to it
    assert proc.poll() is None, "apply did not wait for the object being deleted"
    kube.request("PATCH", kube.object_path("v1", "ConfigMap", "kube-system", overlay.config),
                 body={"metadata": {"finalizers": None}}, content_type="application/merge-patch+json")
    proc.wait(timeout=120)
    reader.join(timeout=10)
    out = "".join(lines)
    assert proc.returncode == 0, out[-2000:] + (proc.stderr.read() if proc.stderr else "")
    assert f"created    ConfigMap/kube-system/{overlay.config}" in out
    live = kube.get_object("v1", "ConfigMap", overlay.config, "kube-system")
    assert live["metadata"]["annotations"]["kubebook.io/created-by"] == "kubebook-provision"


def test_an_object_kubebook_did_not_create_is_kept_as_it_is_when_releasing_would_make_it_invalid(
        kube: Cluster, local_cluster: Path, overlay: Overlay) -> None:
    """As an older kubebook left it: applied under our field manager, without the created-by mark."""
    name = f"{overlay.name}-priority"
    (overlay.root / "overlays" / "owned" / "priority.yaml").write_text(
        f"apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: {name}\nvalue: 1000\n")
    kustomization = overlay.root / "overlays" / "owned" / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text().replace("- config.yaml\n", "- config.yaml\n- priority.yaml\n"))
    kube.apply_object({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
                       "value": 1000}, field_manager="kubebook-provision")
    try:
        removed = overlay.run("remove", local_cluster)
        assert removed.returncode == 0, removed.stdout[-2000:] + removed.stderr
        (line,) = [entry for entry in removed.stdout.splitlines() if f"PriorityClass/{name}" in entry]
        assert line.startswith(f"kept       PriorityClass/{name}  kubebook did not create it; kept as it is: "
                               "without the fields kubebook-provision set it would be invalid"), line
        assert kube.get_object("scheduling.k8s.io/v1", "PriorityClass", name)["value"] == 1000
    finally:
        kube.delete_object("scheduling.k8s.io/v1", "PriorityClass", name)
