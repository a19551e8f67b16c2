"""Detection throughput: events/s that ``kubebook.detect`` scans on one core, against json.loads alone.

Writes a synthetic audit log (default 200,000 events, ~1 KB each, the mix of a busy API server: gets,
lists and watches of many resources, controller writes with request bodies, about 1% that a rule fires
on), pins the process to one core, and times in the same process (a) the baseline: reading the same
lines and ``json.loads`` of each, and (b) ``kubebook.detect.scan`` with every rule. Prints both rates,
their ratio and the peak RSS. Target: >= 50,000 events/s.

Usage::

    python benchmarks/detect.py [--events 200000] [--repeat 3] [--gzip]
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import os
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path

from kubebook.detect import catalog
from kubebook.detect.scan import lines, open_log, scan

RESOURCES = ["pods", "configmaps", "services", "endpoints", "deployments", "replicasets", "nodes", "leases",
             "secrets", "serviceaccounts", "namespaces", "clusterroles", "rolebindings", "events"]
VERBS = ["get"] * 5 + ["list"] * 2 + ["watch"] * 2 + ["update", "patch", "create"]
USERS = ["system:kube-controller-manager", "system:kube-scheduler", "system:node:worker-1", "alice",
         "system:serviceaccount:kube-system:replicaset-controller"]


def synthetic_event(rng: random.Random, index: int) -> dict:
    event = copy.deepcopy(catalog.BASE_EVENT)
    resource = rng.choice(RESOURCES)
    verb = rng.choice(VERBS)
    event.update(auditID=f"{index:08d}-0000-0000-0000-000000000000", verb=verb,
                 user={"username": rng.choice(USERS), "groups": ["system:authenticated"]},
                 objectRef={"resource": resource, "namespace": rng.choice(["default", "kube-system", "prod"]),
                            "name": f"obj-{index % 997}", "apiVersion": "v1"},
                 requestURI=f"/api/v1/namespaces/default/{resource}/obj-{index % 997}",
                 annotations={"authorization.k8s.io/decision": "allow",
                              "authorization.k8s.io/reason": "RBAC: allowed by ClusterRoleBinding"})
    if verb in ("create", "update", "patch"):
        event["requestObject"] = {"metadata": {"name": f"obj-{index}", "labels": {"app": "web", "tier": "x"}},
                                  "spec": {"containers": [{"name": "c", "image": "registry/app:1.2.3",
                                                           "securityContext": {"runAsNonRoot": True}}]}}
    if rng.random() < 0.01:  # something a rule fires on
        event.update(verb="create", objectRef={"resource": "pods", "subresource": "exec", "namespace": "prod",
                                               "name": "web"})
    return event


def write_log(path: Path, count: int, compress: bool) -> int:
    rng = random.Random(26)
    opener = gzip.open if compress else open
    with opener(path, "wb") as out:  # type: ignore[operator]
        for index in range(count):
            out.write(json.dumps(synthetic_event(rng, index)).encode() + b"\n")
    return path.stat().st_size


def baseline(path: Path) -> int:
    count = 0
    with open_log(path) as handle:
        for raw in lines(handle):
            if raw:
                json.loads(raw)
                count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--gzip", action="store_true", help="scan a .gz rotation instead of a plain file")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    rules = catalog.catalogue()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("audit.log.gz" if args.gzip else "audit.log")
        size = write_log(path, args.events, args.gzip)
        base_times, scan_times, findings = [], [], 0
        for _ in range(args.repeat):
            started = time.perf_counter()
            assert baseline(path) == args.events
            base_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            result = scan([path], rules)
            scan_times.append(time.perf_counter() - started)
            assert result.scanned == args.events and result.corrupt == 0
            findings = len(result.findings)
    base, detect = statistics.median(base_times), statistics.median(scan_times)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"log: {args.events} events, {size / 1e6:.1f} MB{' (gzip)' if args.gzip else ''}, {len(rules)} rules, "
          f"{findings} findings")
    print(f"baseline json.loads: {args.events / base:,.0f} events/s")
    print(f"kubebook detect:     {args.events / detect:,.0f} events/s (target >= 50,000)")
    print(f"ratio detect/baseline time: {detect / base:.2f}x; peak RSS {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
