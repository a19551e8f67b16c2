"""Apply of the prod baseline for 50 tenant namespaces (~1,000 objects): kubebook vs `kubectl apply --server-side`.

Against the cluster of ``$KUBEBOOK_KUBECONFIG`` (else the local ``default`` cluster).
The overlay is generated: the prod overlay plus N tenants, each the tenant base
(namespace, quota, limits, default-deny, DNS allow, personas, PDB templates) and a few
application ConfigMaps, so a tenant is 20 objects. The cluster-wide part (priority
classes, roles, admission policies) is applied once before timing; what is timed is
the namespaced objects, under fresh namespace names for every tool and round, with
the tools taking turns round by round so machine load hits both alike.

Printed: median first apply of each tool and their ratio (target: kubebook no slower,
ratio <= 1.0), and kubebook's no-op re-apply against its first apply (target >= 5x).

    python benchmarks/provision_apply.py [--tenants 50] [--rounds 3] [--keep]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from kubebook.cluster import connect
from kubebook.localcluster.build import binary
from kubebook.provision import apply, build_path
from kubebook.provision.build import manifests_root

CONFIGMAPS_PER_TENANT = 8


def generate(root: Path, tenants: int) -> Path:
    """A manifests copy whose overlay ``bench`` is prod plus ``tenants`` tenants of 20 objects."""
    manifests = manifests_root()
    subprocess.run(["cp", "-r", str(manifests), str(root)], check=True)
    overlay = root / "manifests" / "overlays" / "bench"
    (overlay / "app").mkdir(parents=True)
    (overlay / "app" / "kustomization.yaml").write_text("resources:\n- configmaps.yaml\n")
    (overlay / "app" / "configmaps.yaml").write_text("".join(
        f"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config-{i}\n"
        f"data:\n  setting: value-{i}\n" for i in range(CONFIGMAPS_PER_TENANT)))
    names = [f"t{i:03d}" for i in range(tenants)]
    for name in names:
        folder = overlay / "tenants" / name
        folder.mkdir(parents=True)
        (folder / "kustomization.yaml").write_text(
            f"namespace: bench-{name}\nresources:\n- ../../../../tenant\n- ../../app\n"
            f"labels:\n- pairs:\n    kubebook.io/environment: prod\n    kubebook.io/tenant: {name}\n")
    (overlay / "kustomization.yaml").write_text(
        "resources:\n- ../../base\n" + "".join(f"- tenants/{n}\n" for n in names) +
        "labels:\n- pairs:\n    app.kubernetes.io/managed-by: kubebook-provision\n"
        "    app.kubernetes.io/part-of: kubebook\n")
    return overlay


def renamed(objects: list[dict], prefix: str) -> list[dict]:
    """The namespaced objects moved to namespaces ``<prefix>-tNNN`` (so every timing starts from nothing)."""
    out = []
    for obj in objects:
        obj = copy.deepcopy(obj)
        meta = obj["metadata"]
        if obj["kind"] == "Namespace":
            meta["name"] = meta["name"].replace("bench-", f"{prefix}-", 1)
        elif meta.get("namespace"):
            meta["namespace"] = meta["namespace"].replace("bench-", f"{prefix}-", 1)
            for subject in obj.get("subjects") or []:
                if subject.get("namespace", "").startswith("bench-"):
                    subject["namespace"] = subject["namespace"].replace("bench-", f"{prefix}-", 1)
        else:
            continue
        out.append(obj)
    return out


def time_kubebook(cluster, objects: list[dict]) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    report = apply(cluster, objects)
    elapsed = time.perf_counter() - started
    assert report.complete, report.failed[:3]
    return elapsed


def time_kubectl(kubeconfig: str, objects: list[dict], workdir: Path) -> float:
    """`kubectl apply --server-side` of the same objects; namespaces first (kubectl does not order them)."""
    namespaces = [o for o in objects if o["kind"] == "Namespace"]
    rest = [o for o in objects if o["kind"] != "Namespace"]
    files = []
    for index, group in enumerate((namespaces, rest)):
        path = workdir / f"kubectl-{index}.yaml"
        path.write_text(yaml.safe_dump_all(group, sort_keys=False))
        files.append(path)
    kubectl = str(binary("kubectl"))
    started = time.perf_counter()
    for path in files:
        subprocess.run([kubectl, "--kubeconfig", kubeconfig, "apply", "--server-side", "--force-conflicts",
                        "--field-manager", "kubectl-bench", "-f", str(path)],
                       check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def cleanup(cluster, prefixes: list[str], tenants: int) -> None:  # type: ignore[no-untyped-def]
    for prefix in prefixes:
        for i in range(tenants):
            cluster.delete_object("v1", "Namespace", f"{prefix}-t{i:03d}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="leave the benchmark namespaces in place")
    args = parser.parse_args()
    kubeconfig = os.environ.get("KUBEBOOK_KUBECONFIG") or str(
        Path.home() / ".local/share/kubebook/clusters/default/kubeconfig")
    cluster = connect(kubeconfig)
    run = f"{int(time.time()) % 100000:05d}"
    prefixes: list[str] = []
    first = {"kubebook": [], "kubectl": []}
    noop = {"kubebook": [], "kubectl": []}
    with tempfile.TemporaryDirectory() as tmp:
        built = build_path(generate(Path(tmp), args.tenants))
        cluster_wide = [o for o in built.objects if not o["metadata"].get("namespace") and o["kind"] != "Namespace"
                        and "bench-" not in o["metadata"]["name"]]
        kube_system = [o for o in built.objects if o["metadata"].get("namespace") == "kube-system"]
        apply(cluster, cluster_wide + kube_system)  # not timed: shared by both tools
        per_round = len(renamed(built.objects, "x"))
        print(f"{args.tenants} tenants: {per_round} namespaced objects per apply "
              f"({len(built.objects)} in the overlay with the cluster-wide part)")
        try:
            for r in range(args.rounds):
                order = ["kubebook", "kubectl"] if r % 2 == 0 else ["kubectl", "kubebook"]
                for tool in order:
                    prefix = f"b{run}{tool[5]}{r}"
                    prefixes.append(prefix)
                    objects = renamed(built.objects, prefix)
                    if tool == "kubebook":
                        first[tool].append(time_kubebook(cluster, objects))
                        noop[tool].append(time_kubebook(cluster, objects))
                    else:
                        first[tool].append(time_kubectl(kubeconfig, objects, Path(tmp)))
                        noop[tool].append(time_kubectl(kubeconfig, objects, Path(tmp)))
                    print(f"round {r + 1} {tool:8} first apply {first[tool][-1]:6.2f} s, "
                          f"no-op re-apply {noop[tool][-1]:6.2f} s", flush=True)
        finally:
            if not args.keep:
                cleanup(cluster, prefixes, args.tenants)
    kb, kc = statistics.median(first["kubebook"]), statistics.median(first["kubectl"])
    kb_noop, kc_noop = statistics.median(noop["kubebook"]), statistics.median(noop["kubectl"])
    print(f"first apply, median of {args.rounds}: kubebook {kb:.2f} s, kubectl --server-side {kc:.2f} s, "
          f"ratio {kb / kc:.2f} (target <= 1.0: {'met' if kb <= kc else 'NOT met'})")
    print(f"no-op re-apply, median: kubebook {kb_noop:.2f} s ({kb / kb_noop:.1f}x faster than its first apply, "
          f"target >= 5x: {'met' if kb / kb_noop >= 5 else 'NOT met'}); kubectl {kc_noop:.2f} s "
          f"({kc / kc_noop:.1f}x)")


if __name__ == "__main__":
    main()
