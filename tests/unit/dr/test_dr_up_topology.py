"""`cluster up` on an existing cluster takes the topology it was created with (issue 15)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubebook.errors import LocalClusterError
from kubebook.localcluster.manager import LocalCluster


def test_existing_cluster_keeps_its_recorded_topology(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text(json.dumps({"name": "x", "topology": "ha"}))
    assert LocalCluster(name="x", root=tmp_path).topology == "ha"


def test_new_cluster_defaults_to_single_and_explicit_topology_wins(tmp_path: Path) -> None:
    assert LocalCluster(name="x", root=tmp_path).topology == "single"
    (tmp_path / "state.json").write_text(json.dumps({"name": "x", "topology": "ha"}))
    assert LocalCluster(name="x", root=tmp_path, topology="single").topology == "single"


def test_corrupt_state_does_not_stop_construction_so_down_purge_still_works(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text("{not json")
    cluster = LocalCluster(name="x", root=tmp_path)
    assert cluster.topology == "single"
    with pytest.raises(LocalClusterError, match="corrupt"):
        cluster.load_state()


def test_layout_of_a_missing_cluster_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LocalClusterError, match="does not exist"):
        LocalCluster(name="x", root=tmp_path).layout()
