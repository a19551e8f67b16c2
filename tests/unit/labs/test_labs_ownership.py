"""A lab takes over and deletes only what it created; a check is credited only to the attempt's trainee;
progress is signed, so a hand edit, a copy or a corrupt file never counts; errors read as one line.

A small in-memory API server stands in for the cluster: these rules are decided before any probe runs
(the real-cluster proof of the happy paths is tests/cluster/test_labs_live.py).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kubebook import labs
from kubebook.errors import ApiError, ParameterError
from kubebook.labs import engine, model, ownership, progress
from kubebook.labs.errors import LabRefused, LabSetupError, NotStarted, ProgressTampered

RESOURCES_MESSAGE = ("deployments.apps \"api\" is forbidden: ValidatingAdmissionPolicy 'kubebook-resources' with "
                     "binding 'kubebook-resources' denied request: container api must set resources.requests.cpu,\n"
                     "  resources.requests.memory, resources.limits.cpu and resources.limits.memory")


def stamp(delta: float = 0.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeCluster:
    """Objects by (kind, namespace, name); apply merges labels and annotations; namespaces get 'default'."""

    kubeconfig = None

    def __init__(self, refuse: dict[str, str] | None = None) -> None:
        self.objects: dict[tuple[str, str | None, str], dict[str, Any]] = {}
        self.refuse = refuse or {}
        self.writes = 0

    def add(self, obj: dict[str, Any]) -> None:
        meta = obj.setdefault("metadata", {})
        meta.setdefault("creationTimestamp", stamp())
        self.objects[(obj["kind"], meta.get("namespace"), meta["name"])] = obj

    def get_object(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Any:
        found = self.objects.get((kind, namespace, name))
        return copy.deepcopy(found) if found else None

    def apply_object(self, obj: dict[str, Any], *, field_manager: str, **_: Any) -> dict[str, Any]:
        if obj["kind"] in self.refuse:
            raise ApiError(self.refuse[obj["kind"]], status=403, reason="Forbidden")
        self.writes += 1
        meta = obj["metadata"]
        key = (obj["kind"], meta.get("namespace"), meta["name"])
        current = self.objects.get(key) or {"apiVersion": obj["apiVersion"], "kind": obj["kind"],
                                             "metadata": {"name": meta["name"], "creationTimestamp": stamp()}}
        if meta.get("namespace"):
            current["metadata"]["namespace"] = meta["namespace"]
        for part in ("labels", "annotations"):
            if meta.get(part):
                current["metadata"].setdefault(part, {}).update(meta[part])
        current.update({k: v for k, v in obj.items() if k not in ("metadata", "apiVersion", "kind")})
        current["metadata"]["managedFields"] = [{"manager": field_manager, "time": stamp()}]
        self.objects[key] = current
        if obj["kind"] == "Namespace":
            self.objects.setdefault(("ServiceAccount", meta["name"], "default"),
                                    {"kind": "ServiceAccount", "metadata": {"name": "default"}})
        return copy.deepcopy(current)

    def delete_object(self, api_version: str, kind: str, name: str, namespace: str | None = None, **_: Any) -> bool:
        self.writes += 1
        return self.objects.pop((kind, namespace, name), None) is not None

    def list_objects(self, api_version: str, kind: str, namespace: str | None = None, **_: Any) -> Iterator[Any]:
        return iter([copy.deepcopy(o) for (k, ns, _), o in self.objects.items() if k == kind and ns == namespace])

    def request(self, *_: Any, **__: Any) -> Any:
        raise ApiError("not served by the fake", status=404)

    def create_object(self, *_: Any, **__: Any) -> Any:
        raise ApiError("not served by the fake", status=404)

    def impersonate(self, *_: Any) -> FakeCluster:
        return self

    def object_path(self, *parts: Any) -> str:
        return "/" + "/".join(str(p) for p in parts if p)


@pytest.fixture(autouse=True)
def labs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KUBEBOOK_LABS_DIR", str(tmp_path))
    monkeypatch.delenv("KUBEBOOK_LABS_KEY", raising=False)
    return tmp_path


def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, fake: FakeCluster,
        *args: str) -> tuple[int, str, str]:
    import kubebook.cluster
    from kubebook.cli import main

    monkeypatch.setattr(kubebook.cluster, "connect", lambda *_a, **_k: fake)
    try:
        code = main(list(args))
    except SystemExit as stop:
        code = int(stop.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


# --- ownership (issue 23) ----------------------------------------------------------------------------------

def test_a_namespace_the_lab_did_not_create_is_refused_at_start_exit_2_and_left_as_it_was(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeCluster()
    fake.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lab-rbac"}})
    fake.add({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "mine", "namespace": "lab-rbac"},
              "data": {"k": "v"}})
    before = copy.deepcopy(fake.objects)
    code, _, err = cli(capsys, monkeypatch, fake, "lab", "start", "rbac-least-privilege", "--trainee", "ada")
    assert code == 2 and err.count("\n") == 1, err
    assert "namespace lab-rbac (not created by lab rbac-least-privilege" in err and "nothing was changed" in err
    assert fake.objects == before and fake.writes == 0
    with pytest.raises(LabRefused):
        labs.reset(fake, "rbac-least-privilege", who="ada")  # type: ignore[arg-type]
    assert fake.objects == before and fake.writes == 0, "reset deletes nothing the lab did not create"


def vap(created: str) -> dict[str, Any]:
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": "lab-vap-image-provenance", "creationTimestamp": created}, "spec": {"x": 1}}


def test_a_policy_named_like_the_labs_that_someone_else_made_is_refused_at_start_and_kept_by_reset() -> None:
    fake = FakeCluster()
    fake.add(vap(stamp(-3600)))
    with pytest.raises(LabRefused, match=r"ValidatingAdmissionPolicy lab-vap-image-provenance .*not the lab's"):
        labs.start(fake, "vap-image-provenance", who="ada")  # type: ignore[arg-type]
    assert fake.get_object("v1", "Namespace", "lab-vap") is None, "nothing was set up"
    fake.objects.clear()
    labs.start(fake, "vap-image-provenance", who="ada")  # type: ignore[arg-type]
    fake.add(vap(stamp(-3600)))  # someone else's, older than the attempt
    with pytest.raises(LabRefused, match="before this lab's attempt began"):
        labs.reset(fake, "vap-image-provenance", who="ada")  # type: ignore[arg-type]
    assert fake.get_object("x", "ValidatingAdmissionPolicy", "lab-vap-image-provenance") is not None


def test_start_marks_what_it_creates_and_the_attempt_on_the_first_namespace() -> None:
    fake = FakeCluster()
    labs.start(fake, "pod-security-restricted", who="ada")  # type: ignore[arg-type]
    for ns in model.get("pod-security-restricted").namespaces:
        assert fake.objects[("Namespace", None, ns)]["metadata"]["labels"][ownership.LAB_LABEL] == \
            "pod-security-restricted"
    held = ownership.holder(fake, model.get("pod-security-restricted"))  # type: ignore[arg-type]
    assert held and held.trainee == "ada" and held.id == progress.load("ada")["labs"]["pod-security-restricted"][
        "attempt"]


def test_reset_holds_a_lock_and_journals_its_intent_before_deleting(labs_dir: Path) -> None:
    from filelock import FileLock

    lab = model.get("rbac-least-privilege")
    (labs_dir / "journal").mkdir()
    with FileLock(str(labs_dir / "journal" / f"{lab.id}.lock")), \
            pytest.raises(ParameterError, match="another reset of lab rbac-least-privilege is running"):
        labs.reset(FakeCluster(), lab.id, who="ada")  # type: ignore[arg-type]
    journal = labs_dir / "journal" / f"{lab.id}.jsonl"
    with ownership.resetting(lab, "ada", ["everything in namespace lab-rbac"], None):
        intent = json.loads(journal.read_text().splitlines()[-1])
        assert (intent["state"], intent["trainee"], intent["deletes"]) == ("intent", "ada",
                                                                          ["everything in namespace lab-rbac"])
        assert ownership.unfinished(lab.id) == intent
    assert json.loads(journal.read_text().splitlines()[-1])["state"] == "done" and ownership.unfinished(lab.id) is None


def test_a_reset_killed_midway_is_named_by_the_next_start() -> None:
    lab = model.get("rbac-least-privilege")
    with pytest.raises(RuntimeError), ownership.resetting(lab, "ada", [], None):
        raise RuntimeError("killed")
    with pytest.raises(LabRefused, match="a reset of lab rbac-least-privilege stopped midway"):
        labs.start(FakeCluster(), lab.id, who="ada")  # type: ignore[arg-type]


# --- attempts: only the trainee who started is credited --------------------------------------------------

def test_a_trainee_who_never_started_gets_not_started_exit_2_not_the_other_trainees_result(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeCluster()
    labs.start(fake, "rbac-least-privilege", who="bob")  # type: ignore[arg-type]
    code, out, err = cli(capsys, monkeypatch, fake, "lab", "check", "rbac-least-privilege", "--trainee", "carol")
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "trainee carol has not started lab rbac-least-privilege" in err and "bob" in err
    assert labs.status("rbac-least-privilege", who="carol")[0]["started"] is None
    with pytest.raises(LabRefused, match="in progress for trainee bob"):
        labs.start(fake, "rbac-least-privilege", who="carol")  # type: ignore[arg-type]
    code, _, err = cli(capsys, monkeypatch, fake, "lab", "check", "rbac-least-privilege", "--trainee", "bob")
    assert code == 1, err  # bob's own attempt is checked (and fails: the fake serves few probes)
    assert labs.status("rbac-least-privilege", who="bob")[0]["started"] is not None
    fresh = FakeCluster()
    with pytest.raises(NotStarted, match="is not started on this cluster"):
        labs.check(fresh, "rbac-least-privilege", who="bob")  # type: ignore[arg-type]


def test_a_check_of_an_old_attempt_is_not_credited_after_someone_reset_the_lab() -> None:
    fake = FakeCluster()
    lab = model.get("rbac-least-privilege")
    labs.start(fake, lab.id, who="bob")  # type: ignore[arg-type]
    fake.objects[("Namespace", None, "lab-rbac")]["metadata"]["annotations"].update(
        {ownership.TRAINEE: "dave", ownership.ATTEMPT: "another"})
    with pytest.raises(NotStarted, match="trainee dave"):
        labs.check(fake, lab.id, who="bob")  # type: ignore[arg-type]


def test_hints_are_counted_only_within_a_started_attempt() -> None:
    with pytest.raises(NotStarted, match="has not started lab capstone"):
        labs.hint("capstone", "restricted", who="nobody")


# --- signed progress -------------------------------------------------------------------------------------

def passed_all(who: str) -> Path:
    lab = model.get("rbac-least-privilege")
    attempt = progress.record_start(lab.id, who=who)
    progress.record_checks(lab.id, [model.StepResult(lab.steps[0].id, True, "ok")], [s.id for s in lab.steps],
                           who=who, attempt=attempt)
    return progress.labs_dir() / "progress" / f"{who}.json"


def test_a_hand_edit_of_the_progress_reads_as_tampered_exit_2(capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path = passed_all("bob")
    assert labs.status("rbac-least-privilege", who="bob")[0]["steps_passed"] == 1
    doc = json.loads(path.read_text())
    for step in model.get("rbac-least-privilege").steps:
        doc["labs"]["rbac-least-privilege"]["steps"][step.id] = {"checks": 1, "passed_at": stamp()}
    doc["labs"]["rbac-least-privilege"]["finished"] = stamp()
    path.write_text(json.dumps(doc))
    with pytest.raises(ProgressTampered, match="reads as tampered"):
        labs.status("rbac-least-privilege", who="bob")
    code, out, err = cli(capsys, monkeypatch, FakeCluster(), "lab", "status", "--trainee", "bob")
    assert code == 2 and out == "" and err.count("\n") == 1 and "tampered" in err, err


def test_a_copied_or_unsigned_progress_file_is_no_record_either() -> None:
    path = passed_all("bob")
    (path.parent / "carol.json").write_text(path.read_text())
    with pytest.raises(ProgressTampered):
        labs.status(who="carol")
    doc = json.loads(path.read_text())
    doc.pop("signature")
    path.write_text(json.dumps(doc))
    with pytest.raises(ProgressTampered):
        labs.status(who="bob")


def test_a_corrupt_progress_file_is_one_line_exit_2(capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path = passed_all("bob")
    path.write_text('{"labs": {')
    code, _, err = cli(capsys, monkeypatch, FakeCluster(), "lab", "status", "--trainee", "bob")
    assert code == 2 and err.count("\n") == 1 and "corrupt (not JSON" in err and "Traceback" not in err, err


def test_the_key_lives_outside_the_progress_folder_and_is_private(labs_dir: Path) -> None:
    passed_all("bob")
    key = progress.key_path()
    assert key.parent != labs_dir / "progress" and key.stat().st_mode & 0o077 == 0


# --- one line in a notebook ------------------------------------------------------------------------------

def test_a_setup_the_baseline_refuses_is_one_line_in_a_notebook_not_a_traceback(
        capsys: pytest.CaptureFixture[str]) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    fake = FakeCluster(refuse={"Deployment": RESOURCES_MESSAGE})
    with pytest.raises(LabSetupError) as raised:
        engine.start(fake, "pod-security-restricted", who="ada")  # type: ignore[arg-type]
    assert "\n" not in str(raised.value)
    assert "the API server refused Deployment lab-psa/api: deployments.apps" in str(raised.value)
    shell = InteractiveShell.instance()
    try:
        shell.user_ns["cluster"] = fake
        capsys.readouterr()
        shell.run_cell('import kubebook.labs\nlab = kubebook.labs.start(cluster, "pod-security-restricted", who="ada")')
        shown = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    finally:
        InteractiveShell.clear_instance()
    assert len(shown) == 1 and shown[0].startswith("LabSetupError: lab pod-security-restricted could not be set up"), \
        shown
    assert "kubebook-resources" in shown[0] and "Traceback" not in shown[0]
