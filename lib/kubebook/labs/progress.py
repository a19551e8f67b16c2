"""Per-trainee progress, stored locally: when a lab started, which steps passed when, hints used.

Why local files and not the cluster: a trainee's record must survive ``lab reset`` (which
deletes the lab's namespaces) and needs no permission beyond the trainee's own home folder.
One small JSON file per trainee under ``$KUBEBOOK_LABS_DIR`` (default ``<data dir>/labs``),
replaced atomically under a file lock so a Check button and ``kubebook lab check`` can race.
"""

from __future__ import annotations

import getpass
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock

from kubebook.errors import ParameterError
from kubebook.fsutil import atomic_write_text
from kubebook.localcluster.paths import data_dir

TRAINEE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


def labs_dir() -> Path:
    explicit = os.environ.get("KUBEBOOK_LABS_DIR")
    return Path(explicit) if explicit else data_dir() / "labs"


def trainee(name: str | None = None) -> str:
    """The trainee's name: the argument, ``$KUBEBOOK_TRAINEE``, else the login name."""
    chosen = name or os.environ.get("KUBEBOOK_TRAINEE") or getpass.getuser()
    if not TRAINEE_PATTERN.match(chosen):
        raise ParameterError(f"trainee name {chosen!r} is not usable as a file name",
                             hint="letters, digits, '.', '_' and '-', at most 63 characters")
    return chosen


def workspace(lab_id: str, who: str | None = None) -> Path:
    """The trainee's folder for a lab's files (snapshots, manifests to fix)."""
    return labs_dir() / "workspaces" / trainee(who) / lab_id


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _path(who: str) -> Path:
    return labs_dir() / "progress" / f"{who}.json"


def load(who: str | None = None) -> dict[str, Any]:
    """The trainee's progress document (empty when none was recorded yet)."""
    path = _path(trainee(who))
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return {"labs": {}}
    except ValueError as error:
        raise ParameterError(f"progress file {path} is not JSON: {error}", hint="delete it to start over") from error
    doc.setdefault("labs", {})
    return doc


@contextmanager
def editing(who: str | None = None) -> Iterator[dict[str, Any]]:
    """Read, let the caller change, and write back the trainee's progress under a lock."""
    name = trainee(who)
    path = _path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock", timeout=30):
        doc = load(name)
        yield doc
        atomic_write_text(path, json.dumps(doc, indent=1, sort_keys=True) + "\n")


def lab_entry(doc: dict[str, Any], lab_id: str) -> dict[str, Any]:
    entry = doc["labs"].setdefault(lab_id, {})
    entry.setdefault("started", now())
    entry.setdefault("steps", {})
    entry.setdefault("hints", {})
    return entry


def record_start(lab_id: str, *, restart: bool = False, who: str | None = None) -> None:
    with editing(who) as doc:
        if restart:
            doc["labs"].pop(lab_id, None)
        lab_entry(doc, lab_id)


def record_checks(lab_id: str, results: list[Any], step_ids: list[str], who: str | None = None) -> None:
    """Count a check per step; the first pass of a step is timestamped, a later failure clears it."""
    with editing(who) as doc:
        entry = lab_entry(doc, lab_id)
        for result in results:
            step = entry["steps"].setdefault(result.id, {"checks": 0})
            step["checks"] = int(step.get("checks", 0)) + 1
            if result.passed:
                step.setdefault("passed_at", now())
            else:
                step.pop("passed_at", None)
        if all("passed_at" in entry["steps"].get(s, {}) for s in step_ids):
            entry.setdefault("finished", now())


def record_hint(lab_id: str, step_id: str, limit: int, who: str | None = None) -> int:
    """Count one more hint revealed for a step (at most ``limit``); returns how many are now revealed."""
    with editing(who) as doc:
        entry = lab_entry(doc, lab_id)
        entry["hints"][step_id] = min(limit, int(entry["hints"].get(step_id, 0)) + 1)
        return int(entry["hints"][step_id])


def _seconds(start: str, end: str) -> int:
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return int((datetime.strptime(end, fmt) - datetime.strptime(start, fmt)).total_seconds())


def summary(lab: Any, doc: dict[str, Any]) -> dict[str, Any]:
    """One lab's status for a trainee: steps passed, time taken, hints used."""
    entry = doc["labs"].get(lab.id)
    if not entry:
        return {"lab": lab.id, "title": lab.title, "started": None, "steps_passed": 0, "steps": len(lab.steps),
                "hints_used": 0, "seconds": None, "finished": None}
    passed = [s.id for s in lab.steps if "passed_at" in entry["steps"].get(s.id, {})]
    last = entry.get("finished") or max((entry["steps"][s].get("passed_at", "") for s in passed), default=None)
    return {"lab": lab.id, "title": lab.title, "started": entry["started"], "steps_passed": len(passed),
            "steps": len(lab.steps), "hints_used": sum(int(v) for v in entry["hints"].values()),
            "seconds": _seconds(entry["started"], last) if last else None, "finished": entry.get("finished")}
