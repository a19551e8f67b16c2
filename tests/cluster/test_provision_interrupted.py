"""An apply killed midway leaves a state that a re-run completes, and the output says what was applied.

The overlay is generated (tenant namespaces only, unique names), so nothing cluster-wide
changes and the namespaces are deleted afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from kubebook.cluster import Cluster

ROOT = Path(__file__).resolve().parents[2]
TENANTS = 15


def _overlay(tmp_path: Path, prefix: str) -> Path:
    root = tmp_path / "manifests"
    subprocess.run(["cp", "-r", str(ROOT / "manifests"), str(root)], check=True)
    overlay = root / "overlays" / "many"
    for i in range(TENANTS):
        folder = overlay / "tenants" / f"t{i}"
        folder.mkdir(parents=True)
        (folder / "kustomization.yaml").write_text(f"namespace: {prefix}-{i}\nresources:\n- ../../../../tenant\n")
    (overlay / "kustomization.yaml").write_text(
        "resources:\n" + "".join(f"- tenants/t{i}\n" for i in range(TENANTS)) +
        "labels:\n- pairs:\n    app.kubernetes.io/managed-by: kubebook-provision\n")
    return root


def _apply(root: Path, kubeconfig: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "kubebook.cli", "provision", "apply", "--overlay", "many",
                             "--manifests", str(root), "--cluster", kubeconfig],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def test_a_killed_apply_is_completed_by_a_re_run(kube: Cluster, local_cluster: Path, tmp_path: Path) -> None:
    prefix = f"kbint-{uuid.uuid4().hex[:6]}"
    root = _overlay(tmp_path, prefix)
    proc = _apply(root, str(local_cluster))
    printed = []
    assert proc.stdout is not None
    for line in proc.stdout:
        printed.append(line.split())
        if len(printed) == TENANTS + 5:  # every namespace and a few objects inside them
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    try:
        assert proc.returncode == -signal.SIGKILL, "the apply finished before it could be interrupted"
        applied_before = {key for action, key, *_ in printed}
        assert all(action in ("created", "configured") for action, *_ in printed)
        rerun = subprocess.run([sys.executable, "-m", "kubebook.cli", "provision", "apply", "--overlay", "many",
                                "--manifests", str(root), "--cluster", str(local_cluster)],
                               capture_output=True, text=True, check=False, timeout=300)
        assert rerun.returncode == 0, rerun.stderr
        lines = [line.split() for line in rerun.stdout.splitlines()[:-1]]
        unchanged = {key for action, key, *_ in lines if action == "unchanged"}
        completed = {key for action, key, *_ in lines if action in ("created", "configured")}
        assert applied_before <= unchanged  # what the killed run reported is kept, not redone
        assert completed, "the re-run had nothing left to do: the kill came too late to test anything"
        assert rerun.stdout.splitlines()[-1].startswith("overlay many:") and "INCOMPLETE" not in rerun.stdout
        for i in range(TENANTS):
            assert kube.get_object("networking.k8s.io/v1", "NetworkPolicy", "default-deny", f"{prefix}-{i}")
            assert kube.get_object("policy/v1", "PodDisruptionBudget", "kubebook-critical", f"{prefix}-{i}")
    finally:
        for i in range(TENANTS):
            kube.delete_object("v1", "Namespace", f"{prefix}-{i}")
