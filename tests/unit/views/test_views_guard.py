"""After Apply the guard redraws every part of the screen from the follow-up's result, not from the plan.

Before issue 22 harden-remediate's headline was redrawn after the click from the plan it cached
("1 change(s) applied", green) even when the re-audit below it found the fix had not taken.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pytest

from kubebook import notebook
from kubebook.audit import remediate, usecase
from kubebook.changes import diff_objects
from kubebook.results import Headline
from kubebook.views import TONES, headline_view
from kubebook.views import audit as view


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any, Any]]:
    import IPython.display

    seen: list[tuple[str, Any, Any]] = []
    monkeypatch.setattr(IPython.display, "display",
                        lambda obj=None, *_, display_id=None, **__: seen.append(("display", display_id, obj)))
    monkeypatch.setattr(IPython.display, "update_display",
                        lambda obj, *_, display_id=None, **__: seen.append(("update", display_id, obj)))
    return seen


def _text(obj: Any) -> str:
    if isinstance(obj, dict):
        return " ".join(str(v) for k, v in obj.items() if k in ("text/plain", "text/html"))
    return f"{getattr(obj, 'plain', '')} {getattr(obj, 'html', '')}"


def _click(seen: list[tuple[str, Any, Any]]) -> None:
    box = next(obj for _, _, obj in seen if hasattr(obj, "children"))
    box.children[0].click()


NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}}


@dataclass(eq=False)
class FakePlan:
    """A mutating use case: one change; its follow-up returns a result with a new headline."""

    changes: list[Any]
    headline: Headline
    calls: int = 0

    def follow_up(self) -> FakePlan:
        self.calls += 1
        return dataclasses.replace(self, headline=Headline("the plan", "3 applied", tone="good"))


def _screen(result: FakePlan) -> dict[str, Any]:
    return {"headline": headline_view(result.headline), "follow_up": headline_view(result.headline)}


def test_apply_redraws_the_headline_above_and_the_follow_up_from_the_new_result(shown: list[Any]) -> None:
    plan = FakePlan([diff_objects(NS, {**NS, "metadata": {"name": "app", "labels": {"a": "b"}}})],
                    Headline("the plan", "3 waiting", tone="warn"))
    head = notebook.live(plan, "headline", headline_view(plan.headline))
    head._ipython_display_()
    decision = notebook.guard(plan, dry_run=False, confirm=False, draw=_screen, interactive=True)
    assert decision.state == notebook.WAITING and plan.calls == 0
    _click(shown)
    assert plan.calls == 1 and decision.applied
    assert decision.latest.headline.value == "3 applied" and decision.result is decision.latest
    redrawn = [obj for kind, handle, obj in shown if kind == "update" and handle == head.display_id]
    assert redrawn and "3 applied" in _text(redrawn[-1]) and "3 waiting" not in _text(redrawn[-1])
    below = [obj for kind, handle, obj in shown if kind == "update" and handle == decision._handles[1]]
    assert below and "3 applied" in _text(below[-1])


def test_a_confirmed_apply_redraws_the_headline_drawn_in_an_earlier_cell(shown: list[Any]) -> None:
    plan = FakePlan([diff_objects(None, NS)], Headline("the plan", "3 waiting", tone="warn"))
    head = notebook.live(plan, "headline", headline_view(plan.headline))
    head._ipython_display_()
    notebook.guard(plan, dry_run=False, confirm=True, draw=_screen)
    redrawn = [obj for kind, handle, obj in shown if kind == "update" and handle == head.display_id]
    assert redrawn and "3 applied" in _text(redrawn[-1])


def test_remediation_headline_after_apply_says_what_the_reaudit_found(shown: list[Any],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    body = remediate.psa_body("app")
    plan = remediate.Plan(fixes=[remediate.Fix("pss.namespace-enforce", "Namespace", None, "app", body, "why")])
    changes = [diff_objects(NS, body)]
    monkeypatch.setattr(remediate, "apply", lambda cluster, fixes, confirm: changes)
    still = [{"check": "pss.namespace-enforce", "kind": "Namespace", "namespace": None, "name": "app",
              "result": "FAIL", "message": "an admission webhook took the label off"}]
    monkeypatch.setattr(remediate, "reaudit", lambda cluster, fixes: still)
    result = usecase.remediation_of(None, plan, changes, dry_run=False, confirm=False)
    head = view.remediate_headline(result)
    head._ipython_display_()
    decision = notebook.guard(result, dry_run=False, confirm=False, name="outcome", draw=view.remediation_screen,
                              interactive=True)
    _click(shown)
    redrawn = [obj for kind, handle, obj in shown if kind == "update" and handle == head.display_id]
    assert redrawn, "the headline above the guard was not redrawn after Apply"
    text = _text(redrawn[-1])
    assert "applied" in text and "1 planned check(s) still failing" in text and TONES["bad"] in text
    with pytest.raises(Exception, match="still fail"):
        decision.latest.status()
