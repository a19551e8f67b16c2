"""Drain time of a node with N pods (default 50): ``kubebook.lifecycle.drain`` against a bare baseline.

The baseline, measured in the same process against the same pods: cordon, then one eviction request
per pod (no dry-run pass, no PDB lookup, no lock), then wait until none of the pods is on the node,
which is what the drain waits for too. The difference is what the drain's safety costs: the lock
(two requests), the server-side dry-run pass (one request per pod) and the per-round pod list.
``kubectl drain`` of the same node is timed in the same run when a kubectl is found (the one
``kubebook cluster build`` built, else PATH). Rounds rotate the order of the modes so that a slower
or faster moment of the machine lands on each.

Setup, on the cluster of $KUBEBOOK_KUBECONFIG (or --kubeconfig): a Deployment of N pause pods pinned
to NODE by a nodeSelector in a scratch namespace; after each drain its replacements stay Pending
(the node is cordoned), an uncordon brings them back to NODE for the next round. The namespace is
deleted at the end. Prints each round, the medians and the ratio drain / baseline.

Usage::

    KUBEBOOK_KUBECONFIG=~/.local/share/kubebook/clusters/lifecycle/kubeconfig \\
        python benchmarks/lifecycle.py [--pods 50] [--rounds 3] [--node kwok-workload-0]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any

from kubebook.cluster import connect
from kubebook.lifecycle import drain
from kubebook.lifecycle.maintenance import evict, pods_on, set_unschedulable


def ready_on(cluster: Any, node: str, namespace: str) -> int:
    return sum(1 for p in pods_on(cluster, node) if p["metadata"]["namespace"] == namespace
               and not p["metadata"].get("deletionTimestamp")
               and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or []))


def wait_ready(cluster: Any, node: str, namespace: str, count: int, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while ready_on(cluster, node, namespace) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"{count} pods never became ready on {node}")
        time.sleep(0.5)


def baseline(cluster: Any, node: str) -> float:
    """Cordon, one eviction per pod, wait until they are gone: the least a drain can do."""
    started = time.monotonic()
    set_unschedulable(cluster, node, True)
    victims = [p for p in pods_on(cluster, node) if not p["metadata"].get("deletionTimestamp")]
    for pod in victims:
        status, message = evict(cluster, pod, dry_run=False, timeout=30)
        if status not in (201, 404):
            raise SystemExit(f"baseline eviction refused: {status} {message}")
    uids = {p["metadata"]["uid"] for p in victims}
    while uids & {p["metadata"]["uid"] for p in pods_on(cluster, node)}:
        time.sleep(0.25)
    return time.monotonic() - started


def kubectl_drain(kubectl: str, kubeconfig: str, node: str) -> float:
    """``kubectl drain`` of the same node (the issue's reference), timed from its start to its exit."""
    started = time.monotonic()
    subprocess.run([kubectl, "--kubeconfig", kubeconfig, "drain", node, "--ignore-daemonsets",
                    "--delete-emptydir-data", "--timeout=300s"], check=True, capture_output=True, timeout=320)
    return time.monotonic() - started


def find_kubectl() -> str | None:
    from kubebook.localcluster.paths import cache_dir

    built = sorted(cache_dir().glob("bin/kubernetes-v*/kubectl"))
    return str(built[-1]) if built else shutil.which("kubectl")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", default=None)
    parser.add_argument("--node", default="kwok-workload-0")
    parser.add_argument("--pods", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cluster = connect(args.kubeconfig)
    kubectl = find_kubectl()
    modes = ["drain", "baseline"] + (["kubectl"] if kubectl and cluster.kubeconfig else [])
    if len(modes) == 2:
        print("kubectl drain: NOT RUN (no kubectl built in the cache or on PATH, or no kubeconfig file)")
    namespace = f"bench-lifecycle-{uuid.uuid4().hex[:6]}"
    cluster.create_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    container = {"name": "p", "image": "registry.k8s.io/pause:3.10",
                 "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True, "runAsUser": 65535,
                                     "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}}
    cluster.create_object({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bench", "namespace": namespace},
        "spec": {"replicas": args.pods, "selector": {"matchLabels": {"app": "bench"}},
                 "template": {"metadata": {"labels": {"app": "bench"}},
                              "spec": {"nodeSelector": {"kubernetes.io/hostname": args.node},
                                       "containers": [container]}}}})
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    try:
        for round_ in range(args.rounds):
            for mode in modes[round_ % len(modes):] + modes[:round_ % len(modes)]:  # rotated each round
                set_unschedulable(cluster, args.node, False)
                wait_ready(cluster, args.node, namespace, args.pods)
                others = len(pods_on(cluster, args.node)) - args.pods
                if mode == "drain":
                    report = drain(cluster, args.node, confirm=args.node, timeout=300)
                    if report.exit_code != 0:
                        raise SystemExit(f"drain failed: {report.as_dict()}")
                    seconds = report.seconds
                elif mode == "kubectl":
                    seconds = kubectl_drain(str(kubectl), str(cluster.kubeconfig), args.node)
                else:
                    seconds = baseline(cluster, args.node)
                times[mode].append(seconds)
                print(f"round {round_ + 1} {mode:8s} {seconds:6.2f}s ({args.pods} pods, {others} others)",
                      flush=True)
    finally:
        set_unschedulable(cluster, args.node, False)
        cluster.delete_object("v1", "Namespace", namespace)
    d, b = statistics.median(times["drain"]), statistics.median(times["baseline"])
    print(f"median drain {d:.2f}s, baseline {b:.2f}s, ratio drain/baseline {d / b:.2f} ({args.pods} pods)")
    if times.get("kubectl"):
        k = statistics.median(times["kubectl"])
        print(f"median kubectl drain {k:.2f}s, ratio drain/kubectl {d / k:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
