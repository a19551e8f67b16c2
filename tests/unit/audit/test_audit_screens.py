"""What harden-audit and harden-remediate say on screen agrees with the data beneath it.

The headline is toned by the worst open severity as well as the score and explains what
the number is made of; findings about a Namespace chart under that namespace; a card's
"What to do" agrees with its snippet; only an archived run claims to be the first archived
one; harden-remediate's headline, outcome line, hint and button follow the Apply click.
"""

from __future__ import annotations

from typing import Any

import pytest

from kubebook import notebook
from kubebook.audit import AuditInventory, catalog, posture, remediate, run_audit, usecase
from kubebook.changes import diff_objects
from kubebook.views import TONES
from kubebook.views import audit as view

OBJECTS = [{"kind": "Namespace", "metadata": {"name": "app"}},
           {"kind": "Deployment", "metadata": {"name": "web", "namespace": "app"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}]


def _result() -> Any:
    return run_audit(AuditInventory.from_objects(OBJECTS))


def _headline(result: Any, previous: posture.PreviousRun, **where: Any) -> Any:
    """The engine decides the headline (tone, words); the view draws what it decided."""
    return view.audit_headline(usecase.report(result, previous, **where))


def test_a_high_score_with_open_high_findings_is_not_green() -> None:
    result = _result()
    assert posture.worst_open(result.findings) in ("critical", "high")
    result.score = {**result.score, "overall": 92.1}
    shown = _headline(result, posture.PreviousRun(None, None), archive="/a", run_id="r1")
    assert TONES["good"] not in shown.html and TONES["bad"] in shown.html


def test_a_high_score_with_only_low_findings_is_green() -> None:
    result = _result()
    frame = result.findings
    result._frame = frame[~frame["severity"].isin(["critical", "high", "medium"]) | (frame["result"] == "PASS")]
    result.score = {**result.score, "overall": 95.0}
    assert TONES["good"] in _headline(result, posture.PreviousRun(None, None)).html


def test_only_an_archived_run_claims_to_be_the_first_archived_one() -> None:
    result = _result()
    interactive = _headline(result, posture.PreviousRun(None, None), archive="/reports", run_id=None)
    assert "first archived run" not in interactive.plain and "not archived" in interactive.plain
    archived = _headline(result, posture.PreviousRun(None, None), archive="/reports", run_id="r1")
    assert "first archived run in /reports" in archived.plain


def test_the_headline_explains_the_number() -> None:
    result = _result()
    result.composition = posture.Composition(control_plane="default", waivers="/repo/manifests/w.yaml",
                                             waiver_count=13)
    plain = _headline(result, posture.PreviousRun(None, None), run_id="r1").plain
    for words in ("scored checks pass everywhere", "critical 10, high 5, medium 3, low 1",
                  "waived by 13 waiver(s) in /repo/manifests/w.yaml", "sections: ",
                  "local control plane 'default' included"):
        assert words in plain, (words, plain)
    table = view.sections(usecase.report(result, posture.PreviousRun(None, None)))
    assert "waived findings" in table.plain


def test_namespace_findings_chart_under_their_namespace() -> None:
    findings = _result().findings
    data = posture.by(findings, "namespace")
    enforce = findings[(findings["check"] == "pss.namespace-enforce") & (findings["result"] == "FAIL")]
    assert len(enforce) == 1 and enforce.iloc[0]["kind"] == "Namespace"
    assert data.loc[data["namespace"] == "app", "findings"].sum() >= len(
        posture.open_findings(findings).query("namespace == 'app'")) + 1
    cluster_scoped = posture.open_findings(findings)
    cluster_scoped = cluster_scoped[cluster_scoped["namespace"].isna() & (cluster_scoped["kind"] != "Namespace")]
    assert data.loc[data["namespace"] == "(cluster-scoped)", "findings"].sum() == len(cluster_scoped)


@pytest.mark.parametrize("check", sorted(remediate._SNIPPETS))
def test_a_cards_what_to_do_agrees_with_its_snippet(check: str) -> None:
    body = remediate.snippet(check, "app")
    text = catalog.get(check).remediation
    assert body is not None
    labels = body["metadata"].get("labels") or {}
    if body["kind"] == "Namespace":
        level = labels[remediate.PSA + "enforce"]
        assert f"enforce={level}" in text, (level, text)
    elif body["kind"] == "NetworkPolicy":
        assert body["metadata"]["name"] in text and "DNS" in text, text
    else:
        assert "automountServiceAccountToken" in text and body["automountServiceAccountToken"] is False


def test_cards_and_the_table_never_cut_the_guidance() -> None:
    from kubebook.audit.exporters import render

    long_name = "x" * 200  # a long resource name makes a long message: its guidance must still be there
    result = run_audit(AuditInventory.from_objects([*OBJECTS, {
        "kind": "Deployment", "metadata": {"name": long_name, "namespace": "app"},
        "spec": {"template": {"spec": {"containers": [{"name": long_name, "image": "nginx"}]}}}}]))
    risks = posture.top_risks(result.findings, 50)
    cards = view.risk_cards(usecase.risk_cards(risks))
    for example, remediation in zip(risks["example"], risks["remediation"], strict=True):
        assert str(example) in cards.plain and str(remediation) in cards.plain
    table = render(result, "table")
    for row in result.rows.records(include_passed=False):
        assert row["message"] in table, row["message"]


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Every bundle displayed or updated, with its display id (IPython's display functions captured)."""
    import IPython.display

    seen: list[tuple[str, Any]] = []

    def display(obj: Any = None, *_: Any, display_id: Any = None, raw: bool = False, **__: Any) -> None:
        seen.append(("display", display_id, obj))

    def update_display(obj: Any, *_: Any, display_id: Any = None, raw: bool = False, **__: Any) -> None:
        seen.append(("update", display_id, obj))

    monkeypatch.setattr(IPython.display, "display", display)
    monkeypatch.setattr(IPython.display, "update_display", update_display)
    return seen


def _text(obj: Any) -> str:
    if isinstance(obj, dict):
        return " ".join(str(v) for k, v in obj.items() if k in ("text/plain", "text/html"))
    return f"{getattr(obj, 'plain', '')} {getattr(obj, 'html', '')}"


def _plan() -> tuple[remediate.Plan, list[Any]]:
    """One fix (label a namespace) and its dry-run diff."""
    before = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}}
    body = remediate.psa_body("app")
    plan = remediate.Plan(fixes=[remediate.Fix("pss.namespace-enforce", "Namespace", None, "app", body, "why")])
    return plan, [diff_objects(before, body)]


def test_dry_run_outcome_says_dry_run_once_and_names_the_button_interactively(
        shown: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    plan, changes = _plan()
    monkeypatch.setattr(remediate, "reaudit", lambda cluster, fixes: [])
    result = usecase.remediation_of(None, plan, changes, dry_run=True, confirm=False)
    notebook.guard(result, dry_run=True, confirm=False, name="outcome", draw=view.remediation_screen)
    outcome = " ".join(_text(obj) for _, _, obj in shown)
    assert "dry run: dry run" not in outcome and "dry run</b>: dry run" not in outcome
    decision = notebook.guard(changes, lambda: None, dry_run=True, confirm=False, interactive=True)
    assert "press Apply" in decision.message and "confirm = True" not in decision.message


def test_the_headline_and_button_follow_the_apply_click(shown: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    plan, changes = _plan()
    monkeypatch.setattr(remediate, "apply", lambda cluster, fixes, confirm: changes)
    monkeypatch.setattr(remediate, "reaudit", lambda cluster, fixes: [])
    result = usecase.remediation_of(None, plan, changes, dry_run=False, confirm=False)
    head = view.remediate_headline(result)
    head._ipython_display_()
    assert "waiting" in head.plain and "waiting for confirmation: waiting" not in head.plain
    decision = notebook.guard(result, dry_run=False, confirm=False, name="outcome", draw=view.remediation_screen,
                              interactive=True)
    waiting = " ".join(_text(obj) for _, _, obj in shown)
    assert "waiting for confirmation</b>: waiting for confirmation" not in waiting
    box = next(obj for kind, _, obj in shown if hasattr(obj, "children"))
    button = box.children[0]
    button.click()
    assert decision.applied and button.disabled and button.button_style == "success"
    updates = [obj for kind, handle, obj in shown if kind == "update" and handle == head.display_id]
    assert updates and "applied" in _text(updates[-1]) and "after confirmation" not in _text(updates[-1])
