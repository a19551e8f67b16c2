"""What the DR runbooks show: a drill's headline against its targets, its timeline, per-kind tables.

The verdicts are decided by :mod:`kubebook.dr.outcome`; these functions only draw an Outcome. A runbook
shows its headline first: :func:`headline_slot` holds the place at the top and is filled in once the
drill has run. Long lists (objects lost, created after the snapshot, per kind) sit behind their count.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kubebook.dr.outcome import FAILED, MET, MISSED, NO_DATA, NOT_RUN, PASSED
from kubebook.views import Html, headline, table

if TYPE_CHECKING:  # what is drawn here: kubebook.dr.outcome decides every verdict
    from kubebook.dr.outcome import Outcome, Verdict

PHASE_COLOURS = {"fingerprint": "#6e7781", "snapshot": "#0969da", "after snapshot": "#8250df",
                 "disaster": "#cf222e", "failure": "#cf222e", "quorum lost": "#cf222e", "restore": "#9a6700",
                 "restart": "#1a7f37", "recover": "#1a7f37", "verify": "#1a7f37", "baseline": "#0969da",
                 "one etcd member and one apiserver lost": "#9a6700", "recovered": "#1a7f37"}


TONE = {PASSED: "good", FAILED: "bad", NOT_RUN: "neutral"}
MET_TEXT = {MET: "yes", MISSED: "NO", NO_DATA: "no data"}


def verdict_rows(verdicts: Sequence[Verdict]) -> list[dict[str, Any]]:
    """The engine's verdicts as table rows ("met" in words: yes, NO, no data)."""
    return [{"measure": v.measure, "value": v.value, "target": v.target, "met": MET_TEXT[v.result],
             "reason": v.reason} for v in verdicts]


def verdicts_table(result: Outcome) -> Any:
    return table(verdict_rows(result.verdicts), ["measure", "value", "target", "met", "reason"],
                 empty="no verdicts")


def outcome_headline(result: Outcome) -> Html:
    """The outcome in large type: the result, each figure against its target, what was lost."""
    note = " | ".join(p for p in (result.lost_summary, result.note) if p)
    return headline(result.title, result.result, tone=TONE.get(result.result, "neutral"), change=result.summary,
                    counts=result.counts, note=note)


class HeadlineSlot:
    """The place at the top of a runbook where its headline appears once the drill has run.

    Drawn as a display with an id and updated in place, so the executed notebook (and its archived
    HTML) opens with the outcome even though it is known only after the cells that produce it.
    """

    def __init__(self, title: str) -> None:
        from IPython.display import display

        self.display_id = f"kubebook-headline-{uuid.uuid4().hex}"
        display(headline(title, "pending", note="the outcome appears here when the run has finished"),
                display_id=self.display_id)

    def show(self, drawn: Any) -> None:
        from IPython.display import update_display

        update_display(drawn, display_id=self.display_id)


def headline_slot(title: str) -> HeadlineSlot:
    return HeadlineSlot(title)


def behind_count(drawn: Any, count: int, what: str, *, open_when_at_most: int = 0) -> Any:
    """A long table folded behind "what (count)" (the shared :func:`kubebook.views.report.collapsed`)."""
    from kubebook.views.report import collapsed

    return collapsed(what, count, drawn, open_when_at_most=open_when_at_most)


def timeline_figure(rows: Sequence[Mapping[str, Any]], title: str = "Drill timeline") -> Any:
    """Each event as a marker at its second, one row per phase; hovering shows what happened."""
    from kubebook.views import ensure_plotly

    ensure_plotly()
    import plotly.graph_objects as go

    figure = go.Figure()
    phases: list[str] = []
    for row in rows:
        if row["phase"] not in phases:
            phases.append(row["phase"])
    for phase in phases:
        events = [r for r in rows if r["phase"] == phase]
        figure.add_trace(go.Scatter(
            x=[r["at"] for r in events], y=[phase] * len(events), mode="markers", name=phase,
            marker={"size": 12, "color": PHASE_COLOURS.get(phase, "#57606a")},
            text=[r["what"] for r in events], hovertemplate="%{x:.2f}s: %{text}<extra></extra>"))
    marks = {r["phase"]: r["at"] for r in rows if r["what"] in ("declared", "cluster up")}
    for label, at in marks.items():
        figure.add_vline(x=at, line_dash="dash", line_color="#cf222e", annotation_text=label)
    figure.update_layout(title=title, xaxis_title="seconds since the drill started", showlegend=False,
                         height=120 + 40 * len(phases), margin={"l": 10, "r": 10, "t": 50, "b": 40})
    figure.update_yaxes(categoryorder="array", categoryarray=list(reversed(phases)))
    return figure


def per_kind_table(per_kind: Sequence[Mapping[str, Any]]) -> Any:
    drawn = table(list(per_kind), ["kind", "expected", "restored", "lost", "created_after_snapshot"])
    return behind_count(drawn, len(per_kind), "kinds", open_when_at_most=0)


def snapshots_table(rows: Sequence[Mapping[str, Any]], empty: str = "no snapshots") -> Any:
    """Archived snapshots (newest first), behind their count."""
    drawn = table(list(rows), ["run_id", "taken", "revision", "total_keys", "size", "verified"], empty=empty)
    return behind_count(drawn, len(rows), "snapshots kept", open_when_at_most=3)


def phases_table(phases: Sequence[Mapping[str, Any]], empty: str) -> Any:
    """The member-loss drill's writes per phase."""
    return table(list(phases), ["phase", "writes", "ok", "failed", "errors"], empty=empty)


def objects_table(items: Sequence[Mapping[str, Any]], empty: str, what: str = "objects") -> Any:
    return behind_count(table(list(items), None, empty=empty), len(items), what, open_when_at_most=5)


def outcomes_table(outcomes: Sequence[Any]) -> Any:
    """A restore's outcome per object (failed first, with the API server's reason)."""
    order = {"failed": 0, "created": 1, "updated": 2, "skipped": 3, "resumed": 4}
    rows = sorted((o._asdict() for o in outcomes), key=lambda r: (order.get(r["action"], 9), r["key"]))
    return table(rows, ["action", "key", "reason"], code=["key"], empty="nothing restored")
