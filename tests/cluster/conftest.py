"""What the cluster test modules share: the real node's host check, and how a drill's RPO list is read."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from kubebook.localcluster.manager import LocalCluster
from kubebook.localcluster.node.hostcheck import check_host
from kubebook.localcluster.node.runtime import host_holder

REAL_NODE_CLUSTER = os.environ.get("KUBEBOOK_REAL_NODE_CLUSTER", "realnode")


@pytest.fixture(scope="module")
def real_node_cluster() -> LocalCluster:
    """The (not yet started) cluster with one real node; skips, saying why, where the host cannot run it now."""
    support = check_host()
    if not support.supported:
        pytest.skip(support.summary())
    os.environ.setdefault("KUBEBOOK_UNSAFE_NO_FSYNC", "1")
    lc = LocalCluster(name=REAL_NODE_CLUSTER, nodes=1, real_nodes=1)
    holder = host_holder(lc.root)
    if holder is not None:  # e.g. `make run` left the default cluster up with its real node
        pytest.skip(f"the cluster at {holder} runs this host's real node (one per host); take it down to run these")
    if lc.status().get("exists") and not lc.status().get("healthy", False):
        # a stopped leftover of an interrupted run (killed mid-module, e.g. with the prod baseline still applied):
        # restarting its etcd would bring that run's objects back, so the tests start from a fresh cluster
        lc.down(purge=True)
    return lc


# the two late writes seen (Events and Leases are never fingerprinted: kubebook.dr.fingerprint.VOLATILE_KINDS)
CONTROL_PLANE_WRITES = {"ClusterTrustBundle", "ServiceAccount"}


def _drill_probes(after_snapshot: list[dict[str, str]]) -> list[dict[str, str]]:
    """The drill's own probe ConfigMaps among the objects it lists as created after the snapshot.

    Anything else listed must be the control plane's own write, made at a moment no test controls:
    kube-controller-manager publishing a new serving ClusterTrustBundle after an API server restart,
    or a controller's ServiceAccount appearing late on a loaded machine. Such an object is a true
    RPO item (listed, not lost); this fails if anything else is listed.
    """
    probes = [x for x in after_snapshot if x["kind"] == "ConfigMap" and x["namespace"] == "default"
              and x["name"].startswith("kubebook-dr-probe")]
    others = [x for x in after_snapshot if x not in probes]
    assert all(x["kind"] in CONTROL_PLANE_WRITES and x["namespace"] in ("", "kube-system") for x in others), others
    return probes


@pytest.fixture
def drill_probes() -> Callable[[list[dict[str, str]]], list[dict[str, str]]]:
    """``_drill_probes`` for the drill tests (a fixture, since conftest modules are not imported by name)."""
    return _drill_probes
