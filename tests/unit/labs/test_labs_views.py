"""What a lab notebook shows: verdicts as text and escaped HTML, and which mode it draws in."""

from __future__ import annotations

import pytest

from kubebook.labs import model
from kubebook.labs.model import LabResult, StepResult
from kubebook.views import labs as view


def test_verdicts_read_as_pass_fail_lines_and_escape_the_reason() -> None:
    lab = model.get("rbac-least-privilege")
    result = LabResult(lab.id, [StepResult("can-deploy", True, "allowed"),
                                StepResult("no-secrets", False, "<script>alert(1)</script> can read")])
    shown = view.results_view(lab, result)
    assert repr(shown).splitlines() == ["PASS can-deploy: allowed",
                                        "FAIL no-secrets: <script>alert(1)</script> can read"]
    html = shown._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'data-passed="false"' in html and lab.steps[1].title in html


def test_headless_follows_the_environment_and_plain_python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEBOOK_HEADLESS", "1")
    assert view.headless()
    monkeypatch.setenv("KUBEBOOK_HEADLESS", "0")
    assert view.headless(), "no IPython kernel here: nobody can press a button"


def test_the_intro_card_names_time_prerequisites_and_workspace() -> None:
    lab = model.get("etcd-backup-restore")
    card = view.intro(lab, "/tmp/ws")
    assert f"about {lab.minutes} minutes" in repr(card) and "/tmp/ws" in card._repr_html_()


def test_hints_and_reasons_render_their_code_spans_escaped() -> None:
    assert view.inline("run `kubectl get ns` <now>") == "run <code>kubectl get ns</code> &lt;now&gt;"
    assert "`" not in view.verdict_html(StepResult("s", False, "use `x`"), "t")


def test_a_pass_is_one_line_with_what_was_checked_folded_under_it() -> None:
    wall = "Pod p in lab-vap: refused by ValidatingAdmissionPolicy 'x' " * 10
    shown = view.verdict_html(StepResult("s", True, wall), "Only registry.k8s.io")
    summary = shown.split("<summary>", 1)[1].split("</summary>", 1)[0]
    assert "PASS" in summary and "Only registry.k8s.io" in summary and "refused" not in summary
    assert "<details>" in shown and "refused by" in shown, "the detail is still there, folded"


def test_progress_never_says_0_min_after_most_of_a_minute() -> None:
    base = {"steps_passed": 1, "steps": 3, "hints_used": 0, "started": "2026-12-07T10:00:00Z", "finished": None}
    assert view._label({**base, "seconds": 5, "elapsed_seconds": 59}).endswith("59 s since the start")
    assert view._label({**base, "seconds": 65, "elapsed_seconds": 65}).endswith("1 min 05 s since the start")
    done = {**base, "steps_passed": 3, "finished": "2026-12-07T10:20:00Z", "seconds": 1200, "elapsed_seconds": 1200}
    assert view._label(done).endswith("finished in 20 min 00 s")
    assert view._label({**base, "started": None}) == "not started (0/3 steps)"
    assert view.duration(3725) == "1 h 02 min"


def test_the_terminal_row_says_what_is_wrong_and_how_to_fix_it(monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: pytest.TempPathFactory) -> None:
    from pathlib import Path

    from kubebook.labs import toolchain as term

    kubectl = Path(str(tmp_path)) / "bin" / "kubectl"
    kubectl.parent.mkdir()
    kubectl.write_text("#!/bin/sh\n")
    kubectl.chmod(0o755)
    monkeypatch.setattr(term, "built_kubectl", lambda: kubectl)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")

    class Kube:
        kubeconfig = Path(str(tmp_path)) / "kubeconfig"

    info = term.terminal(Kube())
    assert not info["ready"] and "KUBECONFIG is unset" in info["advice"] and "kubebook lab jupyter" in info["advice"]
    assert f"export PATH={kubectl.parent}:$PATH" in info["advice"]
    card = view.intro(model.get("rbac-least-privilege"), None, info)
    assert "Terminal: NOT SET UP: KUBECONFIG is unset" in repr(card)
    env = term.environment(Kube.kubeconfig, kubectl, {"PATH": "/usr/bin:/bin"})
    monkeypatch.setenv("KUBECONFIG", env["KUBECONFIG"])
    monkeypatch.setenv("PATH", env["PATH"])
    assert term.terminal(Kube())["ready"], term.terminal(Kube())["advice"]
