"""The verdict of an etcd drill, a scheduled etcd backup or an HA drill: decided here, drawn by the views.

A runbook opens with its outcome: passed or failed, each figure against its target (RTO, RPO, objects
lost, recovery time) with the reason in words, and what was lost. The decision is made once, here, so
the runbook, the CLI and the archived report cannot disagree; views in :mod:`kubebook.views.dr` only
draw an :class:`Outcome`. Nothing unknown reads as met: a drill that did not run (a dry run, a run
waiting for its Apply button) has the result ``not run`` and verdicts ``no_data``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

MET, MISSED, NO_DATA = "met", "missed", "no_data"
PASSED, FAILED, NOT_RUN = "passed", "failed", "not run"
SHOWN_LOST = 3  # objects named in the headline; the full list sits behind its count


class Verdict(NamedTuple):
    """One figure against its target: ``result`` is met, missed or no_data, ``reason`` says it in words."""

    measure: str
    value: float | int | None
    target: float | int | None
    result: str
    reason: str


@dataclass(frozen=True)
class Outcome:
    """What a DR runbook's headline says: the result, one line of figures, the verdicts, what was lost."""

    title: str
    result: str
    summary: str
    verdicts: list[Verdict]
    counts: dict[str, int] = field(default_factory=dict)
    lost: list[dict[str, Any]] = field(default_factory=list)
    lost_summary: str = ""
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"title": self.title, "result": self.result, "summary": self.summary,
                "verdicts": [v._asdict() for v in self.verdicts], "counts": self.counts, "lost": self.lost,
                "lost_summary": self.lost_summary, "note": self.note}


def verdict(measure: str, value: float | int | None, target: float | int | None, unit: str) -> Verdict:
    """``value`` at most ``target`` is met; a missing value (or target) is no_data, never met."""
    if value is None or target is None:
        return Verdict(measure, value, target, NO_DATA, f"no {measure} measured" if value is None else "no target")
    if value <= target:
        return Verdict(measure, value, target, MET, f"{_num(value)} {unit} within the target of {_num(target)} {unit}")
    return Verdict(measure, value, target, MISSED, f"{_num(value)} {unit} exceeds the target of {_num(target)} {unit}")


def _num(value: float) -> str:
    return f"{round(value, 1):g}"


def targets(rto_seconds: float | None, rpo_objects: int | None, *, rto_target: float, rpo_target: int | None,
            lost: int | None) -> list[Verdict]:
    """RTO, RPO and objects lost (target 0) of a full-cluster drill."""
    return [verdict("RTO (seconds)", rto_seconds, rto_target, "s"),
            verdict("RPO (objects created after the snapshot)", rpo_objects, rpo_target, "object(s)"),
            verdict("objects lost", lost, 0, "object(s)")]


def _lost_summary(lost: Sequence[Mapping[str, Any]]) -> str:
    if not lost:
        return "nothing lost"
    names = ", ".join(f"{x.get('kind')}/{x.get('namespace') or '-'}/{x.get('name')}" for x in lost[:SHOWN_LOST])
    more = f" and {len(lost) - SHOWN_LOST} more" if len(lost) > SHOWN_LOST else ""
    return f"{len(lost)} object(s) lost: {names}{more}"


def _result(verdicts: Sequence[Verdict], ran: bool) -> str:
    if not ran:
        return NOT_RUN
    if any(v.result == NO_DATA for v in verdicts if v.target is not None):
        return FAILED  # a figure the drill should have measured is missing: unknown is not a pass
    return FAILED if any(v.result == MISSED for v in verdicts) else PASSED


def _line(verdicts: Sequence[Verdict]) -> str:
    parts = []
    for v in verdicts:
        if v.target is None:
            continue
        shown = "no data" if v.value is None else _num(v.value)
        parts.append(f"{v.measure.split(' (')[0]} {shown} (target {_num(v.target)}, {v.result.replace('_', ' ')})")
    return "; ".join(parts)


def etcd_drill(result: Mapping[str, Any] | None, *, rto_target: float, rpo_target: int | None,
               not_run: str = "no drill ran") -> Outcome:
    """The full-cluster drill's verdict: passed only when nothing was lost and RTO and RPO meet their targets."""
    title = "Full-cluster restore drill"
    if not result:
        verdicts = targets(None, None, rto_target=rto_target, rpo_target=rpo_target, lost=None)
        return Outcome(title, NOT_RUN, not_run, verdicts)
    lost = list(result.get("lost") or [])
    verdicts = targets(result.get("rto_seconds"), result.get("rpo_objects"), rto_target=rto_target,
                       rpo_target=rpo_target, lost=len(lost))
    outcome = _result(verdicts, True)
    if result.get("status") != PASSED:
        outcome = FAILED
    counts = {"expected": int(result.get("expected", 0)), "restored": int(result.get("restored", 0)),
              "lost": len(lost), "after snapshot": len(result.get("created_after_snapshot") or [])}
    return Outcome(title, outcome, _line(verdicts), verdicts, counts, lost, _lost_summary(lost),
                   f"{result.get('topology', '')} cluster {result.get('cluster', '')}".strip())


def etcd_backup(backup: Mapping[str, Any]) -> Outcome:
    """The scheduled backup's verdict: its snapshot passed every check (retention ran afterwards)."""
    snap = backup.get("snapshot") or {}
    verified = bool(snap.get("verified"))
    check = Verdict("snapshot checks", int(verified), 1, MET if verified else MISSED,
                    "SHA-256s, etcdutl status and the trial restore passed" if verified else
                    "the snapshot failed its checks (see 'kubebook dr verify')")
    removed = len((backup.get("retention") or {}).get("remove") or [])
    return Outcome("Scheduled etcd backup", PASSED if verified else FAILED,
                   f"snapshot {snap.get('run_id', '?')} at revision {snap.get('revision', 0):,}, "
                   f"{snap.get('size', 0):,} bytes, {'verified' if verified else 'NOT verified'}",
                   [check], {"snapshots kept": len(backup.get("snapshots") or []), "removed": removed},
                   note=f"cluster {snap.get('cluster', '')}")


def ha_drill(result: Mapping[str, Any] | None, *, recovery_target: float,
             not_run: str = "no drill ran") -> Outcome:
    """The member-loss drill's verdict: every expectation held and writes came back within the target."""
    title = "HA member-loss drill"
    if not result:
        return Outcome(title, NOT_RUN, not_run,
                       [verdict("first write after recovery (seconds)", None, recovery_target, "s")])
    verdicts = [verdict("first write after recovery (seconds)", result.get("first_write_after_recovery_seconds"),
                        recovery_target, "s"),
                verdict("problems", len(result.get("problems") or []), 0, "problem(s)")]
    outcome = _result(verdicts, True)
    if result.get("status") != PASSED:
        outcome = FAILED
    phases = list(result.get("phases") or [])
    failed = [{"kind": "write", "namespace": p.get("phase"), "name": f"{p.get('failed')} of {p.get('writes')}",
               "reason": "; ".join(p.get("errors") or [])} for p in phases
              if p.get("failed") and p.get("phase") != "quorum lost"]
    problems = list(result.get("problems") or [])
    return Outcome(title, outcome, _line(verdicts), verdicts,
                   {"phases": len(phases), "writes failed": sum(int(p.get("failed", 0)) for p in phases
                                                                if p.get("phase") != "quorum lost"),
                    "problems": len(problems)}, failed,
                   "; ".join(problems) or "nothing lost: every write outside the quorum loss went through",
                   f"cluster {result.get('cluster', '')}")
