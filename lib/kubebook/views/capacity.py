"""What the capacity runbooks show: the outcome first, then cones and tables people can read.

Tables use words and units in their headers (``Days left``, ``Memory now (GiB)``, ``Saving per
month (USD)``), round numbers to what matters (days to 0.1, cores to 0.001, money to cents) and
put long tables behind a count (``<details>``: "Forecasts, 3 running out within the horizon (12)") so the
headline stays on screen. Synthetic history gets a red banner above everything, in the HTML
and as the first words of the plain text.
"""

from __future__ import annotations

import html as html_lib
from collections.abc import Mapping, Sequence
from typing import Any

from kubebook.views import FONT, Html, Message, headline, headline_view, table

GIB = 1024.0**3
CURRENCY = "USD"  # kubebook.capacity.cost.CURRENCY (views do not import engines)
UNITS = {"cpu": "cores", "memory": "GiB", "pods": "pods"}
FORECAST_COLUMNS = ["pool", "resource", "basis", "model", "days_to_exhaustion", "exhaustion_date",
                    "interval_80", "interval_95", "backtest_mape", "interval_coverage", "capacity", "last_used"]
FORECAST_HEADERS = {"pool": "Pool", "resource": "Resource", "basis": "Basis", "status": "Status",
                    "days_to_exhaustion": "Days left", "exhaustion_date": "Runs out (UTC)",
                    "interval_80": "80% interval (days)", "interval_95": "95% interval (days)", "model": "Model",
                    "backtest_mape": "Backtest error (%)", "interval_coverage": "Backtest coverage (95%)",
                    "capacity": "Capacity", "last_used": "Used now", "note": "Note"}
RIGHTSIZE_COLUMNS = ["namespace", "workload", "container", "status", "cpu_request_now", "cpu_request",
                     "memory_request_now_gib", "memory_request_gib", "memory_peak_gib", "oom_kills",
                     "cpu_over_request", "memory_over_limit", "savings_cores", "savings_gib", "savings_per_month"]
RIGHTSIZE_HEADERS = {"namespace": "Namespace", "workload": "Workload", "container": "Container", "status": "Status",
                     "cpu_request_now": "CPU request now (cores)", "cpu_request": "CPU recommended (cores)",
                     "memory_request_now_gib": "Memory request now (GiB)",
                     "memory_request_gib": "Memory recommended (GiB)", "memory_peak_gib": "Memory peak (GiB)",
                     "oom_kills": "OOM kills", "cpu_over_request": "Samples over the new CPU request",
                     "memory_over_limit": "Samples over the new memory limit", "savings_cores": "Saving (cores)",
                     "savings_gib": "Saving (GiB)", "savings_per_month": f"Saving per month ({CURRENCY})"}
NODE_HEADERS = {"pool": "Pool", "nodes_now": "Nodes now", "nodes_needed": "Nodes needed",
                "nodes_needed_forecast": "Nodes needed at the forecast", "cpu_requested": "CPU requested (cores)",
                "memory_requested_gib": "Memory requested (GiB)", "pods": "Pods",
                "scale_down_removed": "Removable by scale-down", "utilization": "Utilization (%)"}
OPEN_ROWS = 10  # tables up to this many rows are shown open; longer ones behind their count


def _scale(resource: str) -> float:
    return GIB if resource == "memory" else 1.0


def _round(value: Any, digits: int = 2) -> Any:
    return round(value, digits) if isinstance(value, float) else value


def _relabel(rows: Sequence[Mapping[str, Any]], headers: Mapping[str, str], columns: Sequence[str]) -> list[dict]:
    return [{headers[c]: row.get(c) for c in columns} for row in rows]


def collapsed(part: Html | Message, title: str, rows: int, open_rows: int = OPEN_ROWS) -> Html | Message:
    """A long table behind "title (count)" (the shared ``views.report.collapsed``); short ones stay open."""
    from kubebook.views.report import collapsed as fold

    return fold(title, rows, part, open_when_at_most=open_rows)  # type: ignore[no-any-return]


def _amount(value: float | None, resource: str) -> str:
    if value is None:
        return ""
    digits = 0 if resource == "pods" else 1 if resource == "memory" else 2
    return f"{value / _scale(resource):,.{digits}f} {UNITS[resource]}"


def forecast_rows(entries: Sequence[Any]) -> list[dict[str, Any]]:
    """One row per forecast, memory in GiB, days rounded, intervals as text."""
    rows = []
    for entry in entries:
        doc = entry.to_json()
        scale = _scale(entry.resource)
        for key in ("capacity", "last_used"):
            doc[key] = None if doc[key] is None else round(doc[key] / scale, 2)
        for key in ("interval_80", "interval_95"):
            bounds = ["beyond horizon" if d is None else f"{d:.1f}" for d in doc[key] or ()]
            doc[key] = f"[{bounds[0]}, {bounds[1]}]" if bounds else ""
        doc["days_to_exhaustion"] = _round(doc["days_to_exhaustion"], 1)
        doc["exhaustion_date"] = (doc["exhaustion_date"] or "")[:16].replace("T", " ")
        doc["backtest_mape"] = _round(doc["backtest_mape"], 1)
        doc["interval_coverage"] = None if doc["interval_coverage"] is None else f"{doc['interval_coverage']:.0%}"
        rows.append(doc)
    return rows


def _display_forecast(entry: Any, row: dict[str, Any]) -> dict[str, Any]:
    shown = dict(row)
    shown["capacity"] = _amount(entry.to_json()["capacity"], entry.resource)
    shown["last_used"] = _amount(entry.to_json()["last_used"], entry.resource)
    if entry.status != "ok":
        shown["days_to_exhaustion"] = entry.status
    elif entry.days_to_exhaustion is None:
        shown["days_to_exhaustion"] = "not within the horizon"
    notes = []
    if entry.trend_change:
        notes.append(f"trend changed {entry.trend_change['at'][:10]}: "
                     f"{entry.trend_change['slope_before_per_day']:.3g} to "
                     f"{entry.trend_change['slope_after_per_day']:.3g} {UNITS[entry.resource]}/day"
                     if entry.resource != "memory" else f"trend changed {entry.trend_change['at'][:10]}")
    if entry.interval_widening and max(entry.interval_widening.values()) > 1.0:
        notes.append(f"interval widened x{entry.interval_widening[95]:.2f} to match the backtest")
    if entry.reason:
        notes.append(entry.reason)
    shown["note"] = "; ".join(notes)
    return shown


def forecast_table(entries: Sequence[Any]) -> Html | Message:
    """Every forecast with words and units, behind a count when long."""
    columns = ["pool", "resource", "basis", "days_to_exhaustion", "exhaustion_date", "interval_80", "interval_95",
               "capacity", "last_used", "model", "backtest_mape", "interval_coverage", "note"]
    rows = [_display_forecast(e, r) for e, r in zip(entries, forecast_rows(entries), strict=True)]
    drawn = table(_relabel(rows, FORECAST_HEADERS, columns), empty="no history to forecast")
    dated = sum(e.status == "ok" and e.days_to_exhaustion is not None for e in entries)
    return collapsed(drawn, f"Forecasts, {dated} running out within the horizon", len(entries))


def synthetic_banner() -> Html:
    """The banner over every part of a report drawn from the bundled demo history."""
    text = "SYNTHETIC DEMO DATA: not this cluster's history. Every number below is made up."
    return Html(f'<div style="{FONT};background:#cf222e;color:white;font-size:1.6em;font-weight:700;'
                f'padding:12px 16px;margin:4px 0 8px 0;border-radius:4px">{html_lib.escape(text)}</div>', text)


def outlook_headline(result: Any) -> Html:
    """The outcome of the forecast as the engine decided it (an Outlook's headline), under the synthetic banner."""
    shown = headline_view(result.headline)
    if not result.synthetic:
        return shown
    banner = synthetic_banner()
    return Html(banner.html + shown.html, f"{banner.plain} | {shown.plain}")


def cone_figure(entry: Any) -> Any:
    """History, forecast mean, 80 % and 95 % bands, capacity, and the exhaustion date with its interval."""
    if entry is None:
        return Message("_no forecast has enough history to draw_")
    import pandas as pd

    from kubebook.views import ensure_plotly

    ensure_plotly()
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
        start = entry.as_of if entry.as_of is not None else entry.last_timestamp
        if low is not None:
            end = start + pd.Timedelta(days=high) if high is not None else future[-1]
            figure.add_vrect(x0=start + pd.Timedelta(days=low), x1=end, fillcolor="#cf222e",
                             opacity=0.08, line_width=0, annotation_text="exhaustion, 95%")
    when = ("no exhaustion within the horizon" if entry.days_to_exhaustion is None
            else f"runs out in {entry.days_to_exhaustion:.1f} days from now")
    figure.update_layout(title=f"{entry.pool} {entry.resource} ({entry.basis}): {when}",
                         yaxis_title=UNITS[entry.resource], xaxis_title="time (UTC)", height=380,
                         margin={"t": 50, "b": 30})
    return figure


def rightsizing_rows(recommendations: Sequence[Any]) -> list[dict[str, Any]]:
    rows = []
    for rec in recommendations:
        doc = rec.to_dict()
        for key in ("memory_request_now", "memory_request", "memory_peak"):
            doc[f"{key}_gib"] = None if doc[key] is None else round(doc[key] / GIB, 3)
        for key in ("cpu_request_now", "cpu_request", "savings_cores", "savings_gib"):
            doc[key] = _round(doc[key], 3)
        doc["savings_per_month"] = _round(doc["savings_per_month"], 2)
        rows.append(doc)
    return sorted(rows, key=lambda r: -(r["savings_per_month"] or 0))


def rightsizing_table(recommendations: Sequence[Any]) -> Html | Message:
    rows = rightsizing_rows(recommendations)
    for row in rows:
        if row["status"] != "ok":
            row["savings_cores"] = row["savings_gib"] = row["savings_per_month"] = None
    drawn = table(_relabel(rows, RIGHTSIZE_HEADERS, RIGHTSIZE_COLUMNS), empty="no containers in the history")
    ok = sum(r["status"] == "ok" for r in rows)
    return collapsed(drawn, f"Containers, {ok} with a recommendation", len(rows))


def savings_headline(totals: Mapping[str, Any], synthetic: bool = False) -> Html:
    counts = {"containers": totals["containers"], "recommended": totals["recommended"],
              "insufficient history": totals["insufficient_history"], "no data": totals.get("no_data", 0),
              "OOM bumped": totals["oom_bumped"]}
    if not totals["recommended"]:
        shown = headline("Rightsizing savings", "no recommendation yet", tone="warn", counts=counts,
                         note="no container has enough measured history")
    else:
        shown = headline("Rightsizing savings", f"{totals['savings_per_month']:,.2f}", unit=f"{CURRENCY} per month",
                         change=f"{totals['savings_cores']:.2f} cores, {totals['savings_gib']:.2f} GiB",
                         tone="good" if totals["savings_per_month"] >= 0 else "warn", counts=counts)
    if not synthetic:
        return shown
    banner = synthetic_banner()
    return Html(banner.html + shown.html, f"{banner.plain} | {shown.plain}")


def nodes_table(plan: Mapping[str, Any]) -> Html | Message:
    rows = [{**p, "memory_requested_gib": round(p["memory_requested"] / GIB, 2),
             "cpu_requested": round(p["cpu_requested"], 2),
             "utilization": None if p.get("utilization") is None else round(100 * p["utilization"], 1)}
            for p in plan["pools"]]
    columns = ["pool", "nodes_now", "nodes_needed", "nodes_needed_forecast", "cpu_requested",
               "memory_requested_gib", "pods", "scale_down_removed", "utilization"]
    return table(_relabel(rows, NODE_HEADERS, columns), empty="no node pools")


def _html(part: Html | Message) -> str:
    return part.html if isinstance(part, Html) else f"<p>{part.strip('_')}</p>"


def cost_report(allocation: Mapping[str, Any], synthetic: bool = False) -> Html:
    """Cost per namespace/team/workload, then the idle cost of each pool, as one block (money to cents)."""
    by = allocation["by"]
    money = f"({CURRENCY})"
    rows = [{by.capitalize(): r[by], "CPU (core-hours)": round(r["cpu_core_hours"], 1),
             "Memory (GiB-hours)": round(r["memory_gib_hours"], 1), f"CPU cost {money}": round(r["cpu_cost"], 2),
             f"Memory cost {money}": round(r["memory_cost"], 2), f"Total {money}": round(r["total_cost"], 2)}
            for r in allocation["rows"]]
    idle = [{"Pool": r["pool"], f"Capacity cost {money}": round(r["capacity_cost"], 2),
             f"Allocated {money}": round(r["allocated_cost"], 2), f"Idle CPU {money}": round(r["idle_cpu_cost"], 2),
             f"Idle memory {money}": round(r["idle_memory_cost"], 2), f"Idle total {money}": round(r["idle_cost"], 2)}
            for r in allocation["idle"]]
    drawn = collapsed(table(rows, empty="no samples"), f"Cost by {by}", len(rows))
    idle_drawn = table(idle, empty="no pool capacity known: idle not computed")
    note = (f"{allocation['window_hours']:.1f} hours, total allocated {allocation['total']:,.2f} {CURRENCY}")
    banner = synthetic_banner() if synthetic else Html("", "")
    return Html(f"{banner.html}<p>{note}</p>{_html(drawn)}<h4>Idle</h4>{_html(idle_drawn)}",
                "\n".join([*([banner.plain] if synthetic else []), note, str(drawn), "", "Idle", str(idle_drawn)]))
