"""Node counts by bin-packing, OpenCost-style allocation, the Parquet store and collection helpers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kubebook.capacity import binpack, collect, cost, schema, synthetic
from kubebook.capacity.store import HistoryStore
from kubebook.errors import ParameterError

GIB = 2**30
SYSTEM = binpack.PoolShape("system", 4, 16 * GIB, 110, 2, (("kubebook.io/pool", "system", "NoSchedule"),),
                           {"kubebook.io/pool": "system"})
WORKLOAD = binpack.PoolShape("workload", 8, 32 * GIB, 110, 5, (), {"kubebook.io/pool": "workload"})


def test_pods_pack_first_fit_decreasing_onto_the_fewest_nodes_and_growth_adds_nodes():
    pods = [binpack.PodDemand(f"p{i}", 1.0, 2 * GIB, count=4, pool_now="workload") for i in range(6)]
    plan = binpack.recommend_nodes([WORKLOAD], pods, growth={"cpu": 1.5, "memory": 1.0})["pools"][0]
    assert plan["nodes_needed"] == 3  # 24 cores of requests on 8-core nodes
    assert plan["nodes_needed_forecast"] == 5  # 36 cores; 5 of 1.5-core pods per 8-core node
    assert plan["nodes_now"] == 5 and plan["pods"] == 24


def test_taints_tolerations_and_node_selectors_decide_where_a_pod_may_go():
    tolerating = binpack.PodDemand("dns", 0.1, GIB, tolerations=({"key": "kubebook.io/pool", "operator": "Exists"},),
                                   node_selector={"kubebook.io/pool": "system"})
    plain = binpack.PodDemand("web", 0.1, GIB, pool_now="system")
    pinned_nowhere = binpack.PodDemand("gpu", 0.1, GIB, node_selector={"accelerator": "h100"})
    too_big = binpack.PodDemand("huge", 64, GIB)
    result = binpack.recommend_nodes([SYSTEM, WORKLOAD], [tolerating, plain, pinned_nowhere, too_big])
    pools = {p["pool"]: p for p in result["pools"]}
    assert pools["system"]["pods"] == 1 and pools["workload"]["pods"] == 1  # web cannot stay on the tainted pool
    assert result["unschedulable"] == ["gpu", "huge"]
    assert binpack.tolerates(("k", "v", "NoSchedule"), ({"key": "k", "value": "v"},))
    assert not binpack.tolerates(("k", "v", "NoSchedule"), ({"key": "k", "value": "w"},))
    assert not binpack.tolerates(("k", "v", "NoSchedule"), ({"operator": "Exists", "effect": "NoExecute"},))


def test_the_scale_down_rule_removes_an_underused_node_only_when_its_pods_fit_elsewhere():
    shape = binpack.PoolShape("p", 10, 100 * GIB, pods=3)
    nodes = binpack._pack(shape, [binpack.PodDemand(f"x{i}", 3, GIB) for i in range(4)])
    assert len(nodes) == 2  # 3 pods fill one node's pod slots, the 4th opens a node at 30 %
    kept, removed = binpack._scale_down(shape, nodes, 0.5)
    assert removed == 0 and len(kept) == 2  # its pod fits nowhere else
    roomy = binpack.PoolShape("p", 10, 100 * GIB, pods=10)
    half = [binpack._Node(), binpack._Node()]
    half[0].add(binpack.PodDemand("a", 4, GIB))
    half[1].add(binpack.PodDemand("b", 2, GIB))
    kept, removed = binpack._scale_down(roomy, half, 0.5)
    assert removed == 1 and len(kept) == 1 and kept[0].cpu == 6


def test_cost_charges_max_of_request_and_usage_and_shows_idle():
    times = pd.date_range("2026-11-01", periods=4, freq="1h", tz="UTC")
    frame = schema.validate_samples(pd.DataFrame({
        "timestamp": list(times) * 2, "namespace": ["a"] * 4 + ["b"] * 4, "workload": ["w"] * 8,
        "container": ["c"] * 8, "pod": ["p"] * 8, "pool": ["pool"] * 8, "team": ["t1"] * 4 + ["t2"] * 4,
        "cpu_cores": [0.5, 2.0, 0.5, 0.5] + [1.0] * 4, "memory_bytes": [GIB] * 8,
        "cpu_request": [1.0] * 4 + [np.nan] * 4, "memory_request": [2 * GIB] * 4 + [np.nan] * 4}))
    price = cost.Price(cpu_core_hour=1.0, memory_gib_hour=0.5)
    result = cost.allocate(frame, {"pool": (4.0, 8 * GIB)}, cost.Prices(price), by="namespace")
    rows = {r["namespace"]: r for r in result["rows"]}
    assert rows["a"]["cpu_core_hours"] == 5.0 and rows["a"]["memory_gib_hours"] == 8.0  # 1+2+1+1 cores
    assert rows["b"]["cpu_core_hours"] == 4.0 and rows["b"]["memory_gib_hours"] == 4.0
    assert result["total"] == pytest.approx(5 + 4 + (8 + 4) * 0.5)
    idle = result["idle"][0]
    assert result["window_hours"] == 4.0
    assert idle["capacity_cost"] == pytest.approx(4 * 4 * 1.0 + 8 * 4 * 0.5)
    assert idle["idle_cost"] == pytest.approx(idle["capacity_cost"] - result["total"])
    with pytest.raises(ParameterError):
        cost.Prices.parse({"workload": {"cpu": 1}})
    assert cost.Prices.parse({"default": {"cpu_core_hour": 2}}).for_pool("x").cpu_core_hour == 2.0


def test_the_store_appends_parts_reads_them_back_without_duplicates_and_compacts(tmp_path):
    store = HistoryStore(tmp_path)
    frame = synthetic.series_frame(synthetic.Profile(10, 1), 100, days=1)
    store.append("series", frame.iloc[:10])
    store.append("series", frame.iloc[5:20])  # overlaps: a retried collection
    assert len(store.parts("series")) == 2 and len(store.read("series")) == 20
    assert store.compact("series") == 2 and len(store.parts("series")) == 1 and len(store.read("series")) == 20
    assert store.read("samples").empty and not list(tmp_path.rglob("*.tmp"))
    with pytest.raises(ParameterError, match="lacks column"):
        store.append("series", frame.drop(columns=["used"]))


def test_csv_and_parquet_history_read_the_same(tmp_path):
    frame = synthetic.demo_series(days=4)
    frame.to_csv(tmp_path / "h.csv", index=False)
    frame.to_parquet(tmp_path / "h.parquet")
    a, b = schema.read_series(tmp_path / "h.csv"), schema.read_series(tmp_path / "h.parquet")
    pd.testing.assert_frame_equal(a, b, check_exact=False)
    with pytest.raises(ParameterError, match="does not exist"):
        schema.read_series(tmp_path / "missing.csv")


def test_gone_pods_keep_their_workload_and_series_sum_per_pool_and_cluster():
    assert collect.workload_from_pod_name("web-7d9f8c6b5d-x2x9q") == "web"
    assert collect.workload_from_pod_name("db-2") == "db"
    assert collect.workload_from_pod_name("agent-x7k2p") == "agent"
    inv = collect.Inventory(nodes=[{"name": "n1", "pool": "a", "cpu": 4.0, "memory": 8.0, "pods": 110.0},
                                   {"name": "n2", "pool": "b", "cpu": 8.0, "memory": 16.0, "pods": 110.0}])
    now = pd.Timestamp("2026-11-28T12:00:00Z")
    samples = pd.DataFrame([collect._sample_row(now, ("ns", f"p{i}", "c"), inv, 0.5, 1.0) for i in range(3)])
    samples["pool"] = ["a", "a", "b"]
    samples["cpu_request"] = 1.0
    series = collect.series_from_samples(samples, inv).set_index(["pool", "resource", "basis"])
    assert series.loc[("a", "cpu", "usage"), "used"] == 1.0 and series.loc[("a", "cpu", "usage"), "capacity"] == 4
    assert series.loc[("*", "cpu", "requests"), "used"] == 3.0 and series.loc[("*", "cpu", "usage"), "capacity"] == 12
    assert series.loc[("b", "pods", "requests"), "used"] == 1
