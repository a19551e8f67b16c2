"""The shared look of every report: full-text tables, headline, cards, diffs; plotly embeds no library."""

from __future__ import annotations

import pandas as pd
import pytest

from kubebook import views
from kubebook.audit import AuditInventory, posture, run_audit, usecase
from kubebook.changes import diff_objects
from kubebook.views import audit as audit_view
from kubebook.views.changes import changes_view

LONG = "Apply {kind: NetworkPolicy, metadata: {name: default-deny, namespace: shop}} " + "x" * 120


def test_tables_show_full_text_no_index_and_no_none() -> None:
    frame = pd.DataFrame([{"namespace": None, "message": LONG}, {"namespace": "shop", "message": float("nan")}],
                         index=[7, 42])
    shown = views.table(frame)
    assert LONG.replace("{", "{") in shown.html.replace("&#x27;", "'"), "no 50-character cut"
    assert "None" not in shown.html and "NaN" not in shown.html and "nan" not in shown.html
    assert ">42<" not in shown.html and ">7<" not in shown.html, "no index column"
    assert "white-space:pre-wrap" in shown.html
    assert views.table([], ["a"], empty="nothing here")._repr_markdown_() == "_nothing here_"


def test_table_accepts_namedtuples_and_joins_lists() -> None:
    from kubebook.inventory import Namespace

    shown = views.table([Namespace("a", "Active", "", "", "")], ["name", "enforce"])
    assert "a |" in shown.plain
    assert "x, y" in views.table([{"k": ["x", "y"]}]).html


def test_headline_carries_value_change_and_counts() -> None:
    shown = views.headline("posture score", "91.5", unit="/ 100", change="+2.0 since run r1",
                           counts={"critical": 0, "high": 2})
    assert "font-size:2.6em" in shown.html and "91.5" in shown.html and "+2.0 since run r1" in shown.html
    assert shown.plain == "posture score: 91.5 / 100 | +2.0 since run r1 | critical 0, high 2"


def test_risk_cards_carry_the_whole_remediation_and_a_snippet() -> None:
    objects = [{"kind": "Namespace", "metadata": {"name": "app"}},
               {"kind": "Deployment", "metadata": {"name": "web", "namespace": "app"},
                "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}]
    findings = run_audit(AuditInventory.from_objects(objects)).findings
    risks = posture.top_risks(findings, 50)
    cards = audit_view.risk_cards(usecase.risk_cards(risks))  # the engine writes the cards, the view draws
    for remediation in risks["remediation"]:
        assert str(remediation) in cards.plain, "the remediation is shown in full"
    deny = risks[risks["check"] == "network.default-deny-ingress"]
    assert len(deny) == 1
    assert "kind: NetworkPolicy" in cards.html and "namespace: app" in cards.html


def test_changes_view_shows_each_objects_unified_diff() -> None:
    before = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a", "uid": "1"}}
    after = {"apiVersion": "v1", "kind": "Namespace",
             "metadata": {"name": "a", "uid": "1", "labels": {"pod-security.kubernetes.io/enforce": "baseline"}}}
    shown = changes_view([diff_objects(before, after)])
    assert "+    pod-security.kubernetes.io/enforce: baseline" in shown.plain
    assert "None" not in shown.html and "<details open" in shown.html


@pytest.mark.parametrize(("headless", "renderer"), [("1", "plotly_mimetype+kubebook_offline"),
                                                   ("", "plotly_mimetype")])
def test_plotly_embeds_its_library_only_in_headless_runs(monkeypatch: pytest.MonkeyPatch, headless: str,
                                                         renderer: str) -> None:
    import plotly.io as pio

    monkeypatch.setenv("KUBEBOOK_HEADLESS", headless)
    previous = pio.renderers.default
    try:
        views.configure_plotly()
        assert pio.renderers.default == renderer
    finally:
        pio.renderers.default = previous


def test_the_apply_click_redraws_outcome_and_follow_up_where_they_were_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    import IPython.display

    from kubebook import notebook

    shown: list[tuple[str, object, object]] = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, **kw: shown.append(("display", obj, kw.get(
        "display_id"))))
    monkeypatch.setattr(IPython.display, "update_display", lambda obj, **kw: shown.append(("update", obj, kw.get(
        "display_id"))))
    before = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}
    after = {**before, "metadata": {"name": "a", "labels": {"x": "y"}}}
    audits = iter(["re-audit after"])
    decision = notebook.guard([diff_objects(before, after)], lambda: "done", dry_run=False, confirm=False,
                              interactive=True, follow_up=lambda: next(audits))
    assert decision.state == notebook.WAITING
    placeholders = {d for kind, _, d in shown if kind == "display" and d}
    assert set(decision._handles) <= placeholders, "both the outcome and the follow-up have a place to redraw"
    box = next(obj for kind, obj, _ in shown if kind == "display" and hasattr(obj, "children"))
    box.children[0].click()
    updates = {d: obj for kind, obj, d in shown if kind == "update"}
    assert decision.state == notebook.APPLIED and decision.result == "done"
    assert "applied 1 change(s)" in updates[decision._handles[0]]["text/plain"]
    assert updates[decision._handles[1]] == "re-audit after"


def test_headless_figures_carry_no_cdn_script() -> None:
    import plotly.graph_objects as go
    import plotly.io as pio

    views.configure_plotly()
    figure = go.Figure(go.Bar(x=["a"], y=[1]))
    offline = pio.renderers[views.OFFLINE].to_mimebundle(figure.to_dict())["text/html"]
    stock = pio.renderers["notebook"].to_mimebundle(figure.to_dict())["text/html"]
    assert "mathjax" in stock.lower() and "https://" in stock, "plotly's own renderer does call a CDN"
    assert "https://" not in offline and "Plotly.newPlot" in offline
