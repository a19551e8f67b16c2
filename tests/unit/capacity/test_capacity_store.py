"""The capacity store is per cluster: keyed by the cluster's identity, and every history file names its cluster."""

from __future__ import annotations

import json
from typing import Any

import pyarrow.parquet as pq
import pytest

from kubebook.capacity import synthetic
from kubebook.capacity.store import HistoryStore
from kubebook.cli import main
from kubebook.errors import ApiError, ParameterError


class FakeCluster:
    """What the collector and the store ask of a cluster: its identity, one node, one pod, no metrics API."""

    def __init__(self, fingerprint: str, server: str) -> None:
        self._fingerprint, self.server, self.context = fingerprint, server, None

    def fingerprint(self) -> str:
        return self._fingerprint

    def list_path(self, path: str, **_: Any) -> list[dict[str, Any]]:
        if path == "/api/v1/nodes":
            return [{"metadata": {"name": "n1", "labels": {"kubebook.io/pool": "workload"}},
                     "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}}]
        if path == "/api/v1/pods":
            return [{"metadata": {"name": "web-1", "namespace": "shop", "labels": {"team": "web"}},
                     "spec": {"nodeName": "n1", "containers": [
                         {"name": "main", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}]},
                     "status": {"phase": "Running"}}]
        raise ApiError("the server could not find the requested resource", status=404)


A = FakeCluster("aaaaaaaaaaaaaaaa", "https://a.example:6443")
B = FakeCluster("bbbbbbbbbbbbbbbb", "https://b.example:6443")


@pytest.fixture
def base(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBEBOOK_CAPACITY_DIR", str(tmp_path))
    return tmp_path


def test_two_clusters_collect_into_two_stores_keyed_by_their_identity(base, monkeypatch, capsys):
    from kubebook import cluster

    for target in (A, B, A):
        monkeypatch.setattr(cluster, "connect", lambda *a, target=target, **k: target)
        assert main(["capacity", "collect", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["store"] == str(base / target.fingerprint())
    assert len(HistoryStore.open(A).parts("series")) == 2 and len(HistoryStore.open(B).parts("series")) == 1
    # B's store holds B's one collection only; A's holds its two (rows of the same second are one sample)
    one_collection = len(HistoryStore.open(B).read("series"))
    assert one_collection > 0 and len(HistoryStore.open(A).read("series")) >= one_collection


def test_every_history_file_names_its_cluster(base):
    store = HistoryStore.open(A)
    part = store.append("series", synthetic.series_frame(synthetic.Profile(10, 1), 100, days=1))
    assert A.fingerprint() in part.name
    assert pq.read_schema(part).metadata[b"kubebook.cluster"] == A.fingerprint().encode()
    marker = json.loads((store.root / "cluster.json").read_text())
    assert marker == {"fingerprint": A.fingerprint(), "server": A.server, "context": ""}


def test_an_explicit_store_of_another_cluster_is_refused_before_anything_is_written(base, tmp_path, monkeypatch,
                                                                                   capsys):
    from kubebook import cluster

    folder = tmp_path / "shared"
    HistoryStore.open(A, folder).append("series", synthetic.series_frame(synthetic.Profile(10, 1), 100, days=1))
    before = sorted(p.name for p in folder.rglob("*"))
    monkeypatch.setattr(cluster, "connect", lambda *a, **k: B)
    assert main(["capacity", "collect", "--store", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "belongs to cluster aaaaaaaaaaaaaaaa" in err
    assert sorted(p.name for p in folder.rglob("*")) == before
    monkeypatch.setattr(cluster, "connect", lambda *a, **k: A)
    assert main(["capacity", "collect", "--store", str(folder)]) == 0  # --store still works for its own cluster
    assert len(HistoryStore(folder).parts("series")) == 2


def test_a_store_whose_parts_name_two_clusters_is_refused_on_read(tmp_path):
    frame = synthetic.series_frame(synthetic.Profile(10, 1), 100, days=1)
    HistoryStore.open(A, tmp_path / "a").append("series", frame)
    HistoryStore.open(B, tmp_path / "b").append("series", frame)
    (tmp_path / "a" / "series").joinpath("part-x.parquet").write_bytes(
        next((tmp_path / "b" / "series").glob("part-*.parquet")).read_bytes())
    with pytest.raises(ParameterError, match="mixes clusters"):
        HistoryStore(tmp_path / "a").read("series")


def test_forecast_and_rightsize_read_the_store_of_the_cluster_they_are_pointed_at(base, monkeypatch, capsys):
    from kubebook import cluster

    frame = synthetic.series_frame(synthetic.Profile(40, 2, 6, 0, 1), 120, days=5)
    HistoryStore.open(A).append("series", frame)
    monkeypatch.setattr(cluster, "connect", lambda *a, **k: A)
    assert main(["capacity", "forecast", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["cluster"] == A.fingerprint() and document["forecasts"][0]["history_days"] > 4.9
    monkeypatch.setattr(cluster, "connect", lambda *a, **k: B)
    assert main(["capacity", "forecast", "--json"]) == 2
    assert "is empty" in capsys.readouterr().err
