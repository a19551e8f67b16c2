"""What the DR runbooks show: a drill's headline against its targets, its timeline, per-kind tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubebook.views import Html, headline, table

PHASE_COLOURS = {"fingerprint": "#6e7781", "snapshot": "#0969da", "after snapshot": "#8250df",
                 "disaster": "#cf222e", "failure": "#cf222e", "quorum lost": "#cf222e", "restore": "#9a6700",
                 "restart": "#1a7f37", "recover": "#1a7f37", "verify": "#1a7f37", "baseline": "#0969da",
                 "one etcd member and one apiserver lost": "#9a6700", "recovered": "#1a7f37"}


def targets(rto_seconds: float, rpo_objects: int, *, rto_target: float, rpo_target: int,
            lost: int = 0) -> list[dict[str, Any]]:
    """RTO and RPO against their targets, plus objects lost (target 0): one row each, with a verdict."""
    rows = [("RTO (seconds)", rto_seconds, rto_target), ("RPO (objects created after the snapshot)",
                                                         rpo_objects, rpo_target), ("objects lost", lost, 0)]
    return [{"measure": name, "value": value, "target": target, "met": "yes" if value <= target else "NO"}
            for name, value, target in rows]


def drill_headline(result: Mapping[str, Any], *, rto_target: float) -> Html:
    """The outcome in large type: passed/failed, RTO against its target, counts."""
    passed = result["status"] == "passed" and result["rto_seconds"] <= rto_target
    return headline("Full-cluster restore drill", result["status"], tone="good" if passed else "bad",
                    change=f"RTO {result['rto_seconds']:.1f}s (target {rto_target:.0f}s)",
                    counts={"expected": result["expected"], "restored": result["restored"],
                            "lost": len(result["lost"]), "after snapshot": len(result["created_after_snapshot"])},
                    note=f"{result.get('topology', '')} cluster {result.get('cluster', '')}")


def timeline_figure(rows: Sequence[Mapping[str, Any]], title: str = "Drill timeline") -> Any:
    """Each event as a marker at its second, one row per phase; hovering shows what happened."""
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
    return table(list(per_kind), ["kind", "expected", "restored", "lost", "created_after_snapshot"])


def objects_table(items: Sequence[Mapping[str, Any]], empty: str) -> Any:
    return table(list(items), None, empty=empty)


def outcomes_table(outcomes: Sequence[Any]) -> Any:
    """A restore's outcome per object (failed first, with the API server's reason)."""
    order = {"failed": 0, "created": 1, "updated": 2, "skipped": 3, "resumed": 4}
    rows = sorted((o._asdict() for o in outcomes), key=lambda r: (order.get(r["action"], 9), r["key"]))
    return table(rows, ["action", "key", "reason"], code=["key"], empty="nothing restored")
