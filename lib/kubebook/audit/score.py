"""Posture score per section and overall, CIS style: a check passes only if it passes everywhere.

Formula (documented in the README's ``## Audit``):

* Only ``scored`` checks whose severity is not ``info`` count, and only findings that
  are not waived; INFO results are informational and never count.
* Each counted check gets one outcome over all its findings: PASS only if every
  finding is PASS; any FAIL, ERROR or WARN makes it not pass (unknown or unreadable
  never counts as a pass).
* weight(severity): critical 10, high 5, medium 3, low 1.
* score(section) = 100 * sum(weight of passing checks) / sum(weight of counted checks);
  ``overall`` uses every counted check of every section. A section with no counted
  check has score None ("nothing evaluated"), never 100.
* ``status`` is ``"ok"``, or ``"no_data"`` when nothing was scored or the source held
  nothing to judge (then every score is None).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubebook.audit.model import FindingBatch

WEIGHTS = {"critical": 10, "high": 5, "medium": 3, "low": 1, "info": 0}


def compute(findings: Any) -> dict[str, Any]:
    """``{"overall": float|None, "sections": {name: {"score", "passed", "checks"}}, "weights": WEIGHTS}``.

    ``findings`` is an audit's FindingRows or a findings DataFrame (a notebook may
    score a filtered frame); both go through the same pure-Python fold.
    """
    if hasattr(findings, "entries"):  # FindingRows: one outcome per engine entry (a batch counts once)
        rows: Iterable[tuple[Any, ...]] = _entry_outcomes(findings)
    else:
        rows = zip(findings["check"], findings["section"], findings["severity"], findings["scored"],
                   findings["waived"], findings["result"], strict=True)
    return _fold(rows)


def no_data(findings: Any) -> dict[str, Any]:
    """The score of an audit that judged nothing: ``status`` ``no_data``, null overall and per section."""
    folded = compute(findings)
    sections = {name: {**summary, "score": None} for name, summary in folded["sections"].items()}
    return {**folded, "overall": None, "sections": sections, "status": "no_data"}


def _entry_outcomes(findings: Any) -> list[tuple[Any, ...]]:
    """One row per distinct check: (id, section, severity, scored, False, PASS or FAIL), counted entries only.

    A 50,000-pod audit has ~700,000 entries; folding them per check here (two set
    insertions each) before the general fold keeps the score a small part of it.
    """
    waivers = findings.waivers
    counted: dict[int, Any] = {}
    failed: set[int] = set()
    for index, entry in enumerate(findings.entries):
        result = entry.result
        if result == "INFO" or index in waivers or (type(entry) is FindingBatch and not entry.resources):
            continue  # an empty batch has no rows, so it counts for nothing
        check = entry.check
        counted[id(check)] = check
        if result != "PASS":
            failed.add(id(check))
    return [(c.id, c.section, c.severity, c.scored, False, "FAIL" if key in failed else "PASS")
            for key, c in counted.items()]


def _fold(rows: Iterable[tuple[Any, ...]]) -> dict[str, Any]:
    outcome: dict[tuple[str, str], bool] = {}  # (section, check) -> passes everywhere so far
    severity: dict[str, str] = {}
    for check, section, level, scored, waived, result in rows:
        if not scored or waived or result == "INFO" or level == "info":
            continue
        key = (section, check)
        outcome[key] = outcome.get(key, True) and result == "PASS"
        severity[check] = level
    if not outcome:
        return {"overall": None, "sections": {}, "weights": dict(WEIGHTS), "status": "no_data"}
    sections: dict[str, list[tuple[str, bool]]] = {}
    for (section, check), ok in sorted(outcome.items()):
        sections.setdefault(section, []).append((check, ok))
    summaries = {section: _summary(items, severity) for section, items in sections.items()}
    overall = _summary([item for items in sections.values() for item in items], severity)
    return {"overall": overall["score"], "sections": summaries, "weights": dict(WEIGHTS),
            "passed": overall["passed"], "checks": overall["checks"],
            "status": "ok" if overall["score"] is not None else "no_data"}


def _summary(items: list[tuple[str, bool]], severity: dict[str, str]) -> dict[str, Any]:
    total = float(sum(WEIGHTS[severity[check]] for check, _ in items))
    passed = float(sum(WEIGHTS[severity[check]] for check, ok in items if ok))
    score = round(100.0 * passed / total, 1) if total else None
    return {"score": score, "passed": sum(1 for _, ok in items if ok), "checks": len(items)}
