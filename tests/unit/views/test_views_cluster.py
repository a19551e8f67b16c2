"""The overview: pools and capacity computed (by kubebook.overview) from node and pod rows, drawn by the view;
the local-cluster lookup."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from kubebook import localcluster, overview
from kubebook.views import cluster as view


def nodes() -> pd.DataFrame:
    return pd.DataFrame([
        {"name": "a", "pool": "system", "ready": True, "cpu": 4.0, "memory_gib": 16.0, "pods": 110, "taints": "",
         "runtime": "simulated"},
        {"name": "b", "pool": "workload", "ready": True, "cpu": 8.0, "memory_gib": 32.0, "pods": 110, "taints": "",
         "runtime": "simulated"},
        {"name": "c", "pool": "workload", "ready": False, "cpu": 16.0, "memory_gib": 64.0, "pods": 110,
         "taints": "", "runtime": "simulated"},
    ])


def pods() -> pd.DataFrame:
    return pd.DataFrame([
        {"namespace": "x", "name": "p1", "node": "b", "phase": "Running", "cpu_request": 1.5,
         "memory_request_gib": 2.0},
        {"namespace": "x", "name": "p2", "node": "b", "phase": "Succeeded", "cpu_request": 4.0,
         "memory_request_gib": 1.0},
        {"namespace": "x", "name": "p3", "node": "", "phase": "Pending", "cpu_request": 0.5,
         "memory_request_gib": 0.5},
    ])


def test_pools_count_nodes_ready_and_capacity() -> None:
    pools = overview.pools_frame(nodes()).set_index("pool")
    assert pools.loc["workload", "nodes"] == 2
    assert pools.loc["workload", "ready"] == 1
    assert pools.loc["workload", "cpu"] == 24.0
    assert pools.loc["system", "memory_gib"] == 16.0


def test_pools_show_real_and_simulated_nodes_apart() -> None:
    rows = nodes()
    rows.loc[rows["name"] == "c", "runtime"] = "real"
    pools = overview.pools_frame(rows).set_index(["pool", "runtime"])
    assert pools.loc[("workload", "simulated"), "nodes"] == 1
    assert pools.loc[("workload", "real"), "cpu"] == 16.0


def test_capacity_sums_requests_of_active_pods_only() -> None:
    capacity = overview.capacity_frame(nodes(), pods()).set_index("name")
    assert capacity.loc["b", "cpu_requested"] == 1.5  # the Succeeded pod no longer holds its request
    assert capacity.loc["a", "cpu_requested"] == 0.0
    figure = view.capacity_figure(capacity.reset_index())
    assert [trace.name for trace in figure.data] == ["allocatable CPU", "requested CPU"]


def test_local_cluster_is_recognised_by_its_kubeconfig_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEBOOK_DATA_DIR", str(tmp_path))
    path = tmp_path / "clusters" / "lab" / "kubeconfig"
    path.parent.mkdir(parents=True)
    path.write_text("apiVersion: v1\nclusters:\n- cluster:\n    server: https://127.0.0.1:41234\n  name: lab\n")
    assert localcluster.name_for_kubeconfig(path) == "lab"
    assert localcluster.name_for_kubeconfig(tmp_path / "elsewhere.kubeconfig") is None
    assert localcluster.name_serving("https://127.0.0.1:41234") == "lab"
    assert localcluster.name_serving("https://127.0.0.1:41235") is None


def test_the_overview_headline_is_decided_by_the_engine_and_drawn_by_the_view() -> None:
    from kubebook.inventory import Node, Pod

    up = overview.Component("etcd", 1, True, True)
    down = overview.Component("kube-scheduler", 2, True, False)
    node = Node(*[{"name": "a", "pool": "p", "ready": True, "cpu": 4.0, "memory_gib": 1.0, "pods": 1, "taints": "",
                   "runtime": "simulated"}.get(f) for f in Node._fields])
    pod = Pod("x", "p", "a", "Running", 1.0, 0.5)
    healthy = overview.overview_report({"components": [up], "nodes": [node], "pods": [pod], "namespaces": []})
    assert healthy.headline.tone == "good" and "CPU requested 1 of 4 cores" in healthy.headline.change
    sick = overview.overview_report({"components": [up, down], "nodes": [node], "pods": [pod], "namespaces": []})
    assert sick.headline.tone == "bad" and sick.headline.value == "1 unhealthy"
    assert "unhealthy: kube-scheduler" in view.overview_headline(sick).plain
    assert sick.records() == {"components_unhealthy": 1, "nodes_ready": 1}
