"""Lab timings on the cluster of $KUBEBOOK_KUBECONFIG: step verify p95 <= 2 s, reset <= 10 s.

For every lab: reset (timed), then ``--rounds`` checks of every step on the starting state
and again after the reference solution (so both the failing and the passing path of every
probe are timed). Baselines measured in the same run, alternating with the labs:

* verify: ``kubectl auth can-i --as ...`` (a process per question, what CKS practice labs
  run) against one impersonated ``request`` probe;
* reset: creating and deleting an empty namespace (the floor of any namespace-based reset).

Usage: ``python benchmarks/labs.py [--rounds 5] [--labs id,id]``. Progress and workspaces go to a
temporary folder. Prints per-lab figures, then the p95/max against the targets and baselines.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

VERIFY_TARGET, RESET_TARGET = 2.0, 10.0


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def kubectl_binary() -> str | None:
    from kubebook.localcluster import build

    try:
        return str(build.binary("kubectl"))
    except Exception:
        return None


def baseline_can_i(kubectl: str, kubeconfig: str) -> float:
    began = time.perf_counter()
    subprocess.run([kubectl, "--kubeconfig", kubeconfig, "auth", "can-i", "create", "deployments.apps", "-n",
                    "lab-rbac", "--as", "system:serviceaccount:lab-rbac:ci-deployer"],
                   capture_output=True, timeout=60, check=False)
    return time.perf_counter() - began


def baseline_namespace(cluster: object) -> float:
    from kubebook.labs.engine import _wait_gone

    name = f"bench-{uuid.uuid4().hex[:8]}"
    began = time.perf_counter()
    cluster.apply_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},  # type: ignore[attr-defined]
                         field_manager="bench")
    cluster.request("DELETE", f"/api/v1/namespaces/{name}")  # type: ignore[attr-defined]
    _wait_gone(cluster, [("v1", "Namespace", name, None)], 120)  # type: ignore[arg-type]
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--labs", help="comma-separated lab ids (default: all)")
    args = parser.parse_args()
    os.environ.setdefault("KUBEBOOK_LABS_DIR", tempfile.mkdtemp(prefix="kubebook-labs-bench-"))

    from kubebook import labs
    from kubebook.cluster import connect
    from kubebook.labs import engine, model

    cluster = connect()
    kubeconfig = str(cluster.kubeconfig)
    kubectl = kubectl_binary()
    chosen = args.labs.split(",") if args.labs else list(model.catalog())
    verify_times: list[float] = []
    resets: list[float] = []
    can_i: list[float] = []
    impersonated: list[float] = []
    namespace_floor: list[float] = []
    print(f"{'lab':28} {'reset s':>8} {'verify p50':>11} {'verify p95':>11} {'slowest step':>24}")
    for lab_id in chosen:
        lab = model.get(lab_id)
        began = time.perf_counter()
        labs.reset(cluster, lab.id, who="bench")
        resets.append(time.perf_counter() - began)
        namespace_floor.append(baseline_namespace(cluster))
        ctx = engine.context(cluster, lab, "bench")
        per_step: dict[str, list[float]] = {s.id: [] for s in lab.steps}
        for phase in ("start", "solved"):
            if phase == "solved":
                labs.solve(cluster, lab.id, who="bench")
                labs.check(cluster, lab.id, who="bench", wait=30, record=False)
            for _ in range(args.rounds):
                for step in lab.steps:
                    t0 = time.perf_counter()
                    engine.verify_step(ctx, step)
                    per_step[step.id].append(time.perf_counter() - t0)
        mine = [t for times in per_step.values() for t in times]
        verify_times += mine
        slowest = max(per_step, key=lambda s: p95(per_step[s]))
        print(f"{lab.id:28} {resets[-1]:8.2f} {statistics.median(mine):11.3f} {p95(mine):11.3f} "
              f"{slowest:>18} {p95(per_step[slowest]):5.2f}")
    if kubectl and "rbac-least-privilege" in chosen:
        lab = model.get("rbac-least-privilege")
        ctx = engine.context(cluster, lab, "bench")
        probe = lab.steps[0].verify[0]
        for _ in range(max(args.rounds, 5)):  # alternate, so machine load hits both alike
            can_i.append(baseline_can_i(kubectl, kubeconfig))
            t0 = time.perf_counter()
            engine.ALL_PROBES["request"](ctx, **{k: v for k, v in probe.items() if k not in ("probe", "fail")})
            impersonated.append(time.perf_counter() - t0)
    print()
    print(f"step verify: {len(verify_times)} verifies, p50 {statistics.median(verify_times):.3f} s, "
          f"p95 {p95(verify_times):.3f} s, max {max(verify_times):.3f} s; target p95 <= {VERIFY_TARGET} s, "
          f"ratio {p95(verify_times) / VERIFY_TARGET:.2f}")
    floor = statistics.median(namespace_floor)
    print(f"reset: median {statistics.median(resets):.2f} s, max {max(resets):.2f} s; target <= {RESET_TARGET} s, "
          f"ratio {max(resets) / RESET_TARGET:.2f}; baseline empty-namespace create+delete median "
          f"{floor:.2f} s (reset/baseline {statistics.median(resets) / floor:.2f})")
    if can_i:
        print(f"one impersonated request probe: median {statistics.median(impersonated) * 1000:.0f} ms; "
              f"'kubectl auth can-i --as' median {statistics.median(can_i) * 1000:.0f} ms "
              f"(probe/kubectl {statistics.median(impersonated) / statistics.median(can_i):.2f})")
    for lab_id in chosen:
        labs.reset(cluster, lab_id, who="bench")
    print(f"(labs reset to their starting state; progress in {Path(os.environ['KUBEBOOK_LABS_DIR'])})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
