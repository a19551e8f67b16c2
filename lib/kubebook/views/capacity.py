"""What the capacity runbooks show: the exhaustion headline, forecast cones, rightsizing, nodes, cost."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubebook.views import Html, Message, headline, table

GIB = 1024.0**3
UNITS = {"cpu": "cores", "memory": "GiB", "pods": "pods"}
FORECAST_COLUMNS = ["pool", "resource", "basis", "model", "days_to_exhaustion", "exhaustion_date",
                    "interval_80", "interval_95", "backtest_mape", "interval_coverage", "capacity", "last_used"]
RIGHTSIZE_COLUMNS = ["namespace", "workload", "container", "status", "cpu_request_now", "cpu_request",
                     "memory_request_now_gib", "memory_request_gib", "memory_peak_gib", "oom_kills",
                     "cpu_over_request", "memory_over_limit", "savings_cores", "savings_gib", "savings_per_month"]


def _scale(resource: str) -> float:
    return GIB if resource == "memory" else 1.0


def _round(value: Any, digits: int = 2) -> Any:
    return round(value, digits) if isinstance(value, float) else value


def forecast_rows(entries: Sequence[Any]) -> list[dict[str, Any]]:
    """One row per forecast, memory in GiB, days rounded, intervals as text."""
    rows = []
    for entry in entries:
        doc = entry.to_json()
        scale = _scale(entry.resource)
        for key in ("capacity", "last_used"):
            doc[key] = None if doc[key] is None else round(doc[key] / scale, 2)
        for key in ("interval_80", "interval_95"):
            bounds = ["-" if d is None else f"{d:.1f}" for d in doc[key] or ()]
            doc[key] = f"[{bounds[0]}, {bounds[1]}]" if bounds else ""
        doc["days_to_exhaustion"] = _round(doc["days_to_exhaustion"], 1)
        doc["exhaustion_date"] = (doc["exhaustion_date"] or "")[:16]
        rows.append(doc)
    return rows


def forecast_table(entries: Sequence[Any]) -> Html | Message:
    return table(forecast_rows(entries), FORECAST_COLUMNS, empty="no history to forecast")


def forecast_headline(entries: Sequence[Any], source: str) -> Html:
    """The soonest exhaustion (usage or requests) in large type."""
    dated = [e for e in entries if e.status == "ok" and e.days_to_exhaustion is not None]
    short = sum(e.status != "ok" for e in entries)
    if not dated:
        return headline("Capacity runway", "no exhaustion within the horizon", tone="good",
                        counts={"forecasts": len(entries), "insufficient history": short}, note=f"history: {source}")
    soonest = min(dated, key=lambda e: e.days_to_exhaustion)
    low, high = soonest.interval_95 or (None, None)
    band = f"95%: {low if low is None else round(low, 1)} to {'beyond horizon' if high is None else round(high, 1)} d"
    tone = "bad" if soonest.days_to_exhaustion < 30 else "warn" if soonest.days_to_exhaustion < 90 else "good"
    return headline(f"First to run out: {soonest.resource} ({soonest.basis}) in pool {soonest.pool}",
                    round(soonest.days_to_exhaustion, 1), unit="days", change=band, tone=tone,
                    counts={"forecasts": len(entries), "exhausting": len(dated), "insufficient history": short},
                    note=f"model {soonest.model}, backtest MAPE {soonest.backtest_mape:.2f}%; history: {source}")


def soonest(entries: Sequence[Any]) -> Any:
    """The forecast that runs out first, else the cluster-wide CPU usage one, else the first with a model."""
    dated = [e for e in entries if e.status == "ok" and e.days_to_exhaustion is not None]
    if dated:
        return min(dated, key=lambda e: e.days_to_exhaustion)
    usable = [e for e in entries if e.status == "ok"]
    return next((e for e in usable if (e.pool, e.resource, e.basis) == ("*", "cpu", "usage")),
                usable[0] if usable else None)


def cone_figure(entry: Any) -> Any:
    """History, forecast mean, 80 % and 95 % bands, capacity, and the exhaustion date with its interval."""
    if entry is None:
        return Message("_no forecast has enough history to draw_")
    import pandas as pd
    import plotly.graph_objects as go

    scale = _scale(entry.resource)
    index, values = entry.history
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=index, y=values / scale, name="history", line={"color": "#57606a", "width": 1}))
    if entry.prediction is not None:
        step = pd.Timedelta(seconds=entry.step_seconds)
        future = pd.date_range(index[-1] + step, periods=len(entry.prediction.mean), freq=step)
        for level, colour in ((95, "rgba(9,105,218,0.12)"), (80, "rgba(9,105,218,0.25)")):
            figure.add_trace(go.Scatter(x=future, y=entry.prediction.upper[level] / scale, line={"width": 0},
                                        showlegend=False, hoverinfo="skip"))
            figure.add_trace(go.Scatter(x=future, y=entry.prediction.lower[level] / scale, fill="tonexty",
                                        fillcolor=colour, line={"width": 0}, name=f"{level}% interval"))
        figure.add_trace(go.Scatter(x=future, y=entry.prediction.mean / scale, name=f"forecast ({entry.model})",
                                    line={"color": "#0969da"}))
    figure.add_hline(y=entry.capacity / scale, line={"color": "#cf222e", "dash": "dash"}, annotation_text="capacity")
    if entry.exhaustion_date is not None:
        figure.add_vline(x=entry.exhaustion_date, line={"color": "#cf222e"})
        low, high = entry.interval_95 or (None, None)
        if low is not None:
            end = entry.last_timestamp + pd.Timedelta(days=high) if high is not None else future[-1]
            figure.add_vrect(x0=entry.last_timestamp + pd.Timedelta(days=low), x1=end, fillcolor="#cf222e",
                             opacity=0.08, line_width=0, annotation_text="exhaustion, 95%")
    when = ("no exhaustion within the horizon" if entry.days_to_exhaustion is None
            else f"runs out in {entry.days_to_exhaustion:.1f} days")
    figure.update_layout(title=f"{entry.pool} {entry.resource} ({entry.basis}): {when}",
                         yaxis_title=UNITS[entry.resource], height=380, margin={"t": 50, "b": 30})
    return figure


def rightsizing_rows(recommendations: Sequence[Any]) -> list[dict[str, Any]]:
    rows = []
    for rec in recommendations:
        doc = rec.to_dict()
        for key in ("memory_request_now", "memory_request", "memory_peak"):
            doc[f"{key}_gib"] = None if doc[key] is None else round(doc[key] / GIB, 3)
        for key in ("cpu_request_now", "cpu_request", "savings_cores", "savings_gib", "savings_per_month"):
            doc[key] = _round(doc[key], 3)
        rows.append(doc)
    return sorted(rows, key=lambda r: -(r["savings_per_month"] or 0))


def rightsizing_table(recommendations: Sequence[Any]) -> Html | Message:
    return table(rightsizing_rows(recommendations), RIGHTSIZE_COLUMNS, empty="no containers in the history")


def savings_headline(totals: Mapping[str, Any]) -> Html:
    return headline("Rightsizing savings", totals["savings_per_month"], unit="per month",
                    change=f"{totals['savings_cores']} cores, {totals['savings_gib']} GiB",
                    tone="good" if totals["savings_per_month"] >= 0 else "warn",
                    counts={"containers": totals["containers"], "recommended": totals["recommended"],
                            "insufficient history": totals["insufficient_history"], "OOM bumped": totals["oom_bumped"]})


def nodes_table(plan: Mapping[str, Any]) -> Html | Message:
    rows = [{**p, "memory_requested_gib": round(p["memory_requested"] / GIB, 2)} for p in plan["pools"]]
    return table(rows, ["pool", "nodes_now", "nodes_needed", "nodes_needed_forecast", "cpu_requested",
                        "memory_requested_gib", "pods", "scale_down_removed", "utilization"], empty="no node pools")


def _html(part: Html | Message) -> str:
    return part.html if isinstance(part, Html) else f"<p>{part.strip('_')}</p>"


def cost_report(allocation: Mapping[str, Any]) -> Html:
    """Cost per namespace/team/workload, then the idle cost of each pool, as one block."""
    by = allocation["by"]
    rows = table(allocation["rows"], [by, "cpu_core_hours", "memory_gib_hours", "cpu_cost", "memory_cost",
                                      "total_cost"], empty="no samples")
    idle = table(allocation["idle"], ["pool", "capacity_cost", "allocated_cost", "idle_cpu_cost", "idle_memory_cost",
                                      "idle_cost"], empty="no pool capacity known: idle not computed")
    note = f"{allocation['window_hours']} hours, total allocated {allocation['total']}"
    return Html(f"<p>{note}</p>{_html(rows)}<h4>Idle</h4>{_html(idle)}", f"{note}\n{rows}\n\nIdle\n{idle}")
