"""Every lab's verifiers against the real API server: the starting state fails every step.

The other half of the proof - the reference solution passes every step - is the solution
notebooks under labs/solutions/, which pytest runs with nbval after these tests (their last
cell raises LabNotPassed otherwise). A verifier that passes on the starting state fails here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubebook import labs
from kubebook.cluster import Cluster
from kubebook.labs import model

LABS = list(model.catalog().values())


@pytest.fixture(scope="module", autouse=True)
def labs_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Progress and workspaces of this module go to a temporary folder, never the user's."""
    path = tmp_path_factory.mktemp("labs")
    old = os.environ.get("KUBEBOOK_LABS_DIR")
    os.environ["KUBEBOOK_LABS_DIR"] = str(path)
    yield path
    if old is None:
        os.environ.pop("KUBEBOOK_LABS_DIR", None)
    else:
        os.environ["KUBEBOOK_LABS_DIR"] = old


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.id)
def test_the_starting_state_fails_every_step_with_a_reason(kube: Cluster, lab: model.Lab) -> None:
    labs.reset(kube, lab.id, who="ci")
    result = labs.check(kube, lab.id, who="ci", record=False)
    passing = [f"{s.id}: {s.reason}" for s in result.steps if s.passed]
    assert passing == [], "a verifier passes on the untouched starting state"
    for step in result.steps:
        assert " - " in step.reason and "could not verify" not in step.reason, step


def test_reset_restores_one_lab_and_leaves_the_others_alone(kube: Cluster) -> None:
    labs.start(kube, "capstone", who="ci")
    other = kube.get_object("v1", "Namespace", "lab-capstone")
    labs.solve(kube, "rbac-least-privilege", "can-deploy", who="ci")
    assert labs.check(kube, "rbac-least-privilege", "can-deploy", who="ci", wait=10).passed
    labs.reset(kube, "rbac-least-privilege", who="ci")
    assert not labs.check(kube, "rbac-least-privilege", "can-deploy", who="ci").passed
    after = kube.get_object("v1", "Namespace", "lab-capstone")
    assert other and after and after["metadata"]["uid"] == other["metadata"]["uid"]


def test_start_keeps_a_trainees_work(kube: Cluster) -> None:
    labs.reset(kube, "sa-token-hygiene", who="ci")
    labs.solve(kube, "sa-token-hygiene", "no-legacy-token", who="ci")
    labs.start(kube, "sa-token-hygiene", who="ci")
    assert labs.check(kube, "sa-token-hygiene", "no-legacy-token", who="ci").passed


def test_cli_check_json_fails_at_the_start_and_passes_after_the_solution(
        kube: Cluster, local_cluster: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from kubebook.cli import main

    lab = model.get("pod-security-restricted")

    def check(*extra: str) -> tuple[int, dict]:
        code = main(["lab", "check", lab.id, "--json", "--cluster", str(local_cluster), *extra])
        return code, json.loads(capsys.readouterr().out)

    labs.reset(kube, lab.id)
    code, doc = check()
    assert code == 1 and doc["lab"] == lab.id
    assert [(s["id"], s["passed"], bool(s["reason"])) for s in doc["steps"]] == [(s.id, False, True) for s in lab.steps]
    labs.solve(kube, lab.id)
    code, doc = check("--wait", "20")
    assert code == 0 and all(s["passed"] for s in doc["steps"]), doc


def test_reset_removes_a_labs_cluster_scoped_policy_before_it_returns(kube: Cluster) -> None:
    lab = model.get("vap-image-provenance")
    labs.reset(kube, lab.id, who="ci")
    labs.solve(kube, lab.id, lab.steps[0].id, who="ci")
    assert labs.check(kube, lab.id, lab.steps[0].id, who="ci", wait=20).passed
    labs.reset(kube, lab.id, who="ci")
    assert kube.get_object(*[(o["apiVersion"], o["kind"], o["name"]) for o in lab.cluster_objects][1]) is None
    assert not labs.check(kube, lab.id, lab.steps[0].id, who="ci").passed, "the policy still acts after reset"
