"""Per-trainee, per-attempt progress, stored locally and signed: when an attempt started, which steps
passed when, hints used.

Why local files and not the cluster: a trainee's record must survive ``lab reset`` (which empties the
lab's namespaces) and needs no permission beyond the trainee's own folder. One JSON file per trainee
under ``$KUBEBOOK_LABS_DIR`` (default ``<data dir>/labs``), replaced atomically under a file lock so a
Check button and ``kubebook lab check`` can race.

Why signed: the record is evidence ("3/3 steps finished"), so only a check kubebook ran may write it.
The whole document (trainee name included, so a copy of Bob's file is not Carol's) carries an
HMAC-SHA256 made with a key kept outside the progress folder (``$KUBEBOOK_LABS_KEY``, default
``<labs dir>/keys/progress.key``, mode 0600); a hand edit, an unsigned file or a copied file reads as
tampered, and a file that is not JSON is a one-line error - neither ever counts as progress.

Why per attempt: a lab's namespaces are shared by everyone on the cluster; each ``start`` that sets
the lab up (or ``reset``) opens an attempt whose id is written on the lab's namespace and into the
trainee's record, and the engine credits a check only when the two agree (see ``engine.check``).
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock

from kubebook.errors import ParameterError
from kubebook.fsutil import atomic_write_text
from kubebook.labs.errors import NotStarted, ProgressTampered
from kubebook.localcluster.paths import data_dir

TRAINEE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
FORMAT = 2
FMT = "%Y-%m-%dT%H:%M:%SZ"


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
    return datetime.now(UTC).strftime(FMT)


def new_attempt() -> str:
    return secrets.token_hex(8)


def _path(who: str) -> Path:
    return labs_dir() / "progress" / f"{who}.json"


def key_path() -> Path:
    explicit = os.environ.get("KUBEBOOK_LABS_KEY")
    return Path(explicit) if explicit else labs_dir() / "keys" / "progress.key"


def _key(create: bool) -> bytes | None:
    path = key_path()
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        if not create:
            return None
    except (OSError, ValueError) as error:
        raise ParameterError(f"lab progress key {path} is unreadable: {error}",
                             hint="restore it, or delete it and the progress files it signed") from error
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _key(create=False)  # another process made it a moment ago
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    return _key(create=False)


def _signature(doc: dict[str, Any], key: bytes) -> str:
    body = {k: v for k, v in doc.items() if k != "signature"}
    payload = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return "hmac-sha256:" + hmac.new(key, payload, hashlib.sha256).hexdigest()


def load(who: str | None = None) -> dict[str, Any]:
    """The trainee's progress document (empty when none was recorded yet); ProgressTampered when the file
    is not JSON, not signed, signed for someone else or changed since kubebook signed it."""
    name = trainee(who)
    path = _path(name)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {"format": FORMAT, "trainee": name, "labs": {}}
    except OSError as error:
        raise ParameterError(f"progress file {path} is unreadable: {error}") from error
    try:
        doc = json.loads(text)
    except ValueError as error:
        raise ProgressTampered(f"progress file {path} is corrupt (not JSON: {error.msg} at line {error.lineno})",
                               hint="it counts for nothing; delete it to start over") from error
    key = _key(create=False)
    if not isinstance(doc, dict) or not isinstance(doc.get("labs"), dict) or doc.get("trainee") != name \
            or key is None or not hmac.compare_digest(str(doc.get("signature", "")), _signature(doc, key)):
        raise ProgressTampered(f"progress file {path} reads as tampered: it was not written by a kubebook check "
                               f"of trainee {name} (its signature does not match)",
                               hint="it counts for nothing; delete it and start the lab again")
    return doc


@contextmanager
def editing(who: str | None = None) -> Iterator[dict[str, Any]]:
    """Read, let the caller change, sign and write back the trainee's progress under a lock."""
    name = trainee(who)
    path = _path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock", timeout=30):
        doc = load(name)
        yield doc
        doc.update(format=FORMAT, trainee=name)
        doc["signature"] = _signature(doc, _key(create=True) or b"")
        atomic_write_text(path, json.dumps(doc, indent=1, sort_keys=True) + "\n")


def entry_of(doc: dict[str, Any], lab_id: str) -> dict[str, Any] | None:
    entry = doc["labs"].get(lab_id)
    return entry if isinstance(entry, dict) else None


def record_start(lab_id: str, *, restart: bool = False, who: str | None = None, attempt: str | None = None) -> str:
    """Open (``restart``: replace) the trainee's record of an attempt; keeps a record of the same attempt."""
    attempt = attempt or new_attempt()
    with editing(who) as doc:
        entry = entry_of(doc, lab_id)
        if restart or entry is None or entry.get("attempt") != attempt:
            doc["labs"][lab_id] = {"attempt": attempt, "started": now(), "steps": {}, "hints": {}}
    return attempt


def _started_entry(doc: dict[str, Any], lab_id: str, name: str, attempt: str | None) -> dict[str, Any]:
    entry = entry_of(doc, lab_id)
    if entry is None or (attempt is not None and entry.get("attempt") != attempt):
        raise NotStarted(f"trainee {name} has not started lab {lab_id}" +
                         (" (the attempt on the cluster is not theirs)" if entry else ""),
                         hint=f"run 'kubebook lab start {lab_id}' first")
    return entry


def record_checks(lab_id: str, results: list[Any], step_ids: list[str], who: str | None = None,
                  attempt: str | None = None) -> None:
    """Count a check per step of the trainee's attempt; the first pass is timestamped, a later failure clears it."""
    with editing(who) as doc:
        entry = _started_entry(doc, lab_id, trainee(who), attempt)
        for result in results:
            step = entry["steps"].setdefault(result.id, {"checks": 0})
            step["checks"] = int(step.get("checks", 0)) + 1
            if result.passed:
                step.setdefault("passed_at", now())
            else:
                step.pop("passed_at", None)
        if all("passed_at" in entry["steps"].get(s, {}) for s in step_ids):
            entry.setdefault("finished", now())
        else:
            entry.pop("finished", None)


def record_hint(lab_id: str, step_id: str, limit: int, who: str | None = None) -> int:
    """Count one more hint revealed for a step of the trainee's attempt (at most ``limit``); returns how many
    are now revealed."""
    with editing(who) as doc:
        entry = _started_entry(doc, lab_id, trainee(who), None)
        entry["hints"][step_id] = min(limit, int(entry["hints"].get(step_id, 0)) + 1)
        return int(entry["hints"][step_id])


def _seconds(start: str, end: str) -> int:
    return int((datetime.strptime(end, FMT) - datetime.strptime(start, FMT)).total_seconds())


def summary(lab: Any, doc: dict[str, Any]) -> dict[str, Any]:
    """One lab's status for a trainee: steps passed, time taken (to the last pass), time since the attempt
    started (``elapsed_seconds``, until it finished), hints used."""
    entry = entry_of(doc, lab.id)
    if not entry:
        return {"lab": lab.id, "title": lab.title, "attempt": None, "started": None, "steps_passed": 0,
                "steps": len(lab.steps), "hints_used": 0, "seconds": None, "elapsed_seconds": None, "finished": None}
    passed = [s.id for s in lab.steps if "passed_at" in entry["steps"].get(s.id, {})]
    last = entry.get("finished") or max((entry["steps"][s].get("passed_at", "") for s in passed), default=None)
    return {"lab": lab.id, "title": lab.title, "attempt": entry.get("attempt"), "started": entry["started"],
            "steps_passed": len(passed), "steps": len(lab.steps),
            "hints_used": sum(int(v) for v in entry["hints"].values()),
            "seconds": _seconds(entry["started"], last) if last else None,
            "elapsed_seconds": _seconds(entry["started"], entry.get("finished") or now()),
            "finished": entry.get("finished")}
