"""The in-cluster runner for real: the rendered CronJob runs a readonly runbook on the real node, as rendered.

Gated like test_real_node.py (``KUBEBOOK_REAL_NODE_TESTS=1``, which ``make test`` sets; skipped with the
host check's reason where the host cannot run a node). It reuses the ``realnode`` cluster
(``KUBEBOOK_REAL_NODE_CLUSTER``) or starts it, and follows the README's path on a cluster that carries
the prod baseline (``kubebook provision apply --overlay prod``: the admission policies, the runner
namespace's default-deny NetworkPolicies, quota and LimitRange): ``cluster images --add-runner``
builds the runner image from this checkout and .venv into the node's store, its loopback registry
joins the baseline's allow-list, ``schedule render-cronjobs --real-node --archive-host-path DIR
--image <ref@digest>`` renders the kustomization, ``kubectl apply -k`` applies it unmodified, and
``kubectl create job --from=cronjob/kubebook-cluster-info`` triggers the CronJob. The CronJobs are
suspended right after the apply so no scheduled run (capacity-collect fires every 10 minutes) shares
the node with the triggered one; a Job made from a CronJob runs regardless of ``suspend``. The
baseline is removed afterwards (and waited for until its policies stop acting), so a reused cluster
is left as it was found, except that its API server must be restarted before the next provisioning
(see ``real_cluster``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubebook import cluster as cluster_mod
from kubebook.errors import ApiError
from kubebook.localcluster import build
from kubebook.localcluster.manager import LocalCluster
from kubebook.provision import build as build_overlay
from kubebook.provision.apply import remove
from kubebook.provision.cases import admission_cases

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(os.environ.get("KUBEBOOK_REAL_NODE_TESTS") != "1",
                       reason="real-node tests are opt-in: KUBEBOOK_REAL_NODE_TESTS=1"),
]
ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "kubebook-runner"
CRONJOB = "kubebook-cluster-info"
VOLUME = f"{NAMESPACE}-reports"  # the static PersistentVolume --archive-host-path renders
JOB = "cluster-info-now"
UNSCHEDULABLE_GRACE = 30.0  # a pod the scheduler cannot place fails the test after this, with its reason
RUN_TIMEOUT = 600.0  # the runbook's own timeout is 300 s; this only bounds a stuck Job


def kubebook(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubebook.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def real_cluster(real_node_cluster: LocalCluster) -> Iterator[LocalCluster]:
    lc = real_node_cluster
    existed = lc.status().get("healthy", False)
    if existed:
        # kube-apiserver v1.37 stops a paramKind's informer for good once no binding uses it (kubernetes#130887):
        # after an earlier run removed the baseline, admission would read a frozen allow-list. A restart clears it.
        lc.down()
    lc.up()
    try:
        yield lc
    finally:
        if not existed:
            lc.down(purge=True)


def kubectl(lc: LocalCluster, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(build.binary("kubectl")), "--kubeconfig", str(lc.kubeconfig), *args],
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0 or not check, f"kubectl {' '.join(args)}: {done.stderr.strip()}"
    return done


def until(what: str, predicate: Any, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} not within {timeout:.0f}s"
        time.sleep(1)


def policies_acting(kube: cluster_mod.Cluster, namespace: str) -> list[bool]:
    """Per baseline policy: does it refuse its violation in ``namespace`` (admission reads them from an informer)?"""
    acting = []
    for case in (c for c in admission_cases(namespace) if c.policy):
        try:
            kube.create_object(case.obj, dry_run=True)
            acting.append(False)
        except ApiError as error:
            acting.append(f"ValidatingAdmissionPolicy '{case.policy}'" in error.message)
    return acting


@pytest.fixture
def baseline(real_cluster: LocalCluster) -> Iterator[cluster_mod.Cluster]:
    """The prod overlay applied as `kubebook provision apply` does; removed afterwards."""
    kube = cluster_mod.connect(real_cluster.kubeconfig)
    until(f"{NAMESPACE} of an earlier run gone (kubectl delete -k it)",
          lambda: not kube.get_object("v1", "Namespace", NAMESPACE))
    had_config = kube.get_object("v1", "ConfigMap", "kubebook-audit", "kube-system") is not None
    applied = kubebook("provision", "apply", "--overlay", "prod", "--cluster", str(real_cluster.kubeconfig),
                       "--quiet", timeout=300)
    try:
        assert applied.returncode == 0, applied.stdout[-2000:] + applied.stderr[-2000:]
        until("the baseline's policies acting", lambda: all(policies_acting(kube, NAMESPACE)))
        yield kube
    finally:
        remove(kube, build_overlay("prod").objects)
        if not had_config:  # the test's allow-list patch made it co-managed, so remove() only released it
            kube.delete_object("v1", "ConfigMap", "kubebook-audit", "kube-system")
        until("the baseline's policies gone", lambda: not any(policies_acting(kube, "default")))


def runner_image(lc: LocalCluster) -> str:
    """Build the runner image into the node's store; its reference pinned by digest."""
    added = kubebook("cluster", "images", "--name", lc.name, "--add-runner", "--json")
    assert added.returncode == 0, added.stderr[-2000:]
    pushed = lc.load_state()["real_node"]["images"]["kubebook"]  # the reference --add-runner pushed
    (row,) = [r for r in json.loads(added.stdout) if r["ref"] == pushed]
    return f"{row['ref'].rsplit(':', 1)[0]}@{row['digest']}"


def wait_for_job(kube: cluster_mod.Cluster) -> Any:
    """The Job's final status; fails at once with the scheduler's reason when its pod cannot be placed."""
    deadline = time.monotonic() + RUN_TIMEOUT
    pending_since: float | None = None
    while True:
        status = kube.batch.read_namespaced_job(JOB, NAMESPACE).status
        if status.succeeded or status.failed:
            return status
        pods = kube.core.list_namespaced_pod(NAMESPACE, label_selector=f"job-name={JOB}").items
        unplaced = [c for p in pods for c in (p.status.conditions or [])
                    if c.type == "PodScheduled" and c.status == "False"]
        if unplaced:
            pending_since = pending_since or time.monotonic()
            assert time.monotonic() - pending_since < UNSCHEDULABLE_GRACE, (
                f"the runner pod stayed Pending for {UNSCHEDULABLE_GRACE:.0f}s: {unplaced[0].reason}: "
                f"{unplaced[0].message}")
        else:
            pending_since = None
        assert time.monotonic() < deadline, f"Job {JOB} neither succeeded nor failed within {RUN_TIMEOUT:.0f}s"
        time.sleep(2)


@pytest.fixture
def applied(real_cluster: LocalCluster, baseline: cluster_mod.Cluster, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Render with the node's flags, apply unmodified with kubectl's kustomize, suspend the schedules."""
    lc, kube = real_cluster, baseline
    until(f"{VOLUME} of an earlier run gone (kubectl delete -k it)",
          lambda: not kube.get_object("v1", "PersistentVolume", VOLUME))
    image = runner_image(lc)
    reports = tmp_path / "reports"
    reports.mkdir()
    os.chown(reports, 10001, 10001)  # install -d -o 10001 -g 10001: the runner writes as UID 10001
    out = tmp_path / "runner"
    rendered = kubebook("schedule", "render-cronjobs", "--out", str(out), "--real-node",
                        "--archive-host-path", str(reports), "--image", image)
    assert rendered.returncode == 0, rendered.stderr
    refused = kubectl(lc, "apply", "-k", str(out), "--dry-run=server", check=False).stderr
    assert f"image {image} is not from an allow-listed registry" in refused, refused  # the baseline judges it
    # the documented step on a provisioned cluster: the node's loopback registry joins the allow-list
    allowed = kube.core.read_namespaced_config_map("kubebook-audit", "kube-system").data["allowed-registries"]
    kubectl(lc, "-n", "kube-system", "patch", "configmap", "kubebook-audit", "--type", "merge", "-p",
            json.dumps({"data": {"allowed-registries": f"{allowed},{image.split('/', 1)[0]}"}}))
    until("the new allow-list seen by admission",  # policies read their parameter from an informer too
          lambda: kubectl(lc, "apply", "-k", str(out), "--dry-run=server", check=False).returncode == 0, 60)
    try:
        kubectl(lc, "apply", "-k", str(out))
        for cronjob in kube.batch.list_namespaced_cron_job(NAMESPACE).items:
            kube.batch.patch_namespaced_cron_job(cronjob.metadata.name, NAMESPACE, {"spec": {"suspend": True}})
        yield {"kube": kube, "image": image, "reports": reports, "out": out}
    finally:
        # not waited for: a reused cluster's next run waits above, a started one is purged anyway
        kubectl(lc, "delete", "-k", str(out), "--wait=false", "--ignore-not-found")


def test_the_rendered_cronjob_runs_a_readonly_runbook_on_the_real_node_and_archives_to_its_volume(
        real_cluster: LocalCluster, applied: dict[str, Any]) -> None:
    kube, reports = applied["kube"], applied["reports"]
    kubectl(real_cluster, "create", "job", f"--from=cronjob/{CRONJOB}", JOB, "-n", NAMESPACE)
    status = wait_for_job(kube)
    (pod,) = kube.core.list_namespaced_pod(NAMESPACE, label_selector=f"job-name={JOB}").items
    logs = kube.core.read_namespaced_pod_log(pod.metadata.name, NAMESPACE)
    assert status.succeeded == 1, f"the runner pod ended {pod.status.phase}:\n{logs[-3000:]}"

    node = kube.core.read_node(pod.spec.node_name)
    assert node.metadata.labels.get("kubebook.io/node-type") == "real"
    assert pod.spec.node_name == real_cluster.load_state()["real_node"]["name"]
    assert pod.spec.service_account_name == "kubebook-runner-readonly"
    assert pod.spec.security_context.run_as_user == 10001 and pod.spec.security_context.run_as_non_root
    assert pod.spec.containers[0].image == applied["image"]
    namespace = kube.core.read_namespace(NAMESPACE)
    assert namespace.metadata.labels["pod-security.kubernetes.io/enforce"] == "restricted"
    policies = {p.metadata.name for p in kube.networking.list_namespaced_network_policy(NAMESPACE).items}
    assert {"default-deny", "kubebook-runner-apiserver-real-node"} <= policies  # it ran under the baseline's deny

    from kubebook.archive import Archive

    runs = Archive(reports).list_runs(runbook="cluster-info")
    assert [r.status for r in runs] == ["succeeded"], runs
    ledger = Archive(reports).ledger_path
    assert ledger.stat().st_uid == 10001 and runs[0].run_dir.stat().st_uid == 10001  # written as UID 10001
    verified = kubebook("reports", "verify", "--archive", str(reports), timeout=120)
    assert verified.returncode == 0, verified.stdout + verified.stderr
