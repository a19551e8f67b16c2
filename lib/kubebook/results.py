"""The typed parts of a use case's result that every screen and record reads: a headline and verdicts.

Engines fill them in (they decide the tone, the words and each verdict); views only draw them, so a
runbook, the CLI and an archived record cannot disagree. Nothing here imports the rest of kubebook:
it sits at the bottom, beside :mod:`kubebook.errors`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

GOOD, WARN, BAD, NEUTRAL = "good", "warn", "bad", "neutral"


@dataclass(frozen=True)
class Headline:
    """The first thing a report shows: the outcome (``value``) in large type, its change, counts, a note.

    ``tone`` is the engine's verdict on the outcome: good, warn, bad or neutral (unknown is never good).
    """

    title: str
    value: str
    unit: str = ""
    change: str = ""
    tone: str = NEUTRAL
    counts: dict[str, int] = field(default_factory=dict)
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"title": self.title, "value": self.value, "unit": self.unit, "change": self.change,
                "tone": self.tone, "counts": dict(self.counts), "note": self.note}


class Verdict(NamedTuple):
    """One figure against its target: ``result`` (met, missed, no_data, or PASS/FAIL), ``reason`` in words."""

    measure: str
    value: Any
    target: Any
    result: str
    reason: str
