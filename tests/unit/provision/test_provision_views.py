"""What provision-baseline shows (issue 21): the outcome first, long tables and diffs folded behind a count,
the proof shown (and asked) once."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import nbformat
import pytest

from kubebook.changes import diff_objects, refused
from kubebook.provision import usecase
from kubebook.provision.verify import Control
from kubebook.views import Html
from kubebook.views import provision as view

RUNBOOK = Path(__file__).resolve().parents[3] / "runbooks" / "provision-baseline.ipynb"


def _built(count: int = 70) -> Any:
    objects = [{"apiVersion": "v1", "kind": "ConfigMap" if i % 2 else "Namespace",
                "metadata": {"name": f"o{i}", **({"namespace": "a"} if i % 2 else {})}} for i in range(count)]
    return SimpleNamespace(overlay="prod", objects=objects)


def _controls() -> list[Control]:
    ok = Control("admission", "compliant pod", "prod-web", True, "admitted", "admitted")
    bad = Control("network", "default deny", "prod-web", False, "present", "missing")
    return [ok] * 30 + [bad]


def _html(part: Any) -> str:
    return part.html if isinstance(part, Html) else str(part)


def test_the_overlays_objects_are_folded_behind_their_count() -> None:
    page = _html(view.objects_table(usecase.Baseline(None, _built(), [])))
    assert page.startswith("<details ") and "<details open" not in page
    assert "70 objects in overlay prod: 35 Namespace, 35 ConfigMap" in page


def test_diffs_are_folded_behind_one_line_of_counts_and_refusals_shown_open() -> None:
    changes = [diff_objects(None, o) for o in _built().objects] + [refused("ConfigMap/kube-system/x", "conflict")]
    page = view.changes_folded(changes).html
    assert page.startswith("<details ") and "planned changes (71 objects): 70 create, 1 refused" in page
    outer, _, rest = page.partition("</summary>")
    assert "open" not in outer
    assert '<details open style' in rest and "1 refused by the API server" in rest


def test_the_proof_opens_with_its_headline_failed_controls_open_passed_folded() -> None:
    page = view.proof_view(usecase.proof(_controls())).html
    assert page.index("controls proved") < page.index("1 control(s) failed") < page.index("30 control(s) passed")
    assert page.count("<details open") == 1 and page.count("<details") == 2


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    import IPython.display

    out: list[Any] = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, **_: out.append(obj))
    monkeypatch.setattr(IPython.display, "update_display", lambda obj, **_: out.append(obj))
    return out


def test_the_guard_shows_the_proof_once_and_the_proof_cell_does_not_ask_again(
        shown: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from kubebook import provision
    from kubebook.provision import session

    asked: list[int] = []
    monkeypatch.setattr(provision, "verify", lambda *a, **k: asked.append(1) or _controls())
    from kubebook.provision.apply import ApplyReport

    report = ApplyReport(planned=0)
    monkeypatch.setattr(session, "apply_overlay", lambda *a, **k: report)
    built = _built()
    changes = [diff_objects(None, o) for o in built.objects]
    from kubebook.notebook import guard

    plan = usecase.baseline_of(object(), built, changes, dry_run=False, confirm=True)
    decision = guard(plan, dry_run=False, confirm=True, draw=view.baseline_screen, view=view.changes_folded)
    controls = decision.latest.proof.controls
    assert decision.applied and decision.result.report is report
    assert asked == [1] and len(controls) == 31
    pages = [_html(s) if not isinstance(s, dict) else s.get("text/html", "") for s in shown]
    assert pages[0].startswith("<details ") and "<details open" not in pages[0]  # 70 diffs, one line
    assert sum("controls proved" in p for p in pages) == 1


def test_the_runbook_opens_with_the_outcome_and_shows_the_objects_last() -> None:
    nb = nbformat.read(RUNBOOK, 4)
    code = [c.source for c in nb.cells if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])]
    displaying = [s for s in code if not s.splitlines()[-1].startswith(("record(", "controls =", "target =", "plan ="))]
    assert displaying[0].startswith("decision = guard(plan, ")
    assert displaying[-1] == "view.objects_table(plan)"
    assert not any("controls_table" in s or "controls_headline" in s for s in code)  # the proof is the guard's


def test_an_apply_that_left_a_conflict_says_so_first_and_records_incomplete() -> None:
    from kubebook.notebook import APPLIED, Decision
    from kubebook.provision.apply import Applied, ApplyReport

    report = ApplyReport(entries=[Applied("ConfigMap/kube-system/kubebook-audit", "conflict", "conflict with x")],
                         planned=1)
    page = view.proof_view(usecase.proof(_controls(), report)).html
    assert page.startswith("<details open") and "the apply left 1 conflict(s) and 0 failure(s)" in page
    assert page.index("conflict with x") < page.index("controls proved")
    decided = Decision(APPLIED, {}, "applied", report)
    assert usecase.status(decided.state, decided.result) == "incomplete"
    assert usecase.status(APPLIED, ApplyReport(planned=0)) == "applied"


def test_a_long_server_message_keeps_its_guidance_at_the_end() -> None:
    """A refusal's guidance ("add spec.template.metadata.labels.team") sits at the end of the server's message."""
    from kubebook.provision.verify import _first_line

    message = "admission webhook denied the request:\n" + "context " * 60 + "add spec.template.metadata.labels.team"
    shown = _first_line(message)
    assert shown.endswith("add spec.template.metadata.labels.team") and "\n" not in shown
    assert _first_line("short message") == "short message"
    huge = _first_line("x" * 10_000 + " add the label")
    assert len(huge) <= 1200 and huge.endswith("add the label")
