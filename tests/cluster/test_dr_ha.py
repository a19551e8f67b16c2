"""HA member-loss drill and the full drill on a throwaway ha cluster.

About 70 s on a 2-core machine (an ha cluster start, a quorum-loss timeout, two recoveries);
it runs in every ``make test`` beside the single-topology drill of test_dr_drill.py.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator

import pytest

from kubebook.archive import Archive
from kubebook.dr import drill, hadrill, throwaway
from kubebook.localcluster.manager import LocalCluster

pytestmark = pytest.mark.cluster
NAME = "pytest-dr-ha"


@pytest.fixture(scope="module")
def ha() -> Iterator[LocalCluster]:
    LocalCluster(name=NAME).down(purge=True)
    with throwaway.throwaway_cluster(name=NAME, topology="ha", nodes=1) as lc:
        yield lc


def test_member_loss_keeps_writing_then_names_the_lost_quorum_and_recovers(ha: LocalCluster) -> None:
    result = hadrill.run_member_loss(NAME, writes=10)
    assert result.problems == []
    phases = {p["phase"]: p for p in result.phases}
    assert phases["one etcd member and one apiserver lost"]["ok"] == 10
    assert phases["quorum lost"]["failed"] == 1
    assert "etcd has lost quorum: 1 of 3 members running (etcd-0), 2 are needed" in result.quorum_error
    assert phases["recovered"]["ok"] == 10
    # `up` without --topology on the existing ha cluster takes its recorded topology
    assert LocalCluster(name=NAME).up()["healthy"]


def test_full_drill_on_ha_loses_nothing(ha: LocalCluster, drill_probes: Callable[..., list]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        result = drill.run_drill(NAME, archive=Archive(folder), probe_objects=2)
    assert result.comparison.lost == []
    assert len(drill_probes(result.comparison.created_after_snapshot)) == 2, result.comparison.created_after_snapshot
    assert result.topology == "ha"
