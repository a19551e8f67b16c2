"""The product together: the cluster `make run` leaves behind, then what a new user does on it.

One local cluster of its own (``journey``) is brought up the way ``make run`` brings up ``default``
(the same `kubebook` commands: ``cluster up`` with metrics, a real node where this host can run one,
``provision apply --overlay prod --audit manifests/audit-waivers.yaml``, ``schedule run-all``), and
then every capability is used on that provisioned cluster, not on a bare one:

- the audit score that ``provision apply --audit`` printed is the score the harden-audit report of the
  same run archived (one cluster, one score, whichever door);
- every lab starts (its setup objects pass the baseline's admission policies), fails every step untouched
  for the lab's own reason, and passes after the catalog's reference solution (the solution notebooks
  themselves run under nbval on the session cluster); lab 8's verdict stays coherent when the baseline
  refuses a probe first;
- ``capacity load`` is admitted by the baseline and ``capacity collect`` then records real usage of it
  (KWOK-emulated usage served by the real metrics-server);
- every scheduled runbook succeeds headless, and so does every other runbook and notebook with its
  defaults (dry runs).

The tests of this module run in order and share the cluster; the cluster is taken down (purged) at
the end, so the real-node modules after it find the host free. Nothing here runs against the user's
own ``default`` cluster.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubebook import cluster as cluster_mod
from kubebook import labs
from kubebook.capacity.store import HistoryStore
from kubebook.errors import ApiError
from kubebook.labs import engine, model
from kubebook.labs.probes import Context
from kubebook.localcluster.manager import LocalCluster
from kubebook.provision.cases import admission_cases

ROOT = Path(__file__).resolve().parents[2]
NAME = "journey"
TRAINEE = "journey"
LABS = list(model.catalog().values())
SCHEDULED = {"cluster-info", "cluster-overview", "harden-audit", "report-browser", "capacity-collect",
             "capacity-forecast", "etcd-backup", "etcd-drill"}


def kubebook(*args: str, timeout: float = 600, check: bool = True, env: dict[str, str] | None = None
             ) -> subprocess.CompletedProcess[str]:
    """Run the `kubebook` command as a user would (a fresh interpreter, from the repository's root)."""
    result = subprocess.run([sys.executable, "-m", "kubebook.cli", *args], capture_output=True, text=True,
                            cwd=ROOT, timeout=timeout, env={**os.environ, **(env or {})})
    if check:
        assert result.returncode == 0, f"kubebook {' '.join(args)} -> {result.returncode}\n" \
                                       f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


class Journey:
    """What the module's tests share: the cluster, its kubeconfig, the archive and what provisioning printed."""

    def __init__(self, cluster: LocalCluster, archive: Path) -> None:
        self.cluster = cluster
        self.kubeconfig = str(cluster.kubeconfig)
        self.archive = archive
        self.provision_output = ""
        self.kube = cluster_mod.connect(self.kubeconfig)


def baseline_acting(kube: cluster_mod.Cluster, namespace: str) -> bool:
    """Every baseline policy refuses its violation (admission reads the policies from an informer)."""
    for case in (c for c in admission_cases(namespace) if c.policy):
        try:
            kube.create_object(case.obj, dry_run=True)
            return False
        except ApiError as error:
            if f"ValidatingAdmissionPolicy '{case.policy}'" not in error.message:
                return False
    return True


@pytest.fixture(scope="module")
def journey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Journey]:
    os.environ.setdefault("KUBEBOOK_UNSAFE_NO_FSYNC", "1")
    old_labs_dir = os.environ.get("KUBEBOOK_LABS_DIR")
    os.environ["KUBEBOOK_LABS_DIR"] = str(tmp_path_factory.mktemp("journey-labs"))
    cluster = LocalCluster(name=NAME)
    cluster.down(purge=True)  # a session killed mid-way must not leave a half cluster behind
    archive = tmp_path_factory.mktemp("journey-archive")
    try:
        kubebook("cluster", "up", "--name", NAME, "--with-metrics", timeout=900)
        state = Journey(LocalCluster(name=NAME), archive)
        result = kubebook("provision", "apply", "--overlay", "prod", "--quiet", "--cluster", state.kubeconfig,
                          "--audit", "manifests/audit-waivers.yaml", timeout=900)
        state.provision_output = result.stdout
        deadline = time.monotonic() + 120
        while not baseline_acting(state.kube, "default"):
            assert time.monotonic() < deadline, "the baseline's policies did not act within 120 s"
            time.sleep(1)
        yield state
    finally:
        LocalCluster(name=NAME).down(purge=True)
        if old_labs_dir is None:
            os.environ.pop("KUBEBOOK_LABS_DIR", None)
        else:
            os.environ["KUBEBOOK_LABS_DIR"] = old_labs_dir


def _score_printed(output: str) -> float:
    match = re.search(r"audit score before provisioning: [\d.]+, after: ([\d.]+)", output)
    assert match, output
    return float(match.group(1))


def _results(archive: Path, runbook: str) -> list[dict[str, Any]]:
    """results.json of every archived run of a runbook (by its repository path's stem), oldest first."""
    found = sorted(archive.glob(f"**/{runbook}/*/*/*/results.json"))
    return [json.loads(path.read_text()) for path in found]


def _schedules_for(journey: Journey, out: Path) -> Path:
    """scheduled/schedules.yaml as it is, with the local cluster its DR schedules name set to this one.

    The shipped file names the cluster ``default`` (what ``make run`` starts); everything else, the
    notebooks, their parameters, timeouts and retries, is kept.
    """
    spec = yaml.safe_load((ROOT / "scheduled" / "schedules.yaml").read_text())
    for schedule in spec["schedules"]:
        schedule["notebook"] = str((ROOT / "scheduled" / schedule["notebook"]).resolve())
        params = schedule.get("parameters") or {}
        if params.get("cluster_name") == "default":
            params["cluster_name"] = NAME
    path = out / "schedules.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_the_load_generator_is_admitted_and_collect_records_its_usage(journey: Journey, tmp_path: Path) -> None:
    kubebook("capacity", "load", "--cluster", journey.kubeconfig, "--ticks", "3", "--interval", "10", timeout=600)
    store = tmp_path / "store"
    collected = json.loads(kubebook("capacity", "collect", "--cluster", journey.kubeconfig, "--store", str(store),
                                    "--json").stdout)
    assert collected["source"] == "metrics.k8s.io" and collected["samples"] > 0, collected
    samples = HistoryStore.open(None, store).read("samples")
    load = samples[samples["namespace"] == "capacity-load"]
    assert len(load) >= 5, samples["namespace"].value_counts().to_dict()  # 4 seasonal workloads and the leaker
    assert (load["cpu_cores"] > 0).all() and (load["memory_bytes"] > 0).all(), load.to_string()


def test_every_schedule_succeeds_on_the_provisioned_cluster(journey: Journey, tmp_path: Path) -> None:
    names = {s["name"] for s in yaml.safe_load((ROOT / "scheduled" / "schedules.yaml").read_text())["schedules"]}
    assert names >= SCHEDULED, "make run's schedules changed: say what the journey should run"
    result = kubebook("schedule", "run-all", "--file", str(_schedules_for(journey, tmp_path)),
                      "--archive", str(journey.archive), "--cluster", journey.kubeconfig, timeout=1500,
                      check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


def test_the_audit_report_scores_what_provisioning_printed(journey: Journey) -> None:
    printed = _score_printed(journey.provision_output)
    runs = _results(journey.archive, "harden-audit")
    assert runs, "the harden-audit schedule archived no run"
    recorded = runs[-1]["records"]
    score = recorded.get("score")
    assert score is not None, sorted(recorded)
    assert round(float(score), 1) == printed


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.id)
def test_every_lab_starts_fails_untouched_and_passes_after_its_solution_under_the_baseline(
        journey: Journey, lab: model.Lab) -> None:
    """On the provisioned cluster: `lab start` is admitted, every step fails untouched for the lab's own
    reason (never because the baseline refused a probe), and the catalog's reference solution passes."""
    who = ("--cluster", journey.kubeconfig, "--trainee", TRAINEE)
    started = kubebook("lab", "start", lab.id, *who, check=False)
    assert started.returncode == 0, started.stderr
    assert "Traceback" not in started.stderr and f"lab {lab.id} is ready" in started.stdout
    before = kubebook("lab", "check", lab.id, "--json", *who, check=False)
    assert before.returncode == 1, before.stderr
    steps = json.loads(before.stdout)["steps"]
    assert [s["passed"] for s in steps] == [False] * len(lab.steps), steps
    for step in steps:
        assert " - " in step["reason"] and "could not" not in step["reason"], step
    labs.solve(journey.kube, lab.id, who=TRAINEE)
    after = kubebook("lab", "check", lab.id, "--json", "--wait", "30", *who, check=False)
    assert after.returncode == 0, after.stdout[-3000:] + after.stderr[-1000:]
    assert all(s["passed"] for s in json.loads(after.stdout)["steps"])


def _probe_step(pod: dict, step_id: str) -> model.Step:
    return model.Step(step_id, "refused by the lab's policy", "", ("-",), (
        {"probe": "admission", "namespace": "lab-vap", "object": pod, "expect": "refused",
         "refused_by": "ValidatingAdmissionPolicy 'lab-vap-image-provenance'",
         "fail": "a pod from docker.io is admitted"},), ())


def _pod(name: str, image: str, labels: dict[str, str]) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": image, "resources": {
                "requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "100m", "memory": "32Mi"}}}]}}


def test_lab8_says_coherently_when_the_baseline_refuses_a_pod_before_the_labs_policy(journey: Journey) -> None:
    kube = journey.kube
    lab = model.get("vap-image-provenance")
    labs.reset(kube, lab.id, who=TRAINEE)
    labs.solve(kube, lab.id, lab.steps[0].id, who=TRAINEE)
    assert labs.check(kube, lab.id, lab.steps[0].id, who=TRAINEE, wait=30).passed
    ctx = Context(kube, lab, labs.workspace(lab.id, TRAINEE))
    # the lab's policy admits this pod (trusted, pinned); the baseline refuses it (no team label) - first
    unlabelled = _pod("unlabelled", "registry.k8s.io/pause@sha256:ee6521f290b2168b6e0935a181d4cff9be1ac3f505666ef0e"
                      "3c98fae8199917a", {"app": "x"})
    verdict = engine.verify_step(ctx, _probe_step(unlabelled, "unlabelled"))
    assert not verdict.passed, "the lab's policy was never asked: this is no pass"
    assert "is admitted" not in verdict.reason and "but not by" not in verdict.reason, verdict.reason
    assert verdict.reason.startswith("could not judge this step - "), verdict.reason
    assert "refused by ValidatingAdmissionPolicy 'kubebook-required-labels' before ValidatingAdmissionPolicy " \
           "'lab-vap-image-provenance' could judge it" in verdict.reason, verdict.reason
    # the pod: both refuse it; whichever the API server names first, the verdict is coherent
    miner = _pod("dockerhub-miner", "docker.io/cryptominer/xmrig:latest", {"app": "miner", "team": "training"})
    verdict = engine.verify_step(ctx, _probe_step(miner, "docker-hub"))
    assert "is admitted" not in verdict.reason and "but not by" not in verdict.reason, verdict.reason
    assert (verdict.passed and "refused by ValidatingAdmissionPolicy 'lab-vap-image-provenance'" in verdict.reason) \
        or re.search(r"refused by ValidatingAdmissionPolicy 'kubebook-(allowed-registries|image-tags)' before",
                     verdict.reason), verdict.reason


UNSCHEDULED_DEFAULTS_ONLY = ["runbooks/harden-remediate.ipynb", "runbooks/provision-baseline.ipynb",
                             "runbooks/dr-namespace-drill.ipynb", "runbooks/dr-ha-drill.ipynb"]


@pytest.mark.parametrize("notebook", UNSCHEDULED_DEFAULTS_ONLY)
def test_every_other_runbook_runs_headless_with_its_defaults(journey: Journey, notebook: str) -> None:
    kubebook("run", str(ROOT / notebook), "--cluster", journey.kubeconfig, "--archive", str(journey.archive),
             "--no-progress", timeout=900)
