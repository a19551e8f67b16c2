"""What the real-node test modules share: whether this host may start the real node's cluster now."""

from __future__ import annotations

import os

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
    return lc
