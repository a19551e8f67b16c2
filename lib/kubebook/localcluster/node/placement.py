"""How many real nodes a cluster runs when nobody said: one wherever this host can run it.

``kubebook cluster up`` without ``--real-nodes`` asks :func:`choose`. A number the user gave
(``--real-nodes N`` or ``LocalCluster(real_nodes=N)``) is recorded in the cluster's state and kept
on later starts; otherwise the answer is 1 when the host check passes and no other cluster's real
node holds the host (kube-router owns the host's filter table, so one host runs one), and 0 with
the reason printed when either fails. The reason is one line a user can act on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

ONE_PER_HOST = "one real node per host: kube-router owns the host's filter table"


class Choice(NamedTuple):
    """The number of real nodes ``up`` runs, and why (printed by the CLI)."""

    count: int
    reason: str


def choose(cluster_root: Path, state: dict[str, Any]) -> Choice:
    """The recorded request if there is one, else 1 where the host can run a node now, else 0."""
    if "real_nodes" in state:
        count = int(state["real_nodes"])
        return Choice(count, f"as this cluster was set up (--real-nodes {1 - count} changes it)")
    from kubebook.localcluster.node.hostcheck import check_host
    from kubebook.localcluster.node.runtime import host_holder

    support = check_host()
    if not support.supported:
        return Choice(0, support.summary())
    other = host_holder(cluster_root)
    if other is not None:
        return Choice(0, f"the cluster at {other} runs this host's real node ({ONE_PER_HOST}); "
                         f"'kubebook cluster down --name {other.name}' frees it")
    return Choice(1, f"{support.summary()}; --real-nodes 0 for KWOK nodes only")
