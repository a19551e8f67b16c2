"""The capacity forecast use case: one answer for the CLI, the runbook, the schedule and ``make run``.

Why a face: the runbook and ``kubebook capacity forecast`` used to decide separately what too
little history means (the runbook fell back to demo data and headlined its "26.9 days", the
CLI said ``insufficient_history`` on the same store). :func:`outlook` decides once: the overall
``status`` (``ok`` when at least one forecast has a number; else ``no_data`` for an empty
history, else the reason every forecast gave: ``insufficient_history`` with how much history
exists and how much is needed, ``stale_history`` or ``invalid_input``), the soonest exhaustion,
and whether the history is synthetic. Views draw it; nothing else composes the engines for it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from kubebook.capacity import forecast
from kubebook.capacity.history import History

NO_DATA = "no_data"


@dataclass
class Outlook:
    """The forecast of a whole history: status, entries, how much history there is and what it is."""

    status: str
    entries: list[forecast.ForecastEntry]
    settings: forecast.Settings
    history_days: float
    source: str
    synthetic: bool = False
    cluster: str = ""
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def first(self) -> forecast.ForecastEntry | None:
        """The forecast that runs out soonest (None when none does within the horizon)."""
        dated = [e for e in self.entries if e.status == "ok" and e.days_to_exhaustion is not None]
        return min(dated, key=lambda e: e.days_to_exhaustion) if dated else None  # type: ignore[arg-type, return-value]

    @property
    def cone(self) -> forecast.ForecastEntry | None:
        """The forecast the cone draws: the soonest exhaustion, else the cluster-wide CPU usage forecast,
        else the first with a model (None: no forecast has enough history to draw)."""
        if self.first is not None:
            return self.first
        usable = [e for e in self.entries if e.status == "ok"]
        return next((e for e in usable if (e.pool, e.resource, e.basis) == ("*", "cpu", "usage")),
                    usable[0] if usable else None)

    @property
    def days_to_exhaustion(self) -> float | None:
        first = self.first
        return None if first is None else first.days_to_exhaustion

    @property
    def summary(self) -> str:
        """One line that says the outcome, the same in the CLI and in the runbook's headline."""
        needed = self.settings.min_history_days
        if self.status == NO_DATA:
            return "no_data: the history holds no samples"
        if self.status == forecast.INSUFFICIENT:
            return (f"insufficient_history: {self.history_days:.2f} days of history, at least {needed:g} needed "
                    f"({needed - self.history_days:.2f} more)")
        if self.status != "ok":
            reason = next((e.reason for e in self.entries if e.status == self.status), "")
            return f"{self.status}: {reason}"
        first = self.first
        if first is None:
            return f"ok: no exhaustion within {self.settings.horizon_days:g} days"
        return (f"ok: {first.resource} ({first.basis}) in pool {first.pool} runs out in "
                f"{first.days_to_exhaustion:.1f} days")

    @property
    def headline(self) -> Any:
        """The runbook's headline (a :class:`kubebook.results.Headline`): see :mod:`kubebook.capacity.headline`."""
        from kubebook.capacity.headline import outlook_headline

        return outlook_headline(self)

    def to_json(self) -> dict[str, Any]:
        """The ``kubebook capacity forecast --json`` document (``forecasts`` as before, the outcome on top)."""
        return {"status": self.status, "summary": self.summary, "days_to_exhaustion":
                None if self.days_to_exhaustion is None else round(self.days_to_exhaustion, 3),
                "history_days": round(self.history_days, 3), "min_history_days": self.settings.min_history_days,
                "source": self.source, "synthetic": self.synthetic, "cluster": self.cluster or None,
                "as_of": self.settings.now().isoformat(), **forecast.to_json(self.entries, self.settings)}


def outlook(found: History, settings: forecast.Settings | None = None) -> Outlook:
    """Forecast ``found`` and decide the overall status (see the module docstring)."""
    settings = settings or forecast.Settings()
    settings.check()
    if settings.as_of is None:  # one "now" for every entry and for the document
        import dataclasses

        settings = dataclasses.replace(settings, as_of=settings.now())
    series = found.series
    if series is None or len(series) == 0:
        return Outlook(NO_DATA, [], settings, 0.0, found.source, found.synthetic, found.cluster)
    entries = forecast.forecast(series, settings)
    reasons = Counter(e.status for e in entries)
    if reasons.get("ok"):
        status = "ok"
    elif not entries:
        status = NO_DATA
    else:
        status = reasons.most_common(1)[0][0]
    return Outlook(status, entries, settings, found.days, found.source, found.synthetic, found.cluster, dict(reasons))
