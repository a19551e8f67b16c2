"""Destructive DR steps refuse any cluster that is not a kubebook local cluster, unless confirmed by name.

A drill wipes etcd and a restore writes into namespaces: pointed at the wrong
kubeconfig, either is a real outage. A kubebook local cluster is recognised by its
API endpoint matching one under ``$KUBEBOOK_DATA_DIR``; any other cluster needs
its context name (or server URL) typed back, as ``confirm_cluster``.
"""

from __future__ import annotations

import json
from typing import Any

from kubebook.errors import ParameterError


def local_name(server: str) -> str | None:
    """The name of the kubebook local cluster serving at ``server``, if any."""
    from kubebook.localcluster.manager import LocalCluster
    from kubebook.localcluster.paths import data_dir

    root = data_dir() / "clusters"
    for state in sorted(root.glob("*/state.json")) if root.is_dir() else []:
        try:
            json.loads(state.read_text())
            if LocalCluster(name=state.parent.name).layout().endpoint == server.rstrip("/"):
                return state.parent.name
        except Exception:  # a damaged or foreign state file is simply not a match
            continue
    return None


def require_local_or_confirmed(cluster: Any, confirm_cluster: str | None, action: str) -> str:
    """The local cluster's name, or the confirmed identity of another cluster; otherwise refuse."""
    name = local_name(cluster.server)
    if name is not None:
        return f"kubebook local cluster {name!r}"
    identities = {i for i in (cluster.context, cluster.server) if i}
    if confirm_cluster and confirm_cluster in identities:
        return f"cluster {confirm_cluster!r} (confirmed by name)"
    shown = cluster.context or cluster.server
    raise ParameterError(f"{action} refused: {cluster.server} is not a kubebook local cluster",
                         hint=f"to {action} there anyway, confirm it by name: --confirm-cluster {shown}")
