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
# The default trainee (``$KUBEBOOK_TRAINEE``, else the login name), as in the nbval runs of labs/ after this
# module: a lab whose namespaces hold another trainee's attempt is refused at start (and not credited).
WHO = None


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
    labs.reset(kube, lab.id, who=WHO)
    result = labs.check(kube, lab.id, who=WHO, record=False)
    passing = [f"{s.id}: {s.reason}" for s in result.steps if s.passed]
    assert passing == [], "a verifier passes on the untouched starting state"
    for step in result.steps:
        assert " - " in step.reason and "could not verify" not in step.reason, step


def test_reset_restores_one_lab_and_leaves_the_others_alone(kube: Cluster) -> None:
    labs.start(kube, "capstone", who=WHO)
    other = kube.get_object("v1", "Namespace", "lab-capstone")
    labs.solve(kube, "rbac-least-privilege", "can-deploy", who=WHO)
    assert labs.check(kube, "rbac-least-privilege", "can-deploy", who=WHO, wait=10).passed
    labs.reset(kube, "rbac-least-privilege", who=WHO)
    assert not labs.check(kube, "rbac-least-privilege", "can-deploy", who=WHO).passed
    after = kube.get_object("v1", "Namespace", "lab-capstone")
    assert other and after and after["metadata"]["uid"] == other["metadata"]["uid"]


def test_start_keeps_a_trainees_work(kube: Cluster) -> None:
    labs.reset(kube, "sa-token-hygiene", who=WHO)
    labs.solve(kube, "sa-token-hygiene", "no-legacy-token", who=WHO)
    labs.start(kube, "sa-token-hygiene", who=WHO)
    assert labs.check(kube, "sa-token-hygiene", "no-legacy-token", who=WHO).passed


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
    labs.reset(kube, lab.id, who=WHO)
    labs.solve(kube, lab.id, lab.steps[0].id, who=WHO)
    assert labs.check(kube, lab.id, lab.steps[0].id, who=WHO, wait=20).passed
    labs.reset(kube, lab.id, who=WHO)
    assert kube.get_object(*[(o["apiVersion"], o["kind"], o["name"]) for o in lab.cluster_objects][1]) is None
    assert not labs.check(kube, lab.id, lab.steps[0].id, who=WHO).passed, "the policy still acts after reset"


def test_a_foreign_namespace_is_refused_at_start_and_keeps_its_contents(kube: Cluster, local_cluster: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 23: `lab start` took over a `lab-rbac` that existed before (with someone's ConfigMap)."""
    from kubebook.cli import main
    from kubebook.labs.engine import _wait_gone

    lab = model.get("rbac-least-privilege")
    kube.delete_object("v1", "Namespace", "lab-rbac")
    _wait_gone(kube, [("v1", "Namespace", "lab-rbac", None)], 120)
    kube.apply_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lab-rbac"}}, field_manager="t")
    kube.apply_object({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "mine", "namespace": "lab-rbac"},
                       "data": {"k": "v"}}, field_manager="t")
    try:
        for command in ("start", "reset"):
            code = main(["lab", command, lab.id, "--cluster", str(local_cluster)])
            err = capsys.readouterr().err
            assert code == 2 and err.count("\n") == 1 and "namespace lab-rbac (not created by lab" in err, err
        assert kube.get_object("v1", "ConfigMap", "mine", "lab-rbac")["data"] == {"k": "v"}
        ns = kube.get_object("v1", "Namespace", "lab-rbac")
        assert "labs.kubebook.io/lab" not in (ns["metadata"].get("labels") or {})
    finally:
        kube.delete_object("v1", "Namespace", "lab-rbac")
        _wait_gone(kube, [("v1", "Namespace", "lab-rbac", None)], 120)
    labs.start(kube, lab.id, who=WHO)  # the lab's own namespace again, for the notebooks after this module


def test_reset_keeps_a_policy_named_like_the_labs_that_someone_else_made(kube: Cluster) -> None:
    """Issue 23: reset deleted a ValidatingAdmissionPolicy named like the lab's that someone else created."""
    lab = model.get("vap-image-provenance")
    labs.reset(kube, lab.id, who=WHO)
    ref = next(o for o in lab.cluster_objects if o["kind"] == "ValidatingAdmissionPolicy")
    theirs = {"apiVersion": ref["apiVersion"], "kind": ref["kind"], "metadata": {"name": ref["name"]},
              "spec": {"failurePolicy": "Fail", "matchConstraints": {"resourceRules": [
                  {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}]},
                  "validations": [{"expression": "true"}]}}
    # someone else's: it existed before the attempt began (a lab that is not in progress, then started)
    kube.delete_object("v1", "Namespace", "lab-vap")
    from kubebook.labs.engine import _wait_gone

    _wait_gone(kube, [("v1", "Namespace", "lab-vap", None)], 120)
    kube.apply_object(theirs, field_manager="someone-else")
    try:
        with pytest.raises(labs.LabRefused, match="not the lab's"):
            labs.start(kube, lab.id, who=WHO)
        with pytest.raises(labs.LabRefused, match="not the lab's"):
            labs.reset(kube, lab.id, who=WHO)
        assert kube.get_object(ref["apiVersion"], ref["kind"], ref["name"]) is not None
    finally:
        kube.delete_object(ref["apiVersion"], ref["kind"], ref["name"])
        _wait_gone(kube, [(ref["apiVersion"], ref["kind"], ref["name"], None)], 60)
    labs.reset(kube, lab.id, who=WHO)
