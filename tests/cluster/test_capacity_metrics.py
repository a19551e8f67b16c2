"""The real metrics pipeline: KWOK emulates a pod's usage, metrics-server and Prometheus report it.

It needs the metrics-server and Prometheus builds, which ``make test`` makes first (``kubebook cluster
build --only metrics-server --only prometheus``, about 3.5 minutes cold). Run by hand, the test runs when
both binaries are cached (or one ``cluster up --with-metrics`` built them) or when
``KUBEBOOK_METRICS_TESTS=1`` asks for the build; otherwise it is skipped and says why.
"""

from __future__ import annotations

import os
import time
import uuid

import pytest
import requests

from kubebook.capacity import collect, loadgen
from kubebook.cluster import connect, quantity
from kubebook.localcluster import build
from kubebook.localcluster.manager import LocalCluster

CPU, MEMORY = "250m", "300Mi"
NAME = "capacity-metrics-test"


def _built(*names: str) -> bool:
    cached = all(build.RECIPES[name].is_cached() for name in names)
    if not cached and os.environ.get("KUBEBOOK_METRICS_TESTS") == "1":
        build.build_all(only=list(names))
        return True
    return cached


pytestmark = pytest.mark.skipif(not _built("metrics-server"),
                                reason="metrics-server not built (set KUBEBOOK_METRICS_TESTS=1 to build it)")
needs_prometheus = pytest.mark.skipif(not _built("prometheus"),
                                      reason="Prometheus not built (set KUBEBOOK_METRICS_TESTS=1 to build it)")


@pytest.fixture(scope="module")
def pipeline():
    """A cluster of its own (the pipeline restarts KWOK with a pod cache; the session cluster stays as it is)."""
    cluster = LocalCluster(name=NAME, nodes=2, with_metrics=True)
    cluster.down(purge=True)  # a session killed mid-way must not leave state behind
    try:
        status = cluster.up(wait_nodes=True)
        yield status, connect(cluster.kubeconfig)
    finally:
        cluster.down(purge=True)


def _poll(what, probe, timeout=150.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(3)
    raise AssertionError(f"{what} did not appear within {timeout:.0f}s (last answer: {last!r})")


@pytest.fixture(scope="module")
def known_pod(pipeline):
    """A pod on a KWOK node whose emulated usage is 250m CPU and 300Mi memory."""
    _, kube = pipeline
    namespace = f"capacity-{uuid.uuid4().hex[:6]}"
    kube.apply_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
                      field_manager="test")
    # admission refuses a pod until the service-account controller has made the namespace's default account
    _poll("the default ServiceAccount", lambda: kube.get_object("v1", "ServiceAccount", "default", namespace))
    kube.create_object({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "known", "namespace": namespace, "labels": {"team": "capacity"},
                     "annotations": {"kwok.x-k8s.io/usage-cpu": CPU, "kwok.x-k8s.io/usage-memory": MEMORY}},
        "spec": {"nodeSelector": {"type": "kwok", "kubebook.io/pool": "workload"},
                 "automountServiceAccountToken": False,
                 "containers": [{"name": "main", "image": "registry.k8s.io/pause:3.10", "imagePullPolicy": "Always",
                                 "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}}}]}})
    yield namespace
    kube.delete_object("v1", "Namespace", namespace)


def test_metrics_server_serves_the_emulated_usage_of_a_known_pod_on_metrics_k8s_io(pipeline, known_pod):
    status, kube = pipeline
    assert status["components"]["metrics-server"]["healthy"]

    def from_metrics_api():
        try:
            item = kube.request("GET", f"/apis/metrics.k8s.io/v1beta1/namespaces/{known_pod}/pods/known")
        except Exception:  # 404 until metrics-server has scraped the pod twice
            return None
        usage = item["containers"][0]["usage"]
        return usage if usage.get("memory") else None

    usage = _poll("metrics.k8s.io usage of the pod", from_metrics_api)
    assert quantity(usage["memory"]) == 300 * 2**20
    assert 0.2 <= quantity(usage["cpu"]) <= 0.3, usage
    samples = collect.from_metrics_api(kube)
    mine = samples[(samples["namespace"] == known_pod) & (samples["pod"] == "known")]
    assert len(mine) == 1 and mine["team"].iloc[0] == "capacity" and mine["cpu_request"].iloc[0] == 0.5
    assert mine["memory_bytes"].iloc[0] == 300 * 2**20 and mine["pool"].iloc[0] == "workload"


@needs_prometheus
def test_prometheus_keeps_the_emulated_usage_and_the_collector_reads_it(pipeline, known_pod):
    status, kube = pipeline
    url = status["prometheus_url"]
    assert url and status["components"]["prometheus"]["healthy"]

    def ask(query):
        def probe():
            answer = requests.get(f"{url}/api/v1/query", params={"query": query}, timeout=10).json()
            result = answer["data"]["result"]
            return float(result[0]["value"][1]) if result else None
        return probe

    selector = f'{{namespace="{known_pod}",pod="known",container="main"}}'
    assert _poll("Prometheus memory", ask(f"container_memory_working_set_bytes{selector}")) == 300 * 2**20
    # irate: the last two scrapes. rate() over a window the new series only partly covers reads low.
    rate = _poll("Prometheus CPU rate", ask(f"irate(container_cpu_usage_seconds_total{selector}[1m])"))
    assert 0.2 <= rate <= 0.3
    samples = collect.from_prometheus(url, kube, hours=0.1, step_seconds=15)
    mine = samples[(samples["namespace"] == known_pod) & (samples["pod"] == "known")]
    assert len(mine) >= 1 and set(mine["workload"]) == {"known"}
    assert mine["memory_bytes"].iloc[-1] == 300 * 2**20 and 0 < mine["cpu_cores"].iloc[-1] <= 0.3


def test_cluster_status_lists_the_pipeline(pipeline):
    status, _ = pipeline
    assert {"metrics-server", "kwok"} <= set(status["components"])
    assert status["components"]["metrics-server"]["healthy"]
    if build.RECIPES["prometheus"].is_cached():
        assert status["components"]["prometheus"]["healthy"]
        assert status["prometheus_url"].startswith("http://127.0.0.1:")


def test_the_load_generator_leaks_until_an_oom_kill_the_collector_records(pipeline):
    _, kube = pipeline
    namespace = f"capacity-load-{uuid.uuid4().hex[:6]}"
    workloads = [w for w in loadgen.plan(1) if w.name == "leaker"]
    try:
        loadgen.apply(kube, namespace, workloads)
        _poll("the leaker pod running", lambda: [
            p for p in kube.list_path(f"/api/v1/namespaces/{namespace}/pods")
            if (p.get("status") or {}).get("phase") == "Running"], timeout=60)
        state = loadgen.LoadState()
        kills = [loadgen.tick(kube, namespace, workloads, state, 0)["oom_kills"] for _ in range(14)]
        assert kills.index(1) == 12 and state.oom_kills == 1  # (256 - 64) / 16 ticks of leaking, then the kill
        inventory = collect.inventory(kube)
        (leaker,) = [info for (ns, _, _), info in inventory.containers.items() if ns == namespace]
        assert leaker["oom_killed"] and leaker["memory_limit"] == 256 * 2**20 and leaker["workload"] == "leaker"
    finally:
        kube.delete_object("v1", "Namespace", namespace)
