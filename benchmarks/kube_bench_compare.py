"""Run kube-bench and ``kubebook audit`` side by side on the local control plane; write docs/kube-bench-comparison.md.

Usage: ``python benchmarks/kube_bench_compare.py [--cluster dev] [--output docs/kube-bench-comparison.md]``.

kube-bench is built from the Go module proxy into ``~/.cache/kubebook/tools`` when
missing (the exact build error is written to the report if that fails). Its CIS
YAML lives in the module's ``cfg/``; this script copies ``config.yaml`` and the
benchmark folder into a temporary config dir and points the scheduler and
controller-manager kubeconfigs and the etcd data dir at the local cluster's files
(process names already match: the components run as ``kube-apiserver`` ...).
Every CIS id where the two verdicts differ is listed with the reason.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lib"))

from kubebook import cluster as cluster_mod  # noqa: E402
from kubebook.audit import AuditInventory, run_audit  # noqa: E402
from kubebook.localcluster.paths import cache_dir, cluster_dir  # noqa: E402

VERSION = "v0.15.1"
BENCHMARK = "cis-1.12"
MODULE = "github.com/aquasecurity/kube-bench"
TARGETS = "master,etcd,controlplane,policies"
# Why the verdicts differ, for the CIS ids where they do on the local control plane (checked against the run:
# an id listed here whose verdicts agree is reported as such, an id that differs without a reason is flagged).
REASONS = {
    "1.1.1": "No static pod manifests: the components run as processes, so kubebook says INFO (not applicable); "
             "kube-bench's audit prints nothing for the missing /etc/kubernetes/manifests file.",
    "1.1.9": "CNI files: kubebook's node check says INFO (not applicable: KWOK nodes have no CNI files); kube-bench "
             "reports Manual.",
    "1.1.10": "CNI files: kubebook's node check says INFO (not applicable: KWOK nodes have no CNI files); kube-bench "
              "reports Manual.",
    "1.1.13": "kubebook checks the local cluster's admin kubeconfigs (<cluster>/kubeconfig, super-admin.kubeconfig); "
              "kube-bench only looks at /etc/kubernetes/admin.conf and super-admin.conf.",
    "1.1.14": "kubebook checks the local cluster's admin kubeconfigs (<cluster>/kubeconfig, super-admin.kubeconfig); "
              "kube-bench only looks at /etc/kubernetes/admin.conf and super-admin.conf.",
    "1.1.19": "kubebook checks the files the component flags name; kube-bench only /etc/kubernetes/pki/.",
    "1.1.20": "kubebook checks the certificates the component flags name; kube-bench only /etc/kubernetes/pki/*.crt.",
    "1.1.21": "kubebook checks the keys the component flags name; kube-bench only /etc/kubernetes/pki/*.key.",
    "1.2.20": "--request-timeout: kubebook has no check (the right value is site policy); kube-bench reports Manual.",
    "1.4.1": "kube-scheduler reads enableProfiling from its --config file and ignores the flag then; kubebook reads "
             "the file (false), kube-bench only looks for a --profiling flag.",
    "3.1.1": "Authentication method for users: kubebook has no check (needs the identity provider).",
    "3.1.2": "Authentication method for users: kubebook has no check (needs the identity provider).",
    "3.1.3": "Authentication method for users: kubebook has no check (needs the identity provider).",
    "3.2.2": "Audit policy coverage: kubebook has no check yet (only 3.2.1, the policy is set).",
    "5.1.2": "kube-bench only asks whether every authenticated user (system:authenticated) can read Secrets; "
             "kubebook lists every binding outside the bootstrap policy that allows get/list/watch on secrets.",
    "5.1.4": "kube-bench only asks whether every authenticated user (system:authenticated) can create pods; "
             "kubebook lists every binding that allows creating pods or pod controllers.",
    "5.4.2": "External secret storage: kubebook has no check (an architecture choice).",
    "5.6.1": "Administrative boundaries: kubebook has no check (needs intent).",
}
MANUAL = "CIS marks it Manual: kube-bench reports WARN without evaluating it, kubebook evaluates it."
def ensure_kube_bench() -> tuple[Path | None, Path | None, str]:
    """(binary, cfg dir, build log) - building from the module proxy when missing."""
    gopath = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True).stdout.strip()
    module_dir = Path(gopath) / f"{MODULE}@{VERSION}"
    binary = cache_dir() / "tools" / "kube-bench"
    env = {**os.environ, "GOTOOLCHAIN": "local"}
    log_path = cache_dir() / "logs" / "kube-bench-build.log"
    log = ""
    if binary.is_file():
        text = log_path.read_text() if log_path.is_file() else ""
        return binary, module_dir / "cfg", "\n".join(line for line in text.splitlines()
                                                      if not line.startswith("go: downloading"))
    binary.parent.mkdir(parents=True, exist_ok=True)
    install = subprocess.run(["go", "install", f"{MODULE}@{VERSION}"], capture_output=True, text=True,
                             env={**env, "GOBIN": str(binary.parent)})
    log += f"$ GOTOOLCHAIN=local go install {MODULE}@{VERSION}\n{install.stderr[-2000:]}\n"
    if install.returncode != 0:
        # go install pkg@version asks the proxy for the module's version list, which it refuses for
        # kube-bench (403); building inside the downloaded module works with the module's own go.sum.
        subprocess.run(["go", "mod", "download", f"{MODULE}@{VERSION}"], capture_output=True, env=env)
        build = subprocess.run(["go", "build", "-trimpath", "-o", str(binary), "."], cwd=module_dir,
                               capture_output=True, text=True, env=env)
        log += f"$ (cd {module_dir} && GOTOOLCHAIN=local go build -trimpath -o {binary} .)\n"
        log += f"{build.stderr[-2000:]}\n"
        log += f"exit status {build.returncode}\n"
    log = "\n".join(line for line in log.splitlines() if not line.startswith(("go: downloading", "g k8s.io")))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text(log)
    if not binary.is_file():
        return None, None, log
    return binary, module_dir / "cfg", log


def config_dir(cfg: Path, cluster: str, target: Path) -> Path:
    """kube-bench's config.yaml and benchmark folder with paths pointed at the local cluster."""
    root = cluster_dir(cluster)
    config = yaml.safe_load((cfg / "config.yaml").read_text())
    master = config["master"]
    master["scheduler"]["kubeconfig"] = [str(root / "config" / "scheduler-0.kubeconfig")]
    master["scheduler"]["defaultkubeconfig"] = str(root / "config" / "scheduler-0.kubeconfig")
    master["controllermanager"]["kubeconfig"] = [str(root / "config" / "controller-manager-0.kubeconfig")]
    master["controllermanager"]["defaultkubeconfig"] = str(root / "config" / "controller-manager-0.kubeconfig")
    master["etcd"]["datadirs"] = [str(root / "etcd" / "member-0")]
    master["etcd"]["defaultdatadir"] = str(root / "etcd" / "member-0")
    target.mkdir(parents=True, exist_ok=True)
    (target / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    shutil.copytree(cfg / BENCHMARK, target / BENCHMARK, dirs_exist_ok=True)
    return target


def run_kube_bench(binary: Path, cfg: Path, cluster: str, timeout: float,
                   targets: str = TARGETS) -> dict[str, dict[str, str]]:
    """CIS id -> {status, text, actual, reason} from ``kube-bench run --json`` (plus ``_elapsed``)."""
    kubeconfig = cluster_dir(cluster) / "kubeconfig"
    with tempfile.TemporaryDirectory() as tmp:
        conf = config_dir(cfg, cluster, Path(tmp) / "cfg")
        started = time.perf_counter()
        run = subprocess.run([str(binary), "run", "--targets", targets, "--benchmark", BENCHMARK,
                              "--config-dir", str(conf), "--json"], capture_output=True, text=True, timeout=timeout,
                             env={**os.environ, "KUBECONFIG": str(kubeconfig)})
        results: dict[str, dict[str, str]] = {"_elapsed": {"seconds": f"{time.perf_counter() - started:.2f}"}}
    if not run.stdout.strip():
        raise RuntimeError(f"kube-bench printed no JSON (exit {run.returncode}): {run.stderr[-1500:]}")
    data = json.loads(run.stdout)
    for control in data.get("Controls") or []:
        for group in control.get("tests") or []:
            for result in group.get("results") or []:
                results[result["test_number"]] = {
                    "status": result.get("status", ""), "text": result.get("test_desc", ""),
                    "actual": str(result.get("actual_value", ""))[:160].replace("\n", " "),
                    "reason": str(result.get("reason", ""))[:160].replace("\n", " ")}
    return results


def kubebook_verdicts(cluster: str) -> tuple[dict[str, dict[str, Any]], float, int]:
    """CIS id -> {verdict, checks, message} over the control-plane and the API audit; elapsed seconds; pod count."""
    started = time.perf_counter()
    api = cluster_mod.connect(cluster_dir(cluster) / "kubeconfig")
    inventory = AuditInventory.from_cluster(api)
    frames = [run_audit(AuditInventory.from_control_plane(cluster, cluster=api)).findings,
              run_audit(inventory).findings]
    elapsed = time.perf_counter() - started
    pods = len(inventory.objects("Pod"))
    rows: dict[str, list[Any]] = defaultdict(list)
    for frame in frames:
        for row in frame.itertuples():
            for cis in [c for c in str(row.cis or "").replace(" ", "").split(",") if c]:
                rows[cis].append(row)
    verdicts = {}
    for cis, found in rows.items():
        results = {r.result for r in found}
        verdict = next((v for v in ("ERROR", "FAIL", "WARN", "PASS", "INFO") if v in results), "INFO")
        if verdict == "PASS" and results - {"PASS", "INFO"}:
            verdict = "WARN"
        example = next((r for r in found if r.result == verdict), found[0])
        verdicts[cis] = {"verdict": verdict, "checks": sorted({r.check for r in found}),
                         "message": str(example.message)[:160]}
    return verdicts, elapsed, pods


def _sort_key(cis: str) -> list[int]:
    return [int(p) for p in cis.split(".") if p.isdigit()]


def reason(cis: str, kb: dict[str, str] | None, ours: dict[str, Any] | None) -> str:
    if cis in REASONS:
        return REASONS[cis]
    if ours is None:
        from kubebook.audit import catalog

        checks = sorted(c.id for c in catalog.load_catalog().values()
                        if cis in str(c.cis or "").replace(" ", "").split(","))
        if checks:
            return f"No finding: kubebook's {', '.join(checks)} judge each workload, and the cluster runs none."
        return "kubebook has no check for this CIS id."
    if kb is None and cis.startswith("4."):
        return ("Worker node: kube-bench's node target is not run (the workers are KWOK nodes, no kubelet to read); "
                f"kubebook's node checks say {ours['verdict']} for the same reason.")
    if kb is None:
        return "Not in kube-bench's cis-1.12 targets run here."
    if kb["status"] == "WARN" and ours["verdict"] in ("PASS", "FAIL"):
        return MANUAL
    if cis.startswith("1.1.") and ours["verdict"] == "INFO":
        return REASONS["1.1.1"]
    return f"kube-bench: {kb['reason'] or kb['actual'] or 'no output'}; kubebook: {ours['message']}"


def render(kb: dict[str, dict[str, str]] | None, ours: dict[str, dict[str, Any]], build_log: str,
           kb_error: str, elapsed: float, cluster: str, pods: int) -> str:
    lines = ["# kube-bench vs kubebook audit", "",
             "Generated by `benchmarks/kube_bench_compare.py` (re-run it to refresh). Both tools ran against the "
             f"local control plane `{cluster}` (processes on loopback, KWOK nodes): kube-bench {VERSION} with "
             f"`run --targets {TARGETS} --benchmark {BENCHMARK} --json` and a config dir pointing its kubeconfig "
             "and etcd data-dir paths at the cluster; kubebook with `kubebook audit --control-plane` plus the "
             "API audit (`--cluster`) for section 5. kubebook verdict per CIS id = the worst result of its checks "
             "that carry the id (FAIL > WARN > PASS > INFO).", ""]
    lines += ["## Building kube-bench", "",
              f"kube-bench {VERSION} is the newest version the module proxy serves with a checksum-database entry "
              "(v0.16.0 is listed but `go mod download` fails with `verifying go.mod: ... sum.golang.org/lookup/"
              "github.com/aquasecurity/kube-bench@v0.16.0: 404 Not Found`); its newest CIS benchmark is "
              f"{BENCHMARK}. `go install {MODULE}@{VERSION}` fails because the proxy refuses the module's version "
              "list (needed to check deprecation); building inside the downloaded module works. Build log "
              f"(`{cache_dir() / 'logs' / 'kube-bench-build.log'}`):", ""]
    if build_log:
        lines += ["```", build_log.strip(), "```", ""]
    if kb is None:
        lines += ["## kube-bench could not run", "", "```", kb_error, "```", ""]
        return "\n".join(lines) + "\n"
    if kb_error:
        lines += ["## Not compared", "", kb_error, ""]
    kb_seconds = float(kb.pop("_elapsed")["seconds"])
    ids = sorted(set(kb) | set(ours), key=_sort_key)
    if kb_error:  # section 5 did not run in kube-bench: compare only what both judged
        ids = [c for c in ids if c in kb or not c.startswith("5.")]
    differ = [c for c in ids if (kb.get(c) or {}).get("status") != (ours.get(c) or {}).get("verdict")]
    same = len(ids) - len(differ)
    lines += ["## Summary", "",
              f"- CIS ids seen by either tool: {len(ids)}; same verdict: {same}; different: {len(differ)}.",
              f"- kube-bench statuses: {_tally(kb[c]['status'] for c in ids if c in kb)}.",
              f"- kubebook verdicts on those ids: {_tally(ours[c]['verdict'] for c in ids if c in ours)}.",
              (f"- Time on this run: kube-bench {kb_seconds:.2f} s, kubebook audit (control plane + API) "
               f"{elapsed:.2f} s; ratio kube-bench / kubebook = {kb_seconds / elapsed:.1f}. The cluster had "
               f"{pods} pods (kube-bench's 5.1.6 and 5.2.x audits run kubectl per pod)." if not kb_error else
               f"- Time on this run: kube-bench sections 1-3 {kb_seconds:.2f} s (section 5 did not finish), "
               f"kubebook audit (control plane + API, {pods} pods) {elapsed:.2f} s; no ratio: not the same work."),
              "",
              "## Where the verdicts differ", "",
              "| CIS | title | kube-bench | kubebook | kubebook checks | why |", "|---|---|---|---|---|---|"]
    for cis in differ:
        k, o = kb.get(cis), ours.get(cis)
        title = (k or {}).get("text") or ""
        lines.append(f"| {cis} | {_cell(title)} | {(k or {}).get('status', '-')} | {(o or {}).get('verdict', '-')} "
                     f"| {_cell(', '.join((o or {}).get('checks', [])))} | {_cell(reason(cis, k, o))} |")
    lines += ["", "## Same verdict", "", ", ".join(f"{c} ({kb[c]['status']})" for c in ids if c not in differ), ""]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _tally(values: Any) -> str:
    counts: dict[str, int] = defaultdict(int)
    for value in values:
        counts[value] += 1
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cluster", default=os.environ.get("KUBEBOOK_CLUSTER", "dev"))
    parser.add_argument("--output", default=str(ROOT / "docs" / "kube-bench-comparison.md"))
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds for each kube-bench run (its 5.1.6 and 5.2.x audits run kubectl per pod)")
    args = parser.parse_args(argv)
    binary, cfg, log = ensure_kube_bench()
    ours, elapsed, pods = kubebook_verdicts(args.cluster)
    kb, error = None, ""
    if binary is None or cfg is None:
        error = "build failed (log above)"
    else:
        try:
            kb = run_kube_bench(binary, cfg, args.cluster, args.timeout, "master,etcd,controlplane")
        except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as failure:
            error = str(failure)
        if kb is not None:
            try:
                policies = run_kube_bench(binary, cfg, args.cluster, args.timeout, "policies")
                seconds = float(kb["_elapsed"]["seconds"]) + float(policies.pop("_elapsed")["seconds"])
                kb.update(policies)
                kb["_elapsed"] = {"seconds": f"{seconds:.2f}"}
            except subprocess.TimeoutExpired:
                error = (f"kube-bench's policies target did not finish within {args.timeout:.0f} s on a cluster with "
                         f"{pods} pods: its 5.1.6 and 5.2.x audits run kubectl once or twice per pod. Section 5 "
                         "is compared only where kube-bench produced a verdict.")
    text = render(kb, ours, log, error, elapsed, args.cluster, pods)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(text)
    print(text.split("## Where")[0])
    return 0 if kb is not None else 1


if __name__ == "__main__":
    sys.exit(main())
