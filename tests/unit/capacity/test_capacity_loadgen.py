"""The load generator's manifests and usage, and the metrics pipeline's configuration (no processes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kubebook.capacity import loadgen
from kubebook.localcluster import metrics
from kubebook.localcluster.components import Layout


def test_generated_workloads_follow_their_profile_and_the_leaker_grows_to_its_limit():
    workloads = loadgen.plan(count=3, seed=2)
    assert [w.name for w in workloads] == ["load-0", "load-1", "load-2", "leaker"]
    state = loadgen.LoadState()
    rng = np.random.default_rng(0)
    seasonal = workloads[0]
    peak, trough = (int(loadgen.usage(seasonal, h * 3600, state, rng)[0][:-1]) for h in (14, 2))
    assert peak > trough  # the daily cycle peaks at 14:00
    leaker = workloads[-1]
    sizes = []
    for _ in range(4):
        sizes.append(int(loadgen.usage(leaker, 0, state, rng)[1][:-2]))
        state.leaked_mib[leaker.name] = state.leaked_mib.get(leaker.name, 0.0) + leaker.leaks_mib_per_tick
    assert sizes == [64, 80, 96, 112]


def test_generated_deployments_are_restricted_and_go_to_the_kwok_workload_pool():
    deployment = loadgen.manifest(loadgen.plan(1)[0], "capacity-load")
    spec = deployment["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == {"type": "kwok", "kubebook.io/pool": "workload"}
    context = spec["containers"][0]["securityContext"]
    assert context["runAsNonRoot"] and context["capabilities"] == {"drop": ["ALL"]}
    assert spec["containers"][0]["resources"]["limits"]["memory"].endswith("Mi")


def test_kwok_emulates_the_kubelet_resource_endpoint_from_the_usage_annotations():
    metric, usage = metrics.kwok_documents()
    assert metric["spec"]["path"] == "/metrics/nodes/{nodeName}/metrics/resource"
    names = {m["name"] for m in metric["spec"]["metrics"]}
    assert {"container_cpu_usage_seconds_total", "container_memory_working_set_bytes",
            "node_cpu_usage_seconds_total", "node_memory_working_set_bytes"} <= names
    expression = usage["spec"]["usages"][0]["usage"]["cpu"]["expression"]
    assert loadgen.USAGE_CPU in expression and metrics.USAGE_CPU == loadgen.USAGE_CPU


def test_metrics_server_trusts_the_front_proxy_and_listens_on_loopback(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(metrics.build, "binary", lambda name: Path("/bin") / name)
    layout = Layout("t", 1, tmp_path, 1, 2, 3, 4, 5, 6, None)
    argv = metrics.metrics_server_argv(layout, 4443)
    assert "--bind-address=127.0.0.1" in argv and "--secure-port=4443" in argv
    assert f"--requestheader-client-ca-file={tmp_path / 'pki' / 'front-proxy-ca.crt'}" in argv
    assert "--requestheader-allowed-names=front-proxy-client" in argv
    assert any(a.startswith("--web.listen-address=127.0.0.1:") for a in metrics.prometheus_argv(layout, 9090))
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "ca.crt").write_bytes(b"CA")
    objects = {o["kind"]: o for o in metrics._objects(layout, 4443)}
    assert objects["Service"]["spec"] == {"type": "ExternalName", "externalName": "localhost"}
    assert objects["APIService"]["spec"]["service"] == {"namespace": "kube-system", "name": "metrics-server",
                                                        "port": 4443}
    assert objects["APIService"]["spec"]["caBundle"] == "Q0E="


def test_generated_workloads_carry_what_the_prod_baseline_requires():
    """kubebook-resources wants cpu and memory requests and limits; kubebook-required-labels wants team and app."""
    for workload in loadgen.plan(3):
        deployment = loadgen.manifest(workload, "capacity-load")
        template = deployment["spec"]["template"]
        assert template["metadata"]["labels"]["team"] and template["metadata"]["labels"]["app"] == workload.name
        for container in template["spec"]["containers"]:
            resources = container["resources"]
            assert set(resources["requests"]) >= {"cpu", "memory"} and set(resources["limits"]) >= {"cpu", "memory"}
            assert container["image"].startswith("registry.k8s.io/") and ":" in container["image"]
