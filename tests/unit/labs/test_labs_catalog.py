"""The lab catalogue is sound data, its notebooks are rendered from it, and the pure parts judge correctly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubebook.errors import ParameterError
from kubebook.labs import engine, model, netpol, progress, render
from kubebook.labs.model import StepResult
from kubebook.labs.probes import _check_requirement

ROOT = Path(__file__).resolve().parents[3]
LABS = list(model.catalog().values())
CKS_TOPICS = ["rbac", "token", "netpol", "pod-security", "securitycontext", "secrets", "forensics", "vap", "cis",
              "etcd", "capstone"]


def test_the_catalogue_covers_every_cks_topic_of_the_issue() -> None:
    assert len(LABS) >= 10
    ids = " ".join(lab.id for lab in LABS)
    assert [t for t in CKS_TOPICS if t not in ids] == []
    assert [lab.order for lab in LABS] == list(range(1, len(LABS) + 1))


def test_labs_never_share_a_namespace_or_a_cluster_object() -> None:
    namespaces = [ns for lab in LABS for ns in lab.namespaces]
    assert len(namespaces) == len(set(namespaces))
    objects = [(o["kind"], o["name"]) for lab in LABS for o in lab.cluster_objects]
    assert len(objects) == len(set(objects))


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.id)
def test_every_step_names_known_probes_and_actions_with_advice(lab: model.Lab) -> None:
    for step in lab.steps:
        for spec in step.verify:
            assert spec["probe"] in engine.ALL_PROBES, f"{step.id}: unknown probe {spec['probe']}"
            assert spec.get("fail", "").strip(), f"{step.id}: a failing probe needs advice ('fail')"
        for action in step.solution:
            kind = next(k for k in action if k != "explain")
            assert kind in model.ACTIONS
            if kind == "call":
                assert action["call"]["name"] in engine.local.ACTIONS
    for obj in lab.setup:
        namespace = obj["metadata"].get("namespace") or obj["metadata"]["name"]
        assert obj["kind"] != "Namespace" or namespace in lab.namespaces
        assert obj["kind"] == "Namespace" or namespace in lab.namespaces, f"{obj['kind']} outside the lab"


def test_committed_notebooks_are_the_rendered_catalogue() -> None:
    stale = [str(p.relative_to(ROOT)) for p, text in render.render_all(ROOT).items()
             if not p.exists() or p.read_text() != text]
    assert stale == [], "run 'python -m kubebook.labs.render .' and commit the notebooks"


def test_an_invalid_lab_file_is_a_one_line_error_naming_it() -> None:
    with pytest.raises(ParameterError, match=r"lab file broken\.yaml is invalid"):
        model.parse({"id": "x"}, "broken.yaml")
    with pytest.raises(ParameterError, match="no lab 'nope'"):
        model.get("nope")


# --- NetworkPolicy semantics ---------------------------------------------------------------------------

def end(namespace: str, **labels: str) -> dict:
    return {"namespace": namespace, "namespace_labels": {"kubernetes.io/metadata.name": namespace},
            "labels": labels, "ports": {"http": 8080}, "name": f"{namespace}/{labels}"}


def policy(name: str, namespace: str, spec: dict) -> dict:
    return {"metadata": {"name": name, "namespace": namespace}, "spec": spec}


DENY = policy("deny", "a", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
DNS = policy("dns", "a", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
    "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
    "ports": [{"protocol": "UDP", "port": 53}]}]})


def test_no_policy_allows_and_a_default_deny_isolates_both_directions() -> None:
    web, dns = end("a", app="web"), end("kube-system", **{"k8s-app": "kube-dns"})
    assert netpol._direction([], web, dns, 53, "UDP", "Egress") == (True, [])
    assert netpol._direction([DENY], web, dns, 53, "UDP", "Egress") == (False, ["deny"])
    assert netpol._direction([DENY], web, dns, 80, "TCP", "Ingress")[0] is False


def test_a_peer_needs_both_selectors_and_the_port_and_protocol() -> None:
    web = end("a", app="web")
    assert netpol._direction([DENY, DNS], web, end("kube-system", **{"k8s-app": "kube-dns"}), 53, "UDP",
                             "Egress")[0]
    assert not netpol._direction([DENY, DNS], web, end("kube-system", **{"k8s-app": "kube-dns"}), 53, "TCP",
                                 "Egress")[0]
    assert not netpol._direction([DENY, DNS], web, end("kube-system", **{"k8s-app": "proxy"}), 53, "UDP",
                                 "Egress")[0]
    assert not netpol._direction([DENY, DNS], web, end("other", **{"k8s-app": "kube-dns"}), 53, "UDP",
                                 "Egress")[0]


def test_a_pod_selector_alone_means_the_policys_own_namespace_and_named_ports_resolve() -> None:
    allow = policy("api", "a", {"podSelector": {"matchLabels": {"app": "api"}}, "ingress": [{
        "from": [{"podSelector": {"matchLabels": {"app": "web"}}}], "ports": [{"port": "http"}]}]})
    api = end("a", app="api")
    assert netpol._direction([allow], api, end("a", app="web"), 8080, "TCP", "Ingress")[0]
    assert not netpol._direction([allow], api, end("b", app="web"), 8080, "TCP", "Ingress")[0]
    assert not netpol._direction([allow], api, end("a", app="web"), 9090, "TCP", "Ingress")[0]


def test_match_expressions_follow_the_label_selector_rules() -> None:
    sel = {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["api", "web"]},
                                {"key": "debug", "operator": "DoesNotExist"}]}
    assert netpol.selects(sel, {"tier": "api"})
    assert not netpol.selects(sel, {"tier": "db"})
    assert not netpol.selects(sel, {"tier": "api", "debug": "1"})


# --- admitted pod requirements ------------------------------------------------------------------------

HARDENED = {"securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "c", "securityContext": {"readOnlyRootFilesystem": True,
                                                             "allowPrivilegeEscalation": False,
                                                             "capabilities": {"drop": ["ALL"]}}}]}
REQUIREMENTS = ["non_root", "read_only_root", "drop_all", "no_privilege_escalation", "seccomp_runtime_default"]


@pytest.mark.parametrize("requirement", REQUIREMENTS)
def test_each_requirement_passes_hardened_and_fails_bare_containers(requirement: str) -> None:
    assert _check_requirement(HARDENED, requirement, None) == []
    assert _check_requirement({"containers": [{"name": "c"}]}, requirement, None) != []


def test_a_container_level_root_user_overrides_a_non_root_pod() -> None:
    spec = json.loads(json.dumps(HARDENED))
    spec["containers"][0]["securityContext"]["runAsUser"] = 0
    assert _check_requirement(spec, "non_root", None) == ["c: runAsNonRoot is not true or runAsUser is 0"]


def test_token_and_secret_requirements_read_volumes_and_env() -> None:
    token = {"volumes": [{"name": "kube-api-access-x", "projected": {"sources": [{"serviceAccountToken": {}}]}}],
             "containers": [{"name": "c", "env": [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "db"}}}]}]}
    assert _check_requirement(token, "no_token_mount", None) != []
    assert _check_requirement(token, "no_secret_env", "db") == ["c: env P comes from Secret db"]
    assert _check_requirement(token, "secret_volume", "db") == ["no volume mounts Secret db"]
    assert _check_requirement({"volumes": [{"name": "d", "secret": {"secretName": "db"}}]}, "secret_volume", "db") == []


# --- progress ------------------------------------------------------------------------------------------

def test_progress_counts_checks_hints_and_finishes_once_every_step_passed(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEBOOK_LABS_DIR", str(tmp_path))
    lab = LABS[0]
    ids = [s.id for s in lab.steps]
    progress.record_start(lab.id, who="ada")
    assert engine.hint(lab.id, ids[0], who="ada") == [lab.steps[0].hints[0]]
    assert engine.hint(lab.id, ids[0], who="ada") == list(lab.steps[0].hints[:2])
    for _ in range(len(lab.steps[0].hints) + 2):
        revealed = engine.hint(lab.id, ids[0], who="ada")
    assert revealed == list(lab.steps[0].hints), "hints run out; asking again reveals nothing new"
    assert engine.status(lab.id, who="ada")[0]["hints_used"] == len(lab.steps[0].hints)
    progress.record_start(lab.id, restart=True, who="ada")
    progress.record_checks(lab.id, [StepResult(ids[0], True, "ok")], ids, who="ada")
    summary = engine.status(lab.id, who="ada")[0]
    assert (summary["steps_passed"], summary["hints_used"], summary["finished"]) == (1, 0, None)
    progress.record_checks(lab.id, [StepResult(i, True, "ok") for i in ids], ids, who="ada")
    assert engine.status(lab.id, who="ada")[0]["finished"] is not None
    assert engine.status(lab.id, who="bob")[0]["started"] is None, "progress is per trainee"
    progress.record_checks(lab.id, [StepResult(ids[0], False, "broke it")], ids, who="ada")
    assert engine.status(lab.id, who="ada")[0]["steps_passed"] == len(ids) - 1


def test_a_trainee_name_that_is_not_a_file_name_is_refused() -> None:
    with pytest.raises(ParameterError, match="not usable as a file name"):
        progress.trainee("../etc")


# --- the command line contract -------------------------------------------------------------------------

def kubebook(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The CLI in this process (its import cost is tested elsewhere): exit code, stdout, stderr."""
    from kubebook.cli import main

    try:
        code = main(list(args))
    except SystemExit as stop:
        code = int(stop.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_lab_list_json_has_the_contracted_fields(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = kubebook(capsys, "lab", "list", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert [r["id"] for r in rows] == [lab.id for lab in LABS]
    for row in rows:
        assert {"id", "title", "notebook", "solution", "steps"} <= set(row)
        assert (ROOT / row["notebook"]).is_file() and (ROOT / row["solution"]).is_file()


def test_bad_lab_ids_and_steps_exit_2_before_any_connection(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["check", "nope"], ["reset", "nope"], ["check", "capstone", "--step", "nope"]):
        code, _, err = kubebook(capsys, "lab", *args, "--cluster", "/nonexistent/kubeconfig")
        assert code == 2, (args, err)
        assert err.count("\n") == 1 and err.startswith("kubebook: ") and "nope" in err
    code, _, err = kubebook(capsys, "lab", "hint", "capstone", "nope")
    assert code == 2 and "has no step 'nope'" in err


def test_the_cis_lab_is_graded_from_its_workspace_files_alone(tmp_path: Path) -> None:
    """No cluster needed: the starting manifests fail every step, the solution's flag edits pass each."""
    from kubebook.labs import local
    from kubebook.labs.probes import Context

    lab = model.get("cis-controlplane")
    ctx = Context(cluster=None, lab=lab, workspace=tmp_path)  # type: ignore[arg-type]
    for relative, text in lab.workspace_files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    assert [engine.verify_step(ctx, s).passed for s in lab.steps] == [False] * len(lab.steps)
    for step in lab.steps:
        for action in step.solution:
            local.set_flags(ctx, **action["set_flags"])
        assert engine.verify_step(ctx, step).passed, engine.verify_step(ctx, step).reason
    command = (tmp_path / "manifests" / "kube-apiserver.yaml").read_text()
    assert command.count("--anonymous-auth") == 1 and "--anonymous-auth=false" in command
