"""The real worker node: pod start latency against the Kubernetes SLO, and warm start against KWOK-only.

(a) ``pods``: on a local cluster with a real node (started as ``rn-bench`` unless --cluster names a
    running one), create N busybox pods on the real node (``--batch`` at a time) and measure, per
    pod, the time from its create call returning to the watch event that shows it Running. Prints
    p50/p99 and the ratio of p99 to the pod-startup SLO (p99 <= 5 s for stateless pods, image
    pulls included here: AlwaysPullImages sends every pull to the loopback registry).
(b) ``warm``: two clusters made once (``rn-bench-kwok``: 1 KWOK node; ``rn-bench-real``: 1 KWOK node
    + the real node), then rounds of ``down`` + ``up`` (state kept) alternating between them, so
    machine load hits both alike. Prints the median warm start of each and their ratio.

Usage::

    python benchmarks/real_node.py pods [--pods 50] [--batch 10] [--cluster NAME]
    python benchmarks/real_node.py warm [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
import uuid

from kubernetes import client, watch

from kubebook import cluster as cluster_mod
from kubebook.localcluster.manager import LocalCluster

SLO_SECONDS = 5.0
TOLERATION = client.V1Toleration(key="kubebook.io/real-node", operator="Exists", effect="NoSchedule")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def _pod(name: str, image: str) -> client.V1Pod:
    context = client.V1SecurityContext(
        allow_privilege_escalation=False, run_as_non_root=True, run_as_user=10001,
        capabilities=client.V1Capabilities(drop=["ALL"]),
        seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault"))
    return client.V1Pod(metadata=client.V1ObjectMeta(name=name, labels={"kubebook.io/benchmark": "real-node"}),
                        spec=client.V1PodSpec(
                            containers=[client.V1Container(name="main", image=image, command=["sleep", "3600"],
                                                           security_context=context)],
                            tolerations=[TOLERATION], node_selector={"kubebook.io/node-type": "real"},
                            termination_grace_period_seconds=0))


def pod_start(lc: LocalCluster, pods: int, batch: int) -> list[float]:
    kube = cluster_mod.connect(lc.kubeconfig)
    image = lc.load_state()["real_node"]["images"]["busybox"]
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    kube.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    created: dict[str, float] = {}
    running: dict[str, float] = {}
    ready = threading.Event()

    def observe() -> None:
        stream = watch.Watch()
        for event in stream.stream(kube.core.list_namespaced_pod, namespace, timeout_seconds=900):
            pod = event["object"]
            if pod.status.phase == "Running" and pod.metadata.name not in running:
                running[pod.metadata.name] = time.monotonic()
                if len(running) >= pods:
                    stream.stop()
        ready.set()

    watcher = threading.Thread(target=observe, daemon=True)
    watcher.start()
    time.sleep(0.5)
    try:
        for start in range(0, pods, batch):
            names = [f"p-{index}" for index in range(start, min(pods, start + batch))]
            for name in names:
                kube.core.create_namespaced_pod(namespace, _pod(name, image))
                created[name] = time.monotonic()
            deadline = time.monotonic() + 300
            while not all(n in running for n in names) and time.monotonic() < deadline:
                time.sleep(0.1)
        ready.wait(timeout=60)
    finally:
        kube.core.delete_namespace(namespace, grace_period_seconds=0)
    missing = sorted(set(created) - set(running))
    if missing:
        print(f"{len(missing)} pods never Running: {missing[:5]}", file=sys.stderr)
    return [running[name] - created[name] for name in created if name in running]


def warm_start(rounds: int) -> None:
    clusters = {"kwok-only": LocalCluster(name="rn-bench-kwok", nodes=1, real_nodes=0),
                "real-node": LocalCluster(name="rn-bench-real", nodes=1, real_nodes=1)}
    times: dict[str, list[float]] = {name: [] for name in clusters}
    try:
        for lc in clusters.values():
            lc.up()
            lc.down()
        for round_number in range(rounds):
            order = list(clusters) if round_number % 2 == 0 else list(reversed(clusters))
            for label in order:
                lc = clusters[label]
                started = time.monotonic()
                lc.up()
                times[label].append(time.monotonic() - started)
                lc.down()
            print(f"round {round_number + 1}: " + ", ".join(f"{k} {v[-1]:.1f}s" for k, v in times.items()))
    finally:
        for lc in clusters.values():
            lc.down(purge=True)
    kwok, real = statistics.median(times["kwok-only"]), statistics.median(times["real-node"])
    print(f"warm start median: KWOK-only {kwok:.1f}s, with the real node {real:.1f}s; ratio {real / kwok:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("pods")
    p.add_argument("--pods", type=int, default=50)
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--cluster", default=None, help="a running local cluster with a real node")
    w = sub.add_parser("warm")
    w.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("KUBEBOOK_UNSAFE_NO_FSYNC", "1")
    if args.mode == "warm":
        warm_start(args.rounds)
        return 0
    own = args.cluster is None
    lc = LocalCluster(name=args.cluster or "rn-bench", nodes=1, real_nodes=None if args.cluster else 1)
    if own:
        lc.up()
    try:
        latencies = pod_start(lc, args.pods, args.batch)
    finally:
        if own:
            lc.down(purge=True)
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    print(f"pod start to Running on the real node, {len(latencies)} pods in batches of {args.batch}: "
          f"p50 {p50:.2f}s, p99 {p99:.2f}s, max {max(latencies):.2f}s")
    print(f"p99 / SLO (5 s) = {p99 / SLO_SECONDS:.2f} ({'met' if p99 <= SLO_SECONDS else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
