"""The in-cluster runner for real: a rendered CronJob runs a readonly runbook on the real node.

Opt-in and slow (it builds the ~2 GB runner image from this checkout and .venv): set
``KUBEBOOK_REAL_NODE_RUNNER_TESTS=1``. It reuses the ``realnode`` cluster of test_real_node.py
(``KUBEBOOK_REAL_NODE_CLUSTER``) or starts it, renders the CronJobs with the image it pushed,
binds the archive claim to a hostPath volume on the node, and runs the cluster-info CronJob's
job template (plus the real node's toleration and selector) under restricted Pod Security and
the readonly ServiceAccount.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client, utils

from kubebook import cluster as cluster_mod
from kubebook.localcluster.manager import LocalCluster
from kubebook.localcluster.node.hostcheck import check_host
from kubebook.localcluster.node.runtime import RealNode

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(os.environ.get("KUBEBOOK_REAL_NODE_RUNNER_TESTS") != "1",
                       reason="the runner-image test is opt-in: KUBEBOOK_REAL_NODE_RUNNER_TESTS=1"),
]
ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "kubebook-runner"


def test_rendered_cronjob_runs_a_readonly_runbook_on_the_real_node(tmp_path: Path) -> None:
    support = check_host()
    if not support.supported:
        pytest.skip(support.summary())
    lc = LocalCluster(name=os.environ.get("KUBEBOOK_REAL_NODE_CLUSTER", "realnode"), nodes=1, real_nodes=1)
    lc.up()
    state = lc.load_state()
    node = RealNode(lc.root, "", 0)
    reference = node.add_runner(state, lambda: lc._save_state(state), ROOT, ROOT / ".venv")
    assert any(row["name"] == "kubebook" for row in node.images(state))
    out = tmp_path / "runner"
    subprocess.run([sys.executable, "-m", "kubebook.cli", "schedule", "render-cronjobs", "--out", str(out),
                    "--image", reference], check=True, cwd=ROOT)
    kube = cluster_mod.connect(lc.kubeconfig)
    reports = lc.root / "node-0" / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    os.chown(reports, 10001, 10001)
    volume = f"kubebook-reports-{uuid.uuid4().hex[:6]}"  # a deleted PV lingers while its finalizer runs
    kube.core.create_persistent_volume(client.V1PersistentVolume(
        metadata=client.V1ObjectMeta(name=volume),
        spec=client.V1PersistentVolumeSpec(
            capacity={"storage": "5Gi"}, access_modes=["ReadWriteMany"], storage_class_name="",
            persistent_volume_reclaim_policy="Retain",
            host_path=client.V1HostPathVolumeSource(path=str(reports), type="Directory"),
            claim_ref=client.V1ObjectReference(namespace=NAMESPACE, name="kubebook-reports"))))
    try:
        order = yaml.safe_load((out / "kustomization.yaml").read_text())["resources"]  # namespace first
        for name in order:
            for document in yaml.safe_load_all((out / name).read_text()):
                if document and document.get("kind") not in (None, "Kustomization"):
                    utils.create_from_dict(kube.core.api_client, document)
        cronjob = kube.batch.read_namespaced_cron_job("kubebook-cluster-info", NAMESPACE)
        spec = cronjob.spec.job_template.spec
        spec.template.spec.tolerations = [client.V1Toleration(key="kubebook.io/real-node", operator="Exists",
                                                              effect="NoSchedule")]
        spec.template.spec.node_selector = {"kubebook.io/node-type": "real"}
        kube.batch.create_namespaced_job(NAMESPACE, client.V1Job(
            metadata=client.V1ObjectMeta(name="cluster-info-now"), spec=spec))
        deadline = time.monotonic() + 900
        status = None
        while time.monotonic() < deadline:
            status = kube.batch.read_namespaced_job("cluster-info-now", NAMESPACE).status
            if status.succeeded or status.failed:
                break
            time.sleep(2)
        pods = kube.core.list_namespaced_pod(NAMESPACE, label_selector="job-name=cluster-info-now").items
        logs = "\n".join(kube.core.read_namespaced_pod_log(p.metadata.name, NAMESPACE) for p in pods
                         if p.status.phase in ("Succeeded", "Failed"))
        assert status is not None and status.succeeded == 1, logs[-3000:]
        assert {p.spec.node_name for p in pods} == {state["real_node"]["name"]}
        archived = list(reports.rglob("*.ipynb"))
        assert archived, f"nothing archived under {reports}"
    finally:
        for delete, name in ((kube.core.delete_namespace, NAMESPACE),
                             (kube.core.delete_persistent_volume, volume)):
            with contextlib.suppress(client.exceptions.ApiException):
                delete(name)
