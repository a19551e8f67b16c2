"""Every lab starts, fails untouched and passes after its solution on a cluster carrying the prod baseline.

The issue: on a cluster provisioned as ``make run`` does it (``kubebook provision apply --overlay prod``),
6 of the 11 labs could not start - the baseline's admission policies (``kubebook-required-labels``,
``kubebook-resources``) refused their starting objects - and lab 8's correct policy still failed, because
the baseline refused its test pod first, with a verdict that contradicted itself. The baseline is not
loosened: the labs' objects meet it. Provisioning adds default-deny NetworkPolicies, quotas and five
cluster-wide policies, which the session cluster's other tests must never meet, so this module starts
its own local cluster (``labs-prod``, KWOK nodes only: the one real node per host is the lead's),
provisions it through the CLI and takes it down (purged) afterwards.
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

import pytest

from kubebook import cluster as cluster_mod
from kubebook import labs
from kubebook.errors import ApiError
from kubebook.labs import engine, model
from kubebook.labs.probes import Context
from kubebook.localcluster.manager import LocalCluster
from kubebook.provision.cases import admission_cases

pytestmark = pytest.mark.cluster
ROOT = Path(__file__).resolve().parents[2]
NAME = "labs-prod"
TRAINEE = "prod-trainee"
LABS = list(model.catalog().values())


def kubebook(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubebook.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout, check=False)


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
def prod(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[cluster_mod.Cluster, Path]]:
    """Our own local cluster with the prod overlay applied as `kubebook provision apply` does."""
    old = os.environ.get("KUBEBOOK_LABS_DIR")
    os.environ["KUBEBOOK_LABS_DIR"] = str(tmp_path_factory.mktemp("labs-prod"))
    os.environ.setdefault("KUBEBOOK_UNSAFE_NO_FSYNC", "1")
    lc = LocalCluster(name=NAME, topology="single", nodes=1, real_nodes=0)
    lc.down(purge=True)
    lc.up()
    try:
        applied = kubebook("provision", "apply", "--overlay", "prod", "--cluster", str(lc.kubeconfig), "--quiet")
        assert applied.returncode == 0, applied.stdout[-2000:] + applied.stderr[-2000:]
        kube = cluster_mod.connect(lc.kubeconfig)
        deadline = time.monotonic() + 120
        while not baseline_acting(kube, "default"):
            assert time.monotonic() < deadline, "the baseline's policies did not act within 120 s"
            time.sleep(1)
        yield kube, lc.kubeconfig
    finally:
        lc.down(purge=True)
        if old is None:
            os.environ.pop("KUBEBOOK_LABS_DIR", None)
        else:
            os.environ["KUBEBOOK_LABS_DIR"] = old


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.id)
def test_every_lab_starts_fails_untouched_and_passes_after_its_solution_under_the_baseline(
        prod: tuple[cluster_mod.Cluster, Path], lab: model.Lab) -> None:
    kube, kubeconfig = prod
    cluster = ("--cluster", str(kubeconfig), "--trainee", TRAINEE)
    started = kubebook("lab", "start", lab.id, *cluster)
    assert started.returncode == 0, started.stderr
    assert "Traceback" not in started.stderr and f"lab {lab.id} is ready" in started.stdout
    before = kubebook("lab", "check", lab.id, "--json", *cluster)
    assert before.returncode == 1, before.stderr
    steps = json.loads(before.stdout)["steps"]
    assert [s["passed"] for s in steps] == [False] * len(lab.steps), steps
    for step in steps:  # each fails for the reason the lab is about, never because the baseline refused a probe
        assert " - " in step["reason"] and "could not" not in step["reason"], step
    labs.solve(kube, lab.id, who=TRAINEE)
    after = kubebook("lab", "check", lab.id, "--json", "--wait", "30", *cluster)
    assert after.returncode == 0, after.stdout[-3000:] + after.stderr[-1000:]
    assert all(s["passed"] for s in json.loads(after.stdout)["steps"])


def probe_step(pod: dict, step_id: str) -> model.Step:
    return model.Step(step_id, "refused by the lab's policy", "", ("-",), (
        {"probe": "admission", "namespace": "lab-vap", "object": pod, "expect": "refused",
         "refused_by": "ValidatingAdmissionPolicy 'lab-vap-image-provenance'",
         "fail": "a pod from docker.io is admitted"},), ())


def pod(name: str, image: str, labels: dict[str, str]) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": image, "resources": {
                "requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "100m", "memory": "32Mi"}}}]}}


def test_lab8_says_coherently_when_the_baseline_refuses_a_pod_before_the_labs_policy(
        prod: tuple[cluster_mod.Cluster, Path]) -> None:
    kube, _ = prod
    lab = model.get("vap-image-provenance")
    labs.reset(kube, lab.id, who=TRAINEE)
    labs.solve(kube, lab.id, lab.steps[0].id, who=TRAINEE)
    assert labs.check(kube, lab.id, lab.steps[0].id, who=TRAINEE, wait=30).passed
    ctx = Context(kube, lab, labs.workspace(lab.id, TRAINEE))
    # the lab's policy admits this pod (trusted, pinned); the baseline refuses it (no team label) - first
    unlabelled = pod("unlabelled", "registry.k8s.io/pause@sha256:ee6521f290b2168b6e0935a181d4cff9be1ac3f505666ef0e3c98"
                     "fae8199917a", {"app": "x"})
    verdict = engine.verify_step(ctx, probe_step(unlabelled, "unlabelled"))
    assert not verdict.passed, "the lab's policy was never asked: this is no pass"
    assert "is admitted" not in verdict.reason and "but not by" not in verdict.reason, verdict.reason
    assert verdict.reason.startswith("could not judge this step - "), verdict.reason
    assert "refused by ValidatingAdmissionPolicy 'kubebook-required-labels' before ValidatingAdmissionPolicy " \
           "'lab-vap-image-provenance' could judge it" in verdict.reason, verdict.reason
    # the pod: both refuse it; whichever the API server names first, the verdict is coherent
    miner = pod("dockerhub-miner", "docker.io/cryptominer/xmrig:latest", {"app": "miner", "team": "training"})
    verdict = engine.verify_step(ctx, probe_step(miner, "docker-hub"))
    assert "is admitted" not in verdict.reason and "but not by" not in verdict.reason, verdict.reason
    assert (verdict.passed and "refused by ValidatingAdmissionPolicy 'lab-vap-image-provenance'" in verdict.reason) \
        or re.search(r"refused by ValidatingAdmissionPolicy 'kubebook-(allowed-registries|image-tags)' before",
                     verdict.reason), verdict.reason
