"""Plan (server-side dry run) and apply (server-side apply, one field manager) a built overlay.

Why each piece:

* **Dependency order**: namespaces and priority classes before what lives in them,
  roles before bindings, the admission policies last, so a half-applied baseline never
  blocks the rest of its own apply, and a re-run after an interruption simply finishes it.
* **One field manager** (``kubebook-provision``), **without force**: the baseline owns the
  fields it declares and nothing else; a person's additions stay theirs, and a field another
  manager owns with a different value is a ``conflict`` entry carrying the server's message
  (the other owner's value is kept) unless the caller asks to ``force`` after seeing it.
* **Ownership is recorded, not guessed**: an object this apply creates carries the annotation
  ``kubebook.io/created-by: kubebook-provision``; one that existed before (found by a GET, or a
  namespace's own ``default`` ServiceAccount) never gets it, so ``remove`` can tell what is
  kubebook's to delete (see :mod:`kubebook.provision.remove`).
* **A content stamp** (annotation ``kubebook.io/applied-hash``): an object whose stamp
  matches and whose declared fields all still hold on the server is skipped without a
  request, which is what makes a no-op re-apply cheap (one list per kind instead of a
  write per object). A field someone changed, or a changed manifest, fails the check and
  the object is applied again; nothing is skipped on a guess.
* **The plan is the server's**: :func:`kubebook.changes.dry_run_apply` for every object whose
  namespace exists; an object in a namespace this same plan creates cannot be dry-run yet
  (the server refuses it), so it is shown as a create of the declared object with that reason.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from kubebook.changes import Change, diff_objects, object_key, refused
from kubebook.errors import ApiError, ClusterError

FIELD_MANAGER = "kubebook-provision"
STAMP = "kubebook.io/applied-hash"
CREATED = "kubebook.io/created-by"  # set only on objects kubebook-provision created: what remove may delete
MANAGED_LABEL = "app.kubernetes.io/managed-by"
KIND_ORDER = ("CustomResourceDefinition", "Namespace", "PriorityClass", "ConfigMap", "Secret", "ServiceAccount",
              "ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding", "ResourceQuota", "LimitRange",
              "NetworkPolicy", "PodDisruptionBudget", "Service", "Deployment", "StatefulSet", "DaemonSet", "Job",
              "CronJob", "ConstraintTemplate")
LAST_KINDS = ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
WORKERS = 4
TERMINATING_WAIT = 60.0  # seconds an object being deleted is waited for before it is applied again
SKEW = dt.timedelta(seconds=5)  # creation times older than the apply by more than this were there before


class Applied(NamedTuple):
    """One object's outcome: ``action`` is created, configured, unchanged or failed."""

    key: str
    action: str
    message: str = ""


@dataclass
class ApplyReport:
    """What an apply did, object by object, in the order it happened."""

    entries: list[Applied] = field(default_factory=list)
    planned: int = 0

    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return len(self.entries) == self.planned and not self.failed and not self.conflicts

    @property
    def failed(self) -> list[Applied]:
        return [e for e in self.entries if e.action == "failed"]

    @property
    def conflicts(self) -> list[Applied]:
        """Objects another manager owns a declared field of, with another value: left as they are."""
        return [e for e in self.entries if e.action == "conflict"]

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(("created", "configured", "unchanged", "failed"), 0)
        for entry in self.entries:
            out[entry.action] = out.get(entry.action, 0) + 1
        return out

    def as_record(self) -> dict[str, Any]:
        return {"complete": self.complete, "counts": self.counts(), "planned": self.planned,
                "failed": [e._asdict() for e in self.failed], "conflicts": [e._asdict() for e in self.conflicts],
                "notes": list(self.notes)}


def tier(obj: dict[str, Any]) -> int:
    """Apply order of a kind: KIND_ORDER first, unknown kinds next, admission policies last."""
    kind = obj.get("kind", "")
    if kind in KIND_ORDER:
        return KIND_ORDER.index(kind)
    if kind in LAST_KINDS:
        return len(KIND_ORDER) + 1 + LAST_KINDS.index(kind)
    return len(KIND_ORDER)


def ordered(objects: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``objects`` in dependency order (stable within a kind)."""
    return sorted(objects, key=tier)


def stamped(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` carrying the hash of its declared content in ``kubebook.io/applied-hash``."""
    out = copy.deepcopy(obj)
    meta = out.setdefault("metadata", {})
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != STAMP}
    content = json.dumps({**out, "metadata": {**meta, "annotations": annotations}}, sort_keys=True)
    meta["annotations"] = {**annotations, STAMP: hashlib.sha256(content.encode()).hexdigest()[:16]}
    return out


def holds(declared: Any, live: Any) -> bool:
    """True when every field ``declared`` sets has that value in ``live`` (extra live fields are fine)."""
    if isinstance(declared, dict):
        return isinstance(live, dict) and all(holds(v, live.get(k)) for k, v in declared.items())
    if isinstance(declared, list):
        return isinstance(live, list) and len(declared) == len(live) and all(
            holds(d, x) for d, x in zip(declared, live, strict=True))
    return declared == live


def _identity(obj: dict[str, Any]) -> tuple[str, str, str, str]:
    meta = obj.get("metadata") or {}
    return obj["apiVersion"], obj["kind"], meta.get("namespace") or "", meta["name"]


def live_objects(cluster: Any, objects: Sequence[dict[str, Any]]) -> dict[tuple[str, str, str, str], dict[str, Any]]:
    """The live objects of every (apiVersion, kind) in ``objects`` that carry our managed-by label.

    One paginated list per kind; objects not found (or kinds not served yet) are simply absent.
    """
    selectors = {(o["apiVersion"], o["kind"]): ((o.get("metadata") or {}).get("labels") or {}).get(MANAGED_LABEL)
                 for o in objects}
    found: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for (api_version, kind), label in selectors.items():
        if not label:
            continue
        try:
            items = cluster.list_objects(api_version, kind, label_selector=f"{MANAGED_LABEL}={label}")
            for item in items:
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
                found[_identity(item)] = item
        except ClusterError:
            continue  # a kind the server does not serve yet (a CRD applied by this run): apply it
    return found


def up_to_date(obj: dict[str, Any], live: dict[str, Any] | None) -> bool:
    """The stamped ``obj`` already holds on the server: same stamp and every declared field unchanged."""
    if live is None:
        return False
    return holds(obj, live)


def plan(cluster: Any, objects: Sequence[dict[str, Any]], *, field_manager: str = FIELD_MANAGER) -> list[Change]:
    """Per object, what applying would do, as the API server answers a server-side dry run (without force).

    A field another manager owns with another value is a ``refused`` change naming the conflict:
    apply keeps that owner's value.
    """
    objects = [stamped(o) for o in ordered(objects)]
    existing = {ns.get("metadata", {}).get("name") for ns in cluster.list_objects("v1", "Namespace")}
    new_namespaces = {o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"} - existing
    out = []
    for obj in objects:
        if (obj["metadata"].get("namespace") or "") in new_namespaces:
            out.append(diff_objects(None, marked(obj), reason="in a namespace this plan creates: "
                                    "the server checks it when the namespace exists"))
            continue
        key = object_key(obj)
        try:
            api_version, kind, namespace, name = _identity(obj)
            before = cluster.get_object(api_version, kind, name, namespace or None)
            body = marked(obj) if _ours(obj, before) else obj
            after = cluster.apply_object(body, field_manager=field_manager, dry_run=True, force=False)
        except ApiError as error:
            out.append(refused(key, _conflict(error) if error.status == 409 else error.message))
            continue
        except ClusterError as error:
            out.append(refused(key, error.message))
            continue
        out.append(diff_objects(before, after, key=key))
    return out


def marked(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with the created-by annotation (a copy): what an apply that creates it writes."""
    out = copy.deepcopy(obj)
    meta = out.setdefault("metadata", {})
    meta["annotations"] = {**(meta.get("annotations") or {}), CREATED: FIELD_MANAGER}
    return out


def created_by_kubebook(live: dict[str, Any] | None) -> bool:
    """The live object carries kubebook's created-by mark (only objects kubebook created do)."""
    return ((live or {}).get("metadata") or {}).get("annotations", {}).get(CREATED) == FIELD_MANAGER


def _ours(obj: dict[str, Any], live: dict[str, Any] | None) -> bool:
    """Should ``obj`` carry the created-by mark? When this apply creates it, or it already carries it.

    A namespace's ``default`` ServiceAccount is its controller's, even when our apply reaches it first.
    """
    if (obj["kind"], obj["metadata"]["name"]) == ("ServiceAccount", "default"):
        return False
    return live is None or created_by_kubebook(live)


def _conflict(error: ApiError) -> str:
    return f"{error.message}; the other owner's value is kept (make the manifests agree, or apply with force " \
           "to take these fields over)"


def apply(cluster: Any, objects: Sequence[dict[str, Any]], *, field_manager: str = FIELD_MANAGER,
          progress: Callable[[Applied], None] | None = None, workers: int = WORKERS,
          force: bool = False) -> ApplyReport:
    """Server-side apply ``objects`` in dependency order; objects already up to date are skipped.

    Objects of one kind are applied ``workers`` at a time; kinds one after another. The
    first failing kind stops the apply (later kinds may depend on it): the report lists
    what was applied, what failed and why, and a re-run continues from there. A conflict
    (another manager's value) does not stop it: that object is left as it is and listed;
    ``force`` takes the conflicting fields over instead (only after a conflict was shown).
    """
    objects = [stamped(o) for o in ordered(objects)]
    report = ApplyReport(planned=len(objects))
    started = dt.datetime.now(dt.UTC)
    live = live_objects(cluster, objects)
    namespaces = {ns.get("metadata", {}).get("name") for ns in cluster.list_objects("v1", "Namespace")}
    tiers: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for obj in objects:
        tiers[tier(obj)].append(obj)

    def one(obj: dict[str, Any]) -> Applied:
        key, before = object_key(obj), live.get(_identity(obj))
        try:
            if before is None and (obj["metadata"].get("namespace") or "") in namespaces | {""}:
                api_version, kind, namespace, name = _identity(obj)  # it may be there without our label
                before = cluster.get_object(api_version, kind, name, namespace or None)
            before = _settled(cluster, obj, before)
            body = marked(obj) if _ours(obj, before) else obj
            if up_to_date(body, before):
                return Applied(key, "unchanged")
            result = cluster.apply_object(body, field_manager=field_manager, force=force)
            if before is None and body is not obj and _was_there(result or {}, field_manager, started):
                result = cluster.apply_object(obj, field_manager=field_manager, force=force)  # not ours after all
                before = result
        except ApiError as error:
            if error.status == 409 and not force:
                return Applied(key, "conflict", _conflict(error))
            return Applied(key, "failed", error.message)
        except ClusterError as error:
            return Applied(key, "failed", error.message)
        existed = before is not None or _was_there(result or {}, field_manager, started)
        return Applied(key, "configured" if existed else "created")

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for index in sorted(tiers):
            if tiers[index][0]["kind"] == "CustomResourceDefinition":
                cluster.forget_resources()
            for entry in pool.map(one, tiers[index]):
                report.entries.append(entry)
                if progress is not None:
                    progress(entry)
            if report.failed:
                break
            if tiers[index][0]["kind"] == "CustomResourceDefinition":
                cluster.forget_resources()
    return report


def _settled(cluster: Any, obj: dict[str, Any], live: dict[str, Any] | None,
             timeout: float = TERMINATING_WAIT) -> dict[str, Any] | None:
    """``live``, or None once an object that is being deleted (a remove moments ago) is gone.

    Applying to it would write to an object about to vanish, and count a re-created one as
    someone else's; waiting keeps both the baseline and the ownership record right.
    """
    deadline = time.monotonic() + timeout
    while live is not None and (live.get("metadata") or {}).get("deletionTimestamp"):
        if time.monotonic() > deadline:
            raise ClusterError(f"{object_key(obj)} is still being deleted after {timeout:.0f} s",
                               hint="re-run once it is gone")
        time.sleep(0.5)
        api_version, kind, namespace, name = _identity(obj)
        live = cluster.get_object(api_version, kind, name, namespace or None)
    return live


def _was_there(result: dict[str, Any], field_manager: str, started: dt.datetime | None = None) -> bool:
    """Did the object exist before our apply? Another manager's fields say so (the ``default``
    namespace); status writers such as the quota controller do not count. Objects a controller
    created without recording fields (a default ServiceAccount) are told by their creation time,
    when ``started`` is given: older than the apply by more than a clock-skew margin."""
    meta = result.get("metadata") or {}
    if any(m.get("manager") != field_manager and not m.get("subresource") for m in meta.get("managedFields") or []):
        return True
    created = meta.get("creationTimestamp")
    if started is None or not created:
        return False
    return dt.datetime.fromisoformat(created.replace("Z", "+00:00")) < started - SKEW


def remove(cluster: Any, objects: Sequence[dict[str, Any]], *, field_manager: str = FIELD_MANAGER,
           progress: Callable[[Applied], None] | None = None) -> ApplyReport:
    """Undo an apply: see :func:`kubebook.provision.remove.remove` (kept here, where callers import it)."""
    from kubebook.provision.remove import remove as undo

    return undo(cluster, objects, field_manager=field_manager, progress=progress)
