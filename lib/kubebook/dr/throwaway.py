"""Drills on a throwaway local cluster: started, seeded, drilled and removed inside one call.

A runbook's default must not touch a cluster someone relies on, yet a drill that
never runs proves nothing. So the runbooks' default drills a cluster of their own:
this module starts it (etcd without fsync: the data is thrown away), seeds objects,
runs the drill, and removes the cluster and its snapshots in ``finally``, so a
failure mid-way leaves no process or state behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kubebook.dr.drill import Progress
from kubebook.errors import ParameterError

SEED_NAMESPACE = "dr-seed"


@contextmanager
def throwaway_cluster(name: str = "", topology: str = "single", nodes: int = 1,
                      progress: Progress | None = None) -> Iterator[Any]:
    """A fresh local cluster for the length of the block, purged afterwards whatever happens."""
    from kubebook.localcluster.manager import LocalCluster

    name = name or f"dr-{uuid.uuid4().hex[:6]}"
    lc = LocalCluster(name=name, topology=topology, nodes=nodes)
    if lc.load_state():
        raise ParameterError(f"local cluster {name!r} already exists; a throwaway cluster must be new",
                             hint=f"remove it with 'kubebook cluster down --purge --name {name}'")
    previous = os.environ.get("KUBEBOOK_UNSAFE_NO_FSYNC")
    os.environ["KUBEBOOK_UNSAFE_NO_FSYNC"] = "1"
    try:
        lc.up(progress=progress or (lambda _: None))
        yield lc
    finally:
        if previous is None:
            os.environ.pop("KUBEBOOK_UNSAFE_NO_FSYNC", None)
        else:
            os.environ["KUBEBOOK_UNSAFE_NO_FSYNC"] = previous
        lc.down(purge=True)


def seed(kube: Any, count: int, namespace: str = SEED_NAMESPACE, workers: int = 16) -> int:
    """``count`` ConfigMaps in ``namespace`` (created if missing), written in parallel."""
    if kube.get_object("v1", "Namespace", namespace) is None:
        kube.create_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})

    def one(index: int) -> None:
        kube.create_object({"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": f"seed-{index:05d}", "namespace": namespace,
                                         "labels": {"kubebook.io/dr-seed": "true"}},
                            "data": {"index": str(index), "payload": "x" * 64}})

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, range(count)))
    return count


def run_full_drill(*, seed_objects: int = 200, probe_objects: int = 3, topology: str = "single",
                   progress: Progress | None = None) -> dict[str, Any]:
    """The full-cluster drill on a throwaway cluster; returns the drill's JSON."""
    from kubebook import cluster as cluster_mod
    from kubebook.archive import Archive
    from kubebook.dr import drill

    if seed_objects < 0:
        raise ParameterError(f"seed_objects is {seed_objects}; use 0 or more")
    folder = Path(tempfile.mkdtemp(prefix="kubebook-dr-snapshots-"))
    try:
        with throwaway_cluster(topology=topology, progress=progress) as lc:
            kube = cluster_mod.connect(lc.kubeconfig)
            seed(kube, seed_objects)
            kube.api_client.close()
            result = drill.run_drill(lc.name, archive=Archive(folder), probe_objects=probe_objects,
                                     progress=progress)
            return result.as_json()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_member_loss(*, writes: int = 20, progress: Progress | None = None) -> dict[str, Any]:
    """The HA member-loss drill on a throwaway ha cluster; returns the drill's JSON."""
    from kubebook.dr import hadrill

    with throwaway_cluster(topology="ha", progress=progress) as lc:
        return hadrill.run_member_loss(lc.name, writes=writes, progress=progress).as_json()


def full_drill_action(cluster_name: str, *, archive: str = "", seed_objects: int = 200,
                      probe_objects: int = 3) -> Any:
    """What the mutation guard calls: the drill of ``cluster_name``, or of a throwaway cluster when empty."""
    from kubebook.archive import Archive
    from kubebook.dr import drill

    if not cluster_name:
        return lambda: run_full_drill(seed_objects=seed_objects, probe_objects=probe_objects)
    return lambda: drill.run_drill(cluster_name, archive=Archive(archive or None),
                                   probe_objects=probe_objects).as_json()


def member_loss_action(cluster_name: str, *, writes: int = 20) -> Any:
    """What the mutation guard calls: the member-loss drill of ``cluster_name``, or of a throwaway ha cluster."""
    from kubebook.dr import hadrill

    if not cluster_name:
        return lambda: run_member_loss(writes=writes)
    return lambda: hadrill.run_member_loss(cluster_name, writes=writes).as_json()
