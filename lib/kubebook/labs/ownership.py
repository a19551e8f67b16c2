"""What a lab owns on the cluster, whose attempt holds it, and the lock and journal of a reset.

Why: a lab's namespaces have fixed names (``lab-rbac``), so one can exist before the lab, made by
someone else for something else; and a lab's cluster-scoped objects (the admission policy of lab 8)
are named by the lab but created by the trainee. The lab takes over nothing it did not create: setup
marks the namespaces it creates (label ``labs.kubebook.io/lab=<id>``), and a namespace without the mark,
or a cluster object that existed before the attempt began, is refused at start and at reset with a
one-line error (exit 2) before anything changes. The first namespace carries the attempt: who started it
(``labs.kubebook.io/trainee``), its id and when it began, so a check is credited only to that trainee.

``reset`` is destructive: it holds a lock (one reset of a lab at a time on this machine) and appends its
intent - what it will delete, for whom - to a journal before deleting anything, and a ``done`` line after.
An intent without its ``done`` (a reset killed midway) is reported by the next ``start`` and finished by
the next ``reset``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from filelock import FileLock, Timeout

from kubebook.cluster import Cluster
from kubebook.errors import ParameterError
from kubebook.labs import progress
from kubebook.labs.model import Lab

LAB_LABEL = "labs.kubebook.io/lab"
STARTED = "labs.kubebook.io/started"
TRAINEE = "labs.kubebook.io/trainee"
ATTEMPT = "labs.kubebook.io/attempt"


class Attempt(NamedTuple):
    """The attempt a lab's namespaces hold: whose, its id, when it began (None: set up by an older kubebook)."""

    trainee: str | None
    id: str | None
    started: str


def _annotations(obj: dict[str, Any] | None) -> dict[str, str]:
    return ((obj or {}).get("metadata") or {}).get("annotations") or {}


def holder(cluster: Cluster, lab: Lab) -> Attempt | None:
    """The attempt in progress: setup finished (its marker is on the first namespace) and every namespace exists."""
    if not lab.namespaces:
        return None
    first = cluster.get_object("v1", "Namespace", lab.namespaces[0])
    notes = _annotations(first)
    if STARTED not in notes or not all(cluster.get_object("v1", "Namespace", ns) for ns in lab.namespaces[1:]):
        return None
    return Attempt(notes.get(TRAINEE), notes.get(ATTEMPT), notes[STARTED])


def marks(lab: Lab, attempt: str, trainee: str, began: str) -> dict[str, str]:
    return {STARTED: began, TRAINEE: trainee, ATTEMPT: attempt}


def _created(obj: dict[str, Any]) -> datetime | None:
    stamp = (obj.get("metadata") or {}).get("creationTimestamp")
    return datetime.strptime(stamp, progress.FMT) if stamp else None


def foreign(cluster: Cluster, lab: Lab, since: str | None) -> list[str]:
    """What the lab would take over without having created it: namespaces without its mark, and cluster
    objects created before ``since`` (the attempt's start; None: before now - no attempt is in progress)."""
    found = []
    for ns in lab.namespaces:
        obj = cluster.get_object("v1", "Namespace", ns)
        if obj is not None and ((obj["metadata"].get("labels") or {}).get(LAB_LABEL)) != lab.id:
            found.append(f"namespace {ns} (not created by lab {lab.id}: no label {LAB_LABEL}={lab.id})")
    began = datetime.strptime(since, progress.FMT) if since else None
    for ref in lab.cluster_objects:
        try:
            obj = cluster.get_object(ref["apiVersion"], ref["kind"], ref["name"])
        except ParameterError:
            continue  # the kind is not served: nothing of it exists
        created = _created(obj) if obj else None
        if obj is not None and (began is None or created is None or created < began):
            found.append(f"{ref['kind']} {ref['name']} (created {obj['metadata'].get('creationTimestamp')}, "
                         + ("before this lab's attempt began)" if began else "while the lab was not in progress)"))
    return found


def refuse_foreign(cluster: Cluster, lab: Lab, since: str | None, doing: str) -> None:
    found = foreign(cluster, lab, since)
    if found:
        raise ParameterError(f"lab {lab.id} will not {doing}: {'; '.join(found)} already exists and is not the lab's",
                             hint="remove or rename it yourself, or use another cluster; nothing was changed")


# --- the reset lock and journal ----------------------------------------------------------------------------

def _journal(lab_id: str) -> Path:
    return progress.labs_dir() / "journal" / f"{lab_id}.jsonl"


def unfinished(lab_id: str) -> dict[str, Any] | None:
    """The last reset intent of a lab that has no ``done`` line (a reset stopped midway), if any."""
    try:
        lines = _journal(lab_id).read_text().splitlines()
    except FileNotFoundError:
        return None
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue  # a line torn by a kill
    last = entries[-1] if entries else None
    return last if last and last.get("state") == "intent" else None


def _append(lab_id: str, entry: dict[str, Any]) -> None:
    path = _journal(lab_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        handle.write(json.dumps(entry, sort_keys=True) + "\n")
        handle.flush()


@contextmanager
def resetting(lab: Lab, trainee: str, deletes: list[str], since: str | None) -> Iterator[None]:
    """Hold the lab's reset lock and journal the intent (``deletes``; ``since``: when the attempt being reset
    began, so a reset run again after a kill still knows what the lab made) before the block, ``done`` after."""
    path = progress.labs_dir() / "journal" / f"{lab.id}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout as error:
        raise ParameterError(f"another reset of lab {lab.id} is running (lock {path})",
                             hint="wait for it to finish and retry") from error
    try:
        _append(lab.id, {"at": progress.now(), "state": "intent", "op": "reset", "lab": lab.id,
                         "trainee": trainee, "deletes": deletes, "since": since})
        yield
        _append(lab.id, {"at": progress.now(), "state": "done", "op": "reset", "lab": lab.id, "trainee": trainee})
    finally:
        lock.release()
