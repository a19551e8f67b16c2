"""Disaster-recovery benchmark: full-cluster drill RTO and namespace restore throughput.

1. Full-cluster drill on a throwaway local cluster seeded with ``--objects`` ConfigMaps
   (default 10,000): RTO from disaster declared to every object back; target <= 30 s
   (single). ``--ha`` drills an ha cluster too and reports it.
2. Namespace restore throughput against the local apiserver: a backup of ``--ns-objects``
   objects (ConfigMaps, Secrets, ServiceAccounts, Services) restored by kubebook (ordered,
   parallel) and, as the baseline, the very same objects created one by one by a plain
   sequential client in the same run, alternating round by round so machine load hits both
   alike. Target >= 200 objects/s (Velero's published figures are about 10 objects/s).

Prints one JSON object: measured values, targets and ratios (value/target for RTO, lower
is better; kubebook/baseline for throughput, higher is better).

    .venv/bin/python benchmarks/dr_restore.py [--objects 10000] [--ns-objects 1000] [--rounds 3] [--ha]
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kubebook import cluster as cluster_mod
from kubebook.archive import Archive
from kubebook.dr import backup, bundle, drill, restore, throwaway
from kubebook.errors import ApiError

RTO_TARGET = 30.0
THROUGHPUT_TARGET = 200.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def full_drill(objects: int, topology: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder, \
            throwaway.throwaway_cluster(name=f"bench-dr-{topology}", topology=topology, progress=log) as lc:
        kube = cluster_mod.connect(lc.kubeconfig)
        started = time.monotonic()
        throwaway.seed(kube, objects)
        log(f"seeded {objects} ConfigMaps in {time.monotonic() - started:.1f}s")
        kube.api_client.close()
        result = drill.run_drill(lc.name, archive=Archive(folder), probe_objects=3, progress=log).as_json()
    return {"topology": topology, "objects": result["expected"], "rto_seconds": result["rto_seconds"],
            "lost": len(result["lost"]), "created_after_snapshot": len(result["created_after_snapshot"]),
            "status": result["status"], "rto_target": RTO_TARGET,
            "ratio_to_target": round(result["rto_seconds"] / RTO_TARGET, 3)}


def _populate(kube: Any, namespace: str, count: int) -> None:
    kube.create_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    kinds = []
    for index in range(count):
        name = f"o{index:05d}"
        kind = index % 10
        if kind < 6:
            kinds.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
                          "data": {"i": str(index), "payload": "x" * 200}})
        elif kind < 8:
            kinds.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
                          "stringData": {"token": f"value-{index}"}})
        elif kind < 9:
            kinds.append({"apiVersion": "v1", "kind": "ServiceAccount",
                          "metadata": {"name": name, "namespace": namespace}})
        else:
            kinds.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
                          "spec": {"ports": [{"port": 80}], "selector": {"app": name}}})
    _create_parallel(kube, kinds)


def _create_parallel(kube: Any, objects: list[dict[str, Any]]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(kube.create_object, objects))


def sequential(kube: Any, objects: list[dict[str, Any]]) -> float:
    """The baseline: a plain client creating each object in turn (one that exists, like a namespace's
    default ServiceAccount, is skipped as kubebook's restore skips it)."""
    started = time.monotonic()
    for obj in objects:
        try:
            kube.create_object(obj)
        except ApiError as error:
            if error.status != 409:
                raise
    return time.monotonic() - started


def namespace_throughput(count: int, rounds: int) -> dict[str, Any]:
    key = base64.b64decode(bundle.new_key())
    with tempfile.TemporaryDirectory() as folder, \
            throwaway.throwaway_cluster(name="bench-dr-ns", progress=log) as lc:
        kube = cluster_mod.connect(lc.kubeconfig)
        _populate(kube, "source", count)
        export = backup.backup(kube, ["source"], Path(folder) / "source.tar.gz", key=key)
        log(f"backup of {export.objects} objects in {export.seconds:.1f}s")
        opened = bundle.read(export.path).opened(key)
        ours, base = [], []
        for round_index in range(rounds):
            mapping = {"source": f"kb-{round_index}"}
            result = restore.restore(kube, export.path, key=key, mapping=mapping)
            assert not result.failed, result.failed[:3]
            ours.append(len(result.outcomes) / result.seconds)
            target = f"seq-{round_index}"
            objects = sorted((restore.remap(o, {"source": target}) for o in opened), key=restore.step_of)
            base.append(len(objects) / sequential(kube, objects))
            log(f"round {round_index + 1}: kubebook {ours[-1]:.0f}/s, sequential {base[-1]:.0f}/s")
        kube.api_client.close()
    median_ours, median_base = statistics.median(ours), statistics.median(base)
    return {"objects": export.objects, "rounds": rounds, "kubebook_objects_per_second": round(median_ours, 1),
            "sequential_objects_per_second": round(median_base, 1), "target": THROUGHPUT_TARGET,
            "ratio_to_sequential": round(median_ours / median_base, 2),
            "ratio_to_target": round(median_ours / THROUGHPUT_TARGET, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000, help="objects in the full-cluster drill")
    parser.add_argument("--ns-objects", type=int, default=1000, help="objects in the namespace restore")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of the throughput comparison")
    parser.add_argument("--ha", action="store_true", help="drill an ha cluster too")
    parser.add_argument("--skip-drill", action="store_true", help="only the namespace restore throughput")
    parser.add_argument("--skip-namespace", action="store_true", help="only the full-cluster drill(s)")
    args = parser.parse_args()
    report: dict[str, Any] = {}
    if not args.skip_drill:
        report["drill_single"] = full_drill(args.objects, "single")
        if args.ha:
            report["drill_ha"] = full_drill(args.objects, "ha")
    if not args.skip_namespace:
        report["namespace_restore"] = namespace_throughput(args.ns_objects, args.rounds)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
