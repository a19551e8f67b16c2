"""harden-audit and harden-remediate on screen: headline, charts, top-risk cards, run diff, finding tables."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kubebook.audit.model import SEVERITIES
from kubebook.views import SEVERITY_COLOURS, Html, Message, cards, headline_view, table

if TYPE_CHECKING:  # the results drawn here; this module calls no engine
    from kubebook.audit.usecase import PostureReport, Remediation

FINDING_COLUMNS = ["severity", "check", "kind", "namespace", "name", "result", "message"]


def audit_headline(report: PostureReport) -> Html:
    """The score in large type, toned by the engine, and what the number is made of."""
    return headline_view(report.headline)


def sections(report: PostureReport) -> Html | Message:
    """Score per section: score, checks passed of scored, and the findings waivers left out of it."""
    return table(report.sections, ["section", "score", "passed", "checks", "waived findings"],
                 empty="no scored check was evaluated")


def chart(report: PostureReport, column: str, title: str) -> Any:
    """Open findings counted by ``column``, stacked by severity (a message when nothing is open)."""
    data = report.by[column]
    if data.empty:
        return Message("_No open findings._")
    from kubebook.views import ensure_plotly

    ensure_plotly()
    import plotly.express as px

    return px.bar(data, x=column, y="findings", color="severity", title=title,
                  category_orders={"severity": list(SEVERITIES)}, color_discrete_map=SEVERITY_COLOURS)


def risk_cards(items: PostureReport | Sequence[Mapping[str, Any]]) -> Html | Message:
    """The top risks as cards: what is wrong, where, and what to do - in full, with a snippet where one exists."""
    shown = getattr(items, "risk_cards", items)
    return cards(list(shown), empty="No open findings: nothing to remediate.")


def run_diff(report: PostureReport) -> Html | Message:
    """New, fixed and still-open findings against the previous run, cluster-scoped ones with an empty namespace."""
    title = report.diff_title
    shown = table(report.run_diff, ["status", "check", "kind", "namespace", "name"],
                  empty="nothing open, nothing fixed")
    return Html(f"<p><b>{html.escape(title)}</b></p>" + (shown.html if isinstance(shown, Html) else f"<p>{shown}</p>"),
                f"{title}\n{shown}")


def open_findings(report: PostureReport) -> Html | Message:
    """Every open finding with its full message, most severe first (the engine's order)."""
    return table(report.open_findings, FINDING_COLUMNS, code=("check",), empty="No open findings.")


def plan_table(result: Remediation) -> Html | Message:
    return table(result.plan.rows(), ["fix", "check", "reason"], code=("fix",), empty="Nothing to fix.")


def skipped_table(result: Remediation) -> Html | Message:
    return table(result.plan.skipped, ["namespace", "reason"], empty="Nothing was skipped.")


def reaudit_view(result: Remediation) -> Html | Message:
    """The re-audit of the planned checks: still failing in the headline, then every row."""
    rows = result.reaudit or []
    shown = table(list(rows), ["check", "kind", "namespace", "name", "result", "message"],
                  empty="No planned check to re-audit.")
    head = headline_view(result.reaudit_headline)
    return Html(head.html + (shown.html if isinstance(shown, Html) else ""), f"{head.plain}\n{shown}")


def remediate_headline(result: Remediation) -> Any:
    """What this run will do, shown so that the guard redraws it after Apply from what the follow-up did."""
    from kubebook.notebook import live

    return live(result, "headline", headline_view(result.headline))


class _Recorded(Html):
    """An Html view that also records one named value (so a redrawn view updates the record too)."""

    def __init__(self, html_text: str, plain: str, name: str, value: Any) -> None:
        super().__init__(html_text, plain)
        self.name, self.value = name, value

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from kubebook.notebook import RECORD_MIME

        return {"text/html": self.html, "text/plain": self.plain,
                RECORD_MIME: {"name": self.name, "value": self.value}}


def remediation_screen(result: Remediation) -> dict[str, Any]:
    """The parts of harden-remediate's screen the guard draws: the headline (redrawn above) and the
    re-audit below the outcome, which also records ``still_failing``."""
    shown = reaudit_view(result)
    follow = _Recorded(shown.html if isinstance(shown, Html) else str(shown), str(shown), "still_failing",
                       result.still_failing)
    return {"headline": headline_view(result.headline), "follow_up": follow}
