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
