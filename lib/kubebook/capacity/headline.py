"""The capacity forecast's headline, decided here: the soonest exhaustion and how urgent it is, or the status
that says why there is no number. :mod:`kubebook.views.capacity` draws it (and the synthetic-history banner).

Why here: the view used to decide the tone (under 30 days red, under 90 amber) and kept its own copy of
"which forecast runs out first"; :class:`kubebook.capacity.outlook.Outlook` already decides the second.
"""

from __future__ import annotations

from typing import Any

from kubebook.results import BAD, GOOD, WARN, Headline

URGENT_DAYS, SOON_DAYS = 30, 90  # under 30 days left is red, under 90 amber


def tone(days: float) -> str:
    return BAD if days < URGENT_DAYS else WARN if days < SOON_DAYS else GOOD


def exhaustion(first: Any, counts: dict[str, int], note: str, now: Any) -> Headline:
    """The forecast that runs out first: days left, its 95 % interval, model, backtest error, trend change."""
    low, high = first.interval_95 or (None, None)
    band = (f"95%: {'-' if low is None else f'{low:.1f}'} to "
            f"{'beyond the horizon' if high is None else f'{high:.1f}'} days")
    days = first.days_to_exhaustion
    details = [f"from now ({now:%Y-%m-%d %H:%M} UTC)", f"model {first.model}"]
    if first.backtest_mape is not None:
        details.append(f"backtest error {first.backtest_mape:.1f}%")
    if first.trend_change:
        details.append(f"trend changed {first.trend_change['at'][:10]}: interval covers both trends")
    return Headline(f"First to run out: {first.resource} ({first.basis}) in pool {first.pool}",
                    f"{round(days, 1):g}", unit="days", change=band, tone=tone(days), counts=counts,
                    note="; ".join([*details, note]))


def outlook_headline(result: Any) -> Headline:
    """The outcome of an :class:`~kubebook.capacity.outlook.Outlook`; a status other than ok is amber, never green."""
    entries = result.entries
    counts = {"forecasts": len(entries), "exhausting": sum(e.status == "ok" and e.days_to_exhaustion is not None
                                                             for e in entries)}
    counts.update({k.replace("_", " "): v for k, v in sorted(result.reasons.items()) if k != "ok"})
    note = f"history: {result.source}" + (f"; cluster {result.cluster}" if result.cluster else "")
    first = result.first
    if result.status != "ok":
        return Headline("Capacity runway", result.status, change=result.summary.split(": ", 1)[-1], tone=WARN,
                        counts=counts, note=note)
    if first is None:
        return Headline("Capacity runway", f"no exhaustion within {result.settings.horizon_days:g} days",
                        tone=GOOD, counts=counts, note=note)
    return exhaustion(first, counts, note, result.settings.now())
