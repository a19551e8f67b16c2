"""Warm start of the local control plane: seconds until every component is healthy and N nodes Ready.

Binaries must be cached (``kubebook cluster build``). Each topology is started
``--repeat`` times from a purged state (fresh PKI, fresh etcd) and the median is
reported, with the ratio against the target (ratio <= 1.0 meets it). The peak RSS
of all cluster processes is sampled every 100 ms from start until 5 s after Ready.

    python benchmarks/cluster_start.py [--nodes 3] [--repeat 3] [--topology single ha]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import threading
import time
from pathlib import Path

from kubebook.localcluster.manager import LocalCluster
from kubebook.localcluster.processes import ProcessRecord, is_alive

TARGET_SECONDS = {"single": 15.0, "ha": 30.0}
TARGET_RSS_GB = {"single": 1.5}


def cluster_rss_bytes(lc: LocalCluster) -> int:
    total = 0
    for record in lc.load_state().get("components", {}).values():
        if not is_alive(ProcessRecord(**record)):
            continue
        try:
            status = Path(f"/proc/{record['pid']}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


def measure(topology: str, nodes: int) -> tuple[float, int]:
    lc = LocalCluster(name=f"bench-{topology}", topology=topology, nodes=nodes)
    lc.down(purge=True)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            with contextlib.suppress(Exception):  # state.json may be mid-write; the next sample reads it
                peak = max(peak, cluster_rss_bytes(lc))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    status = lc.up()
    elapsed = time.monotonic() - started
    assert status["healthy"] and status["nodes_ready"] >= nodes, status
    time.sleep(5)
    stop.set()
    sampler.join()
    lc.down(purge=True)
    return elapsed, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--topology", nargs="+", default=["single", "ha"], choices=sorted(TARGET_SECONDS))
    args = parser.parse_args()
    for topology in args.topology:
        runs = [measure(topology, args.nodes) for _ in range(args.repeat)]
        seconds = statistics.median(r[0] for r in runs)
        rss_gb = max(r[1] for r in runs) / 1e9
        line = (f"{topology:6} warm start to healthy + {args.nodes} nodes Ready: median {seconds:.1f}s "
                f"(runs {', '.join(f'{r[0]:.1f}' for r in runs)}), target {TARGET_SECONDS[topology]:.0f}s, "
                f"ratio {seconds / TARGET_SECONDS[topology]:.2f}; peak RSS {rss_gb:.2f} GB")
        if topology in TARGET_RSS_GB:
            line += f" (target {TARGET_RSS_GB[topology]} GB, ratio {rss_gb / TARGET_RSS_GB[topology]:.2f})"
        print(line, flush=True)


if __name__ == "__main__":
    main()
