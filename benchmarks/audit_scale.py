"""Audit at scale: live-cluster audit vs a plain list, and manifest audit vs checkov, kube-score, Trivy and Polaris.

(a) ``live``: on the cluster of $KUBEBOOK_KUBECONFIG (or --kubeconfig), create KWOK
    nodes, namespaces, pods bound to those nodes and RoleBindings (concurrently, all
    labelled kubebook.io/benchmark=audit-scale), then in a fresh process time a full
    ``run_audit(AuditInventory.from_cluster(...))`` against merely listing the same
    kinds with the same client, page size and concurrency. Prints the ratio (target
    <= 1.5) and the measuring process's peak RSS (target < 2 GB), then deletes what it
    created (--keep leaves it).
(b) ``manifests``: generate a manifest corpus (default 1,200 objects), then time
    ``kubebook audit --manifests`` and each other tool on the same files in the same
    run. checkov is pip-installed into its own venv under ~/.cache/kubebook/tools,
    kube-score and Polaris are ``go install``ed from the Go module proxy into
    ~/.cache/kubebook/tools/bin; Trivy (``trivy config``, its built-in checks only,
    ``--skip-check-update``) is the binary ``--build-trivy`` builds from the module proxy
    into ~/.cache/kubebook/trivy/v0.74.0 (a long build, never part of ``make test``); a
    tool that cannot be installed or needs the network is reported NOT RUN with the
    exact error. Besides the times, each tool's failing findings on the corpus are
    counted from its JSON output. Target: faster than kube-score, >= 20x faster than checkov.

Usage::

    python benchmarks/audit_scale.py manifests [--objects 1200] [--repeat 3] [--build-trivy]
    python benchmarks/audit_scale.py live [--nodes 2000 --pods 50000 --namespaces 500 --bindings 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

TOOLS = Path(os.environ.get("KUBEBOOK_CACHE_DIR", Path.home() / ".cache" / "kubebook")) / "tools"
LABEL = {"kubebook.io/benchmark": "audit-scale"}
SELECTOR = "kubebook.io/benchmark=audit-scale"
GO_TOOLS = {"kube-score": "github.com/zegl/kube-score/cmd/kube-score@latest",
            "polaris": "github.com/fairwindsops/polaris@latest"}
TRIVY_VERSION = "v0.74.0"
TRIVY_MODULE = f"github.com/aquasecurity/trivy/cmd/trivy@{TRIVY_VERSION}"
TRIVY_DIR = TOOLS.parent / "trivy" / TRIVY_VERSION
TRIVY_LOG = TOOLS.parent / "logs" / f"trivy-{TRIVY_VERSION}-build.log"
# Trivy's sources import encoding/json/v2, which Go 1.25/1.26 only build with this experiment (its Makefile sets it).
TRIVY_ENV = {"GOEXPERIMENT": "jsonv2", "GOTOOLCHAIN": "local"}


# --- (b) manifests ----------------------------------------------------------------------------------------

def _container(i: int, hardened: bool) -> dict[str, Any]:
    c: dict[str, Any] = {"name": "app", "image": f"registry.example.com/team/app-{i % 7}:1.{i % 5}",
                         "ports": [{"containerPort": 8080}],
                         "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}}
    if hardened:
        c["securityContext"] = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]}}
        c["livenessProbe"] = c["readinessProbe"] = {"httpGet": {"path": "/healthz", "port": 8080}}
    elif i % 3 == 0:
        c["image"] = "nginx:latest"
        c["securityContext"] = {"privileged": True}
    elif i % 3 == 1:
        c["securityContext"] = {"capabilities": {"add": ["NET_ADMIN"]}, "runAsUser": 0}
    return c


def _pod_spec(i: int) -> dict[str, Any]:
    hardened = i % 2 == 0
    spec: dict[str, Any] = {"serviceAccountName": f"app-{i}", "containers": [_container(i, hardened)]}
    if hardened:
        spec["securityContext"] = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
        spec["automountServiceAccountToken"] = False
    elif i % 4 == 1:
        spec["hostNetwork"] = True
        spec["volumes"] = [{"name": "host", "hostPath": {"path": "/var/run"}}]
    return spec


def app_objects(i: int) -> list[dict[str, Any]]:
    """Twelve objects of one application: namespace, identity, RBAC, policy, config and workloads."""
    ns, app = f"team-{i}", f"app-{i}"
    labels = {"app": app}
    template = {"metadata": {"labels": labels}, "spec": _pod_spec(i)}
    meta = {"namespace": ns, "labels": labels}
    objects = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {
            "pod-security.kubernetes.io/enforce": "restricted" if i % 2 == 0 else "privileged"}}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": app, **meta}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{app}-config", **meta},
         "data": {"MODE": "production"}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": app, **meta},
         "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": app, **meta},
         "spec": {"replicas": 2, "selector": {"matchLabels": labels}, "template": template}},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": f"{app}-db", **meta},
         "spec": {"serviceName": app, "selector": {"matchLabels": labels}, "template": template}},
        {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": f"{app}-report", **meta},
         "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {
             "metadata": template["metadata"], "spec": {**template["spec"], "restartPolicy": "OnFailure"}}}}}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": f"{app}-reader", **meta},
         "rules": [{"apiGroups": [""], "resources": ["configmaps"] if i % 3 else ["secrets", "pods/exec"],
                    "verbs": ["get", "list"] if i % 5 else ["*"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": f"{app}-reader", **meta},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": f"{app}-reader"},
         "subjects": [{"kind": "ServiceAccount", "name": app, "namespace": ns}]},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "default-deny", **meta},
         "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}},
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": f"{app}-agent", **meta},
         "spec": {"selector": {"matchLabels": labels}, "template": template}},
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": f"{app}-migrate", **meta},
         "spec": {"template": {"metadata": template["metadata"],
                               "spec": {**template["spec"], "restartPolicy": "Never"}}}},
    ]
    return objects


def write_corpus(directory: Path, objects: int) -> list[Path]:
    """One multi-document file per application, Helm-style '# Source:' headers included."""
    files = []
    for i in range((objects + 11) // 12):
        path = directory / f"app-{i:04d}.yaml"
        docs = [f"# Source: app/templates/{o['kind'].lower()}.yaml\n" + yaml.safe_dump(o, sort_keys=False)
                for o in app_objects(i)]
        path.write_text("---\n" + "---\n".join(docs))
        files.append(path)
    return files


def _run(argv: list[str], timeout: float, stdout: Path | None = None) -> tuple[float, int | None, str]:
    """Wall time, exit code (None when killed at ``timeout``) and the end of stderr; stdout goes to ``stdout``."""
    start = time.perf_counter()
    with open(stdout or os.devnull, "w") as sink:
        try:
            done = subprocess.run(argv, stdout=sink, stderr=subprocess.PIPE, text=True, check=False,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            return time.perf_counter() - start, None, f"killed after {timeout:.0f} s"
    return time.perf_counter() - start, done.returncode, done.stderr[-600:]


def ensure_checkov() -> tuple[Path | None, str]:
    binary = TOOLS / "checkov-venv" / "bin" / "checkov"
    if binary.exists():
        return binary, ""
    venv = TOOLS / "checkov-venv"
    steps = [[sys.executable, "-m", "venv", str(venv)], [str(venv / "bin" / "pip"), "install", "-q", "checkov"]]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode:
            return None, f"{' '.join(step)} failed ({done.returncode}): {done.stderr.strip()[-800:]}"
    return binary, ""


def ensure_go_tool(name: str) -> tuple[Path | None, str]:
    binary = TOOLS / "bin" / name
    if binary.exists():
        return binary, ""
    if not shutil.which("go"):
        return None, "no go toolchain on PATH"
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOBIN": str(TOOLS / "bin")}
    argv = ["go", "install", GO_TOOLS[name]]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if done.returncode:
        return None, f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()[-800:]}"
    return binary, ""


def build_trivy(timeout: float) -> None:
    """``go install`` Trivy into TRIVY_DIR (niced), its output kept in TRIVY_LOG for the NOT RUN reason."""
    TRIVY_LOG.parent.mkdir(parents=True, exist_ok=True)
    argv = ["nice", "-n", "15", "go", "install", TRIVY_MODULE]
    env = {**os.environ, **TRIVY_ENV, "GOBIN": str(TRIVY_DIR)}
    start = time.monotonic()
    try:
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False, timeout=timeout)
        outcome = f"exit status {done.returncode}\n{done.stderr[-3000:]}"
    except subprocess.TimeoutExpired:
        outcome = f"killed after {timeout:.0f} s"
    TRIVY_LOG.write_text(f"$ GOEXPERIMENT=jsonv2 GOTOOLCHAIN=local GOBIN={TRIVY_DIR} {' '.join(argv)}\n"
                         f"{outcome}\n({time.monotonic() - start:.0f} s)\n")


def ensure_trivy(corpus: Path) -> tuple[Path | None, str]:
    """The Trivy binary when it is built and its built-in checks run offline; else why not."""
    binary = TRIVY_DIR / "trivy"
    if not binary.exists():
        log = TRIVY_LOG.read_text().strip().splitlines() if TRIVY_LOG.exists() else []
        last = " | ".join(line for line in log[-4:] if line.strip()) or "never built (pass --build-trivy)"
        return None, f"no {binary}: {last}"
    # one file, a short timeout: a scan that reaches for the network (checks bundle, cache) fails here
    probe = next(iter(sorted(corpus.glob("*.yaml"))))
    with tempfile.TemporaryDirectory(prefix="kubebook-trivy-cache-") as cache:
        argv = [str(binary), "config", "--skip-check-update", "--cache-dir", cache, "--format", "json", "--quiet",
                str(probe)]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
        except subprocess.TimeoutExpired:
            return None, f"{' '.join(argv)} did not finish in 120 s (waiting for the network?)"
    if done.returncode != 0 or '"Misconfigurations"' not in done.stdout:
        return None, f"{' '.join(argv)} failed offline ({done.returncode}): {done.stderr.strip()[-600:]}"
    return binary, ""


def count_findings(tool: str, output: str) -> tuple[int, int] | None:
    """(failing findings, distinct failing check ids) in a tool's JSON output; None when it cannot be read."""
    try:
        data = json.loads(output)
    except json.JSONDecodeError:
        return None
    failed: list[str] = []
    if tool == "kubebook":
        failed = [f["check"] for f in data.get("findings", []) if f.get("result") == "FAIL"]
    elif tool == "checkov":
        reports = data if isinstance(data, list) else [data]
        failed = [c.get("check_id", "") for r in reports for c in (r.get("results") or {}).get("failed_checks", [])]
    elif tool == "kube-score":
        failed = [c.get("check", {}).get("id", "") for obj in data or [] for c in obj.get("checks") or []
                  if not c.get("skipped") and c.get("grade", 10) < 10]
    elif tool == "trivy":
        failed = [m.get("ID", "") for r in data.get("Results") or [] for m in r.get("Misconfigurations") or []
                  if m.get("Status") == "FAIL"]
    elif tool == "polaris":
        return None
    return len(failed), len(set(failed))


def bench_manifests(args: argparse.Namespace) -> int:
    TOOLS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kubebook-audit-corpus-") as tmp:
        corpus = Path(tmp)
        files = write_corpus(corpus, args.objects)
        count = sum(len(app_objects(0)) for _ in files)
        print(f"corpus: {count} objects in {len(files)} files under {corpus}")
        outputs = Path(tempfile.mkdtemp(prefix="kubebook-audit-outputs-"))
        commands: dict[str, list[str]] = {
            "kubebook": [sys.executable, "-m", "kubebook.cli", "audit", "--manifests", str(corpus),
                         "--format", "json", "--fail-on", "critical"]}
        notes = {}
        checkov, problem = ensure_checkov() if args.checkov_repeat > 0 else (None, "skipped (--checkov-repeat 0)")
        if checkov:
            commands["checkov"] = [str(checkov), "-d", str(corpus), "--framework", "kubernetes", "--quiet",
                                   "--compact", "-o", "json", "--skip-download"]
        else:
            notes["checkov"] = problem
        for tool in GO_TOOLS:
            binary, problem = ensure_go_tool(tool)
            if binary is None:
                notes[tool] = problem
            elif tool == "kube-score":
                commands[tool] = [str(binary), "score", "--output-format", "json", *map(str, files)]
            else:
                commands[tool] = [str(binary), "audit", "--audit-path", str(corpus), "--format", "json"]
        if args.build_trivy and not (TRIVY_DIR / "trivy").exists():
            build_trivy(args.trivy_build_timeout)
        trivy, problem = ensure_trivy(corpus)
        if trivy is None:
            notes["trivy"] = problem
        else:
            commands["trivy"] = [str(trivy), "config", "--skip-check-update", "--cache-dir", str(outputs / "cache"),
                                 "--format", "json", "--quiet", str(corpus)]
        # Round-robin: every round runs each tool once, so load drift on a shared machine hits all alike.
        runs: dict[str, list[float]] = {tool: [] for tool in commands}
        codes: dict[str, list[int | None]] = {tool: [] for tool in commands}
        for round_number in range(max(args.repeat, args.checkov_repeat)):
            for tool, argv in commands.items():
                if round_number >= (args.checkov_repeat if tool == "checkov" else args.repeat):
                    continue
                seconds, code, err = _run(argv, args.timeout, outputs / f"{tool}.json")
                if tool == "kubebook" and code not in (0, 1):
                    print(f"kubebook failed ({code}): {err}")
                    return 2
                runs[tool].append(seconds)
                codes[tool].append(code)
        times: dict[str, float] = {}
        for tool in commands:
            times[tool] = statistics.median(runs[tool])
            killed = " - KILLED at the timeout, a lower bound" if None in codes[tool] else ""
            print(f"{tool:<11} {times[tool]:8.2f} s  (median of {len(runs[tool])}: "
                  + ", ".join(f"{r:.2f}" for r in runs[tool]) + f"; exit codes {codes[tool]}{killed})", flush=True)
        for tool, problem in notes.items():
            print(f"{tool:<11} NOT RUN: {problem}")
        base, best = times["kubebook"], min(runs["kubebook"])
        for tool, seconds in times.items():
            if tool != "kubebook":  # best-of-each too: on a shared machine load bursts hit single runs
                print(f"ratio {tool}/kubebook = {seconds / base:.1f}x median, "
                      f"{min(runs[tool]) / best:.1f}x best-of-each")
        found: dict[str, Any] = {}
        for tool in commands:
            path = outputs / f"{tool}.json"
            found[tool] = count_findings(tool, path.read_text(errors="replace")) if path.exists() else None
            counted = found[tool]
            print(f"findings {tool:<11} " + (f"{counted[0]} failing, {counted[1]} distinct checks" if counted
                                              else "(output not readable)"))
        shutil.rmtree(outputs, ignore_errors=True)
        print(json.dumps({"objects": count, "times_s": times, "failing_findings": found, "not_run": notes}))
    return 0


# --- (a) live cluster ----------------------------------------------------------------------------------

POD_VARIANTS = [
    {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
     "containers": [{"name": "app", "image": "registry.example.com/app:1.2", "securityContext": {
         "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
         "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "32Mi"}}}]},
    {"containers": [{"name": "app", "image": "nginx:latest"}]},
    {"containers": [{"name": "app", "image": "busybox", "securityContext": {"privileged": True}}],
     "volumes": [{"name": "h", "hostPath": {"path": "/var/log"}}]},
    {"hostNetwork": True, "containers": [{"name": "app", "image": "registry.example.com/agent:3",
                                          "ports": [{"containerPort": 9100}]}]},
    {"initContainers": [{"name": "init", "image": "busybox:1.36", "securityContext": {"runAsUser": 0}}],
     "containers": [{"name": "app", "image": "registry.example.com/app:1.2",
                     "env": [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}]}]},
]


def _create_all(fn: Any, bodies: list[Any], workers: int, what: str) -> None:
    start = time.perf_counter()
    errors: list[str] = []

    def one(body: Any) -> None:
        try:
            fn(body)
        except Exception as error:  # report, keep going: a benchmark with a few missing objects still measures
            if getattr(error, "status", None) != 409:
                errors.append(f"{type(error).__name__}: {str(error)[:200]}")

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, bodies))
    elapsed = time.perf_counter() - start
    print(f"created {len(bodies) - len(errors)} {what} in {elapsed:.1f} s ({len(bodies) / elapsed:.0f}/s)"
          + (f", {len(errors)} errors, first: {errors[0]}" if errors else ""), flush=True)


def populate(kube: Any, args: argparse.Namespace) -> None:
    nodes = [f"bench-kwok-{i}" for i in range(args.nodes)]
    namespaces = [f"bench-audit-{i}" for i in range(args.namespaces)]
    resources_ = {"cpu": "64", "memory": "256Gi", "pods": "1000"}
    _create_all(lambda name: kube.core.create_node({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {**LABEL, "type": "kwok", "kubernetes.io/os": "linux"},
                     "annotations": {"kwok.x-k8s.io/node": "fake"}},
        "status": {"allocatable": resources_, "capacity": resources_}}, _preload_content=False),
        nodes, args.workers, "KWOK nodes")
    _create_all(lambda name: kube.core.create_namespace({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {
            **LABEL, "pod-security.kubernetes.io/enforce": "privileged"}}}, _preload_content=False),
        namespaces, args.workers, "namespaces")
    pods = [(namespaces[i % len(namespaces)], f"pod-{i}", i) for i in range(args.pods)]
    _create_all(lambda item: kube.core.create_namespaced_pod(item[0], {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": item[1], "labels": {**LABEL, "variant": str(item[2] % len(POD_VARIANTS))}},
        "spec": {**POD_VARIANTS[item[2] % len(POD_VARIANTS)], "nodeName": nodes[item[2] % len(nodes)],
                 "automountServiceAccountToken": False}}, _preload_content=False),
        pods, args.workers, "pods")
    roles = ["view", "edit", "admin"]
    bindings = [(namespaces[i % len(namespaces)], i) for i in range(args.bindings)]
    _create_all(lambda item: kube.rbac.create_namespaced_role_binding(item[0], {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": f"bench-{item[1]}", "labels": LABEL},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": roles[item[1] % 3]},
        "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": item[0]} if item[1] % 2 else
                     {"kind": "User", "name": f"dev-{item[1] % 97}", "apiGroup": "rbac.authorization.k8s.io"}]},
        _preload_content=False), bindings, args.workers, "RoleBindings")


def cleanup(kube: Any, wait_s: float, workers: int = 8) -> None:
    """Force-delete the benchmark's pods (no kubelet needs to confirm them), then namespaces, then nodes.

    Deleting the nodes first would leave the pods waiting for the pod garbage
    collector; deleting namespaces alone waits for KWOK to finish every pod.
    """
    start = time.perf_counter()
    names = [ns.metadata.name for ns in kube.core.list_namespace(label_selector=SELECTOR).items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda ns: kube.core.delete_collection_namespaced_pod(
            ns, grace_period_seconds=0, _preload_content=False), names))
        list(pool.map(lambda ns: kube.core.delete_namespace(ns, _preload_content=False), names))
    kube.core.delete_collection_node(label_selector=SELECTOR, _preload_content=False)
    while time.perf_counter() - start < wait_s:
        if not kube.core.list_namespace(label_selector=SELECTOR).items:
            break
        time.sleep(3)
    left = len(kube.core.list_namespace(label_selector=SELECTOR).items)
    print(f"cleanup: pods, namespaces and nodes deleted in {time.perf_counter() - start:.0f} s"
          + (f" ({left} namespaces still terminating)" if left else ""), flush=True)


def measure(args: argparse.Namespace) -> int:
    """Run in a fresh process: time plain lists and full audits alternately; print one JSON line.

    One warm-up list is discarded (connection setup, apiserver watch-cache warmth),
    then ``rounds`` list/audit pairs alternate so drift on a busy machine hits both.
    Afterwards each engine is timed on the last inventory to show where audit time goes.
    """
    from kubebook.audit import AuditInventory, run_audit
    from kubebook.audit.engine import ENGINES, findings_frame
    from kubebook.audit.extra_kinds import API_VERSIONS
    from kubebook.audit.sources import KINDS, gc_paused, list_kind_raw
    from kubebook.cluster import connect

    kube = connect(args.kubeconfig)
    # the kinds the audit lists beyond sources.KINDS (Services, Ingresses, PDBs) are listed by the baseline too
    extra = [k for k in API_VERSIONS if k not in KINDS] if callable(getattr(kube, "list_objects", None)) else []

    def list_any(kind: str) -> list[dict[str, Any]]:
        return list_kind_raw(kube, kind) if kind in KINDS else list(kube.list_objects(API_VERSIONS[kind], kind))

    def plain_list() -> list[list[dict[str, Any]]]:
        with ThreadPoolExecutor(max_workers=4) as pool:  # the same concurrency as AuditInventory.from_cluster
            return list(pool.map(list_any, [*KINDS, *extra]))

    counts = {kind: len(items) for kind, items in zip([*KINDS, *extra], plain_list(), strict=True)}
    list_times, audit_times, rows = [], [], 0
    for _ in range(args.rounds):
        start = time.perf_counter()
        plain_list()
        list_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        result = run_audit(AuditInventory.from_cluster(kube))
        audit_times.append(time.perf_counter() - start)
        rows = len(result.findings)
        del result
    inventory = AuditInventory.from_cluster(kube)
    engines: dict[str, float] = {}
    produced: list[Any] = []
    with gc_paused():  # as inside run_audit
        for engine in ENGINES:
            start = time.perf_counter()
            if getattr(engine, "applies_to", lambda inv: True)(inventory):
                produced.extend(engine.evaluate(inventory))
            engines[engine.__name__.rsplit(".", 1)[-1]] = round(time.perf_counter() - start, 3)
        start = time.perf_counter()
        findings_frame(produced)
        engines["(findings frame)"] = round(time.perf_counter() - start, 3)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"list_s": list_times, "audit_s": audit_times,
                      "ratio_median": statistics.median(audit_times) / statistics.median(list_times),
                      "ratio_best": min(audit_times) / min(list_times), "engines_s": engines,
                      "peak_rss_mb": peak_mb, "objects": counts, "finding_rows": rows}))
    return 0


def bench_live(args: argparse.Namespace) -> int:
    from kubebook.cluster import connect

    kube = connect(args.kubeconfig)
    print(f"cluster {kube.server}: {args.nodes} nodes, {args.pods} pods in {args.namespaces} namespaces, "
          f"{args.bindings} RoleBindings", flush=True)
    try:
        if not args.skip_populate:
            populate(kube, args)
        argv = [sys.executable, __file__, "measure", "--rounds", str(args.rounds)]
        if args.kubeconfig:
            argv += ["--kubeconfig", args.kubeconfig]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode:
            print(done.stdout, done.stderr)
            return 1
        report = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"objects listed: {report['objects']}")
        print("plain list (s): " + ", ".join(f"{t:.2f}" for t in report["list_s"]))
        print("full audit (s): " + ", ".join(f"{t:.2f}" for t in report["audit_s"])
              + f"  ({report['finding_rows']} finding rows)")
        print(f"ratio audit/list: median {report['ratio_median']:.2f}, best-of-each {report['ratio_best']:.2f}"
              " (target <= 1.5)")
        print("time per engine on one inventory (s): " + json.dumps(report["engines_s"]))
        print(f"peak RSS of the measuring process = {report['peak_rss_mb']:.0f} MB (target < 2048 MB)")
        print(json.dumps(report))
    finally:
        if not args.keep:
            cleanup(kube, args.cleanup_wait, args.workers)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    m = sub.add_parser("manifests", help="kubebook vs checkov, kube-score, Trivy and Polaris on a generated corpus")
    m.add_argument("--objects", type=int, default=1200)
    m.add_argument("--repeat", type=int, default=3, help="runs per tool (median reported)")
    m.add_argument("--checkov-repeat", type=int, default=1, help="runs of checkov (slow; 0 skips it)")
    m.add_argument("--timeout", type=float, default=900.0, help="seconds before a tool run is killed")
    m.add_argument("--build-trivy", action="store_true", help=f"go install Trivy {TRIVY_VERSION} first if missing")
    m.add_argument("--trivy-build-timeout", type=float, default=1500.0, help="seconds before the build is given up")
    for name in ("live", "measure"):
        p = sub.add_parser(name)
        p.add_argument("--kubeconfig", default=os.environ.get("KUBEBOOK_KUBECONFIG"))
        p.add_argument("--rounds", type=int, default=3, help="alternating list/audit rounds after one warm-up list")
        if name == "live":
            p.add_argument("--nodes", type=int, default=2000)
            p.add_argument("--pods", type=int, default=50000)
            p.add_argument("--namespaces", type=int, default=500)
            p.add_argument("--bindings", type=int, default=5000)
            p.add_argument("--workers", type=int, default=8)
            p.add_argument("--keep", action="store_true", help="leave the created objects in place")
            p.add_argument("--skip-populate", action="store_true", help="measure what an earlier --keep left")
            p.add_argument("--cleanup-wait", type=float, default=600.0)
    args = parser.parse_args(argv)
    return {"manifests": bench_manifests, "live": bench_live, "measure": measure}[args.mode](args)


if __name__ == "__main__":
    raise SystemExit(main())
