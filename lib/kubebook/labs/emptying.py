"""Empty a lab's namespace in about a second, instead of deleting it.

Why: deleting a namespace waits for the namespace controller (discovery, one delete per kind,
requeues): 5-6 s on an idle local control plane, more under load, which alone would eat the
10 s reset budget. Emptying does the same deletes directly - every namespaced kind the server
can ``deletecollection``, in parallel, pods last and without a grace period (KWOK pods need
none) - and resets the namespace's own labels and annotations to the lab's. The controllers
recreate what every namespace has (the ``default`` ServiceAccount, ``kube-root-ca.crt``).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kubebook.cluster import Cluster
from kubebook.errors import ApiError, ParameterError

KEEP_LABELS = ("kubernetes.io/metadata.name",)
SKIP_KINDS = ("Pod", "Event")  # pods go last (below); events are the namespace's history, not its state


def _collections(cluster: Cluster) -> list[tuple[str, str]]:
    seen, found = set(), []
    for res in cluster.resources().values():
        group = res.api_version.rsplit("/", 1)[0] if "/" in res.api_version else ""
        if res.namespaced and "deletecollection" in res.verbs and res.kind not in SKIP_KINDS \
                and (group, res.plural) not in seen:
            seen.add((group, res.plural))
            found.append((res.api_version, res.kind))
    return found


def _delete_all(cluster: Cluster, api_version: str, kind: str, namespace: str, query: dict[str, Any]) -> None:
    try:
        cluster.request("DELETE", cluster.object_path(api_version, kind, namespace), query=query)
    except ApiError as error:
        if error.status not in (404, 405):
            raise


def empty(cluster: Cluster, namespace: str, labels: dict[str, str], timeout: float) -> bool:
    """Delete every object in ``namespace`` and reset its metadata; False when it does not exist."""
    ns = cluster.get_object("v1", "Namespace", namespace)
    if ns is None:
        return False
    if (ns.get("status") or {}).get("phase") == "Terminating":
        raise ParameterError(f"namespace {namespace} is being deleted", hint="wait a moment and reset again")
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda ref: _delete_all(cluster, ref[0], ref[1], namespace, {"propagationPolicy": "Background"}),
                      _collections(cluster)))
    deadline = time.monotonic() + timeout
    while True:  # a ReplicaSet deleted a moment ago may still have made a pod
        _delete_all(cluster, "v1", "Pod", namespace, {"gracePeriodSeconds": 0})
        if not next(cluster.list_objects("v1", "Pod", namespace), None):
            break
        if time.monotonic() > deadline:
            raise ParameterError(f"pods in namespace {namespace} did not go in {timeout:.0f} s")
        time.sleep(0.2)
    meta = ns["metadata"]
    meta["labels"] = {k: v for k, v in (meta.get("labels") or {}).items() if k in KEEP_LABELS} | labels
    meta["annotations"] = {}
    meta.pop("managedFields", None)
    cluster.request("PUT", f"/api/v1/namespaces/{namespace}", body=ns)
    return True
