"""Start, check, hint and reset labs; apply what a solution says.

Why this shape: every change a lab makes goes into its own namespaces (``lab-*``) and its own
named cluster-scoped objects, through server-side apply with one field manager, so setup is
idempotent and a solution that re-applies an object replaces what setup said about it (as a
corrected manifest would). ``reset`` deletes exactly those and sets the lab up again; nothing
else on the cluster is touched and nothing is rebuilt.

What the lab did not create it does not take over (``ownership``: marked namespaces, policies no older
than the attempt), and a check is credited only to the trainee whose attempt holds the lab. Lifecycle
errors leave as one line (``labs.errors``): in a notebook a lab that cannot start says why in a sentence.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterable
from typing import Any

from kubebook import yamlload
from kubebook.cluster import Cluster
from kubebook.errors import ApiError, KubebookError, ParameterError
from kubebook.labs import emptying, hooks, local, model, netpol, ownership, progress
from kubebook.labs.errors import LabRefused, LabSetupError, NotStarted, OneLine
from kubebook.labs.model import Lab, LabResult, StepResult
from kubebook.labs.probes import PROBES, Context, Inconclusive

FIELD_MANAGER = "kubebook-lab"
OWNER_MANAGER = "kubebook-lab-owner"
LAB_LABEL = ownership.LAB_LABEL
STARTED = ownership.STARTED
ALL_PROBES = {**PROBES, **local.PROBES, "traffic": netpol.traffic}
DELETE_TIMEOUT = 60.0


def context(cluster: Cluster, lab: Lab, who: str | None = None) -> Context:
    return Context(cluster=cluster, lab=lab, workspace=progress.workspace(lab.id, who))


def objects_of(text_or_objects: str | Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Objects from multi-document YAML text (or already parsed)."""
    if not isinstance(text_or_objects, str):
        return [dict(o) for o in text_or_objects]
    docs = [d for d in (yamlload.load(part) for part in text_or_objects.split("\n---")) if d]
    for doc in docs:
        if not isinstance(doc, dict) or not doc.get("kind"):
            raise ParameterError("every YAML document must be a Kubernetes object with a kind")
    return docs


def apply_yaml(cluster: Cluster, manifest: str | Iterable[dict[str, Any]]) -> list[str]:
    """Server-side apply each object with the labs' field manager; returns ``Kind ns/name`` per object."""
    done = []
    for obj in objects_of(manifest):
        cluster.apply_object(obj, field_manager=FIELD_MANAGER)
        meta = obj["metadata"]
        done.append(f"{obj['kind']} {meta.get('namespace', '')}/{meta['name']}".replace(" /", " "))
    if any(o["kind"] == "CustomResourceDefinition" for o in objects_of(manifest)):
        cluster.forget_resources()
    return done


def delete(cluster: Cluster, refs: Iterable[dict[str, Any]]) -> list[str]:
    """Delete objects by reference (apiVersion, kind, name, namespace); already-gone ones are fine."""
    done, gone = [], []
    for ref in refs:
        cluster.delete_object(ref["apiVersion"], ref["kind"], ref["name"], ref.get("namespace"))
        gone.append((ref["apiVersion"], ref["kind"], ref["name"], ref.get("namespace")))
        done.append(f"deleted {ref['kind']} {ref.get('namespace', '')}/{ref['name']}".replace(" /", " "))
    _wait_gone(cluster, gone, DELETE_TIMEOUT)  # foreground deletion: dependents first, then the object
    return done


def run_action(cluster: Cluster, lab_id: str, action: dict[str, Any], who: str | None = None) -> Any:
    """Carry out one solution action (``apply``, ``delete``, ``set_flags`` or ``call``)."""
    lab = model.get(lab_id)
    if "apply" in action:
        return apply_yaml(cluster, action["apply"])
    if "delete" in action:
        return delete(cluster, action["delete"])
    ctx = context(cluster, lab, who)
    if "set_flags" in action:
        return local.set_flags(ctx, **action["set_flags"])
    call = dict(action["call"])
    name = call.pop("name")
    if name not in local.ACTIONS:
        raise ParameterError(f"unknown lab action {name!r}", hint="actions: " + ", ".join(local.ACTIONS))
    return local.ACTIONS[name](ctx, **call)


def solve(cluster: Cluster, lab_id: str, step_id: str | None = None, who: str | None = None) -> None:
    """Apply the reference solution of one step (or all): what the solution notebook does, without a kernel."""
    lab = model.get(lab_id)
    for step in lab.steps if step_id is None else [lab.step(step_id)]:
        for action in step.solution:
            run_action(cluster, lab_id, action, who)


# --- lifecycle ----------------------------------------------------------------------------------------

def _namespace(name: str, lab: Lab, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {LAB_LABEL: lab.id}}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def started(cluster: Cluster, lab: Lab) -> bool:
    """True when the lab's namespaces exist and setup finished (its marker is on the first one)."""
    return ownership.holder(cluster, lab) is not None


def _what(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind')} {meta.get('namespace', '')}/{meta.get('name')}".replace(" /", " ")


def _server_time(applied: dict[str, Any]) -> str:
    """When the API server wrote our apply (its own clock, which stamps the objects a trainee creates later)."""
    times = [m.get("time") for m in (applied.get("metadata") or {}).get("managedFields") or []
             if m.get("manager") == OWNER_MANAGER and m.get("time")]
    return max(times) if times else progress.now()


def setup(cluster: Cluster, lab: Lab, who: str | None = None, attempt: str | None = None) -> str:
    """Create the lab's starting state (idempotent): namespaces (marked as the lab's), objects, workspace files,
    hooks; last, the attempt's marks on the first namespace. Returns when the attempt began (server time).
    An object the cluster refuses is a LabSetupError naming it and the server's reason."""
    began = progress.now()
    for index, ns in enumerate(lab.namespaces):
        applied = cluster.apply_object(_namespace(ns, lab), field_manager=OWNER_MANAGER)
        if index == 0:
            began = _server_time(applied)
    _wait_for_default_accounts(cluster, lab.namespaces, DELETE_TIMEOUT)
    for obj in lab.setup:
        try:
            cluster.apply_object(obj, field_manager=FIELD_MANAGER)
        except ApiError as error:
            raise LabSetupError(f"lab {lab.id} could not be set up: the API server refused {_what(obj)}: "
                                f"{' '.join(error.message.split())}",
                                hint="an admission policy or quota of this cluster refuses the lab's starting "
                                     "state; report it with this message") from error
    ctx = context(cluster, lab, who)
    for relative, text in lab.workspace_files.items():
        target = ctx.workspace / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    for name in lab.setup_hooks:
        hooks.HOOKS[name](ctx)
    if lab.namespaces:
        notes = ownership.marks(lab, attempt or progress.new_attempt(), progress.trainee(who), began)
        cluster.apply_object(_namespace(lab.namespaces[0], lab, notes), field_manager=OWNER_MANAGER)
    return began


def _one_line(call: Any, lab_id: str, *args: Any) -> Any:
    """Run a lifecycle call; every kubebook error leaves it as one line (LabRefused for refusals, which
    change nothing, LabSetupError for a cluster that refused or failed part of the setup)."""
    try:
        return call(*args)
    except OneLine:
        raise
    except ParameterError as error:
        raise LabRefused(error.message, hint=error.hint) from error
    except KubebookError as error:
        raise LabSetupError(f"lab {lab_id} could not be set up: {' '.join(error.message.split())}",
                            hint=error.hint) from error


def start(cluster: Cluster, lab_id: str, who: str | None = None) -> Lab:
    """Set the lab up unless this trainee's attempt is in progress (a trainee's work is never undone by
    starting). Refused (one line, nothing changed): a namespace or cluster object of the lab's that the lab
    did not create, another trainee's attempt in progress, a reset that stopped midway."""
    return _one_line(_start, lab_id, cluster, lab_id, who)


def _start(cluster: Cluster, lab_id: str, who: str | None) -> Lab:
    lab = model.get(lab_id)
    me = progress.trainee(who)
    if lab.needs_local_cluster and local.components(context(cluster, lab, who)) is None:
        raise ParameterError(f"lab {lab_id} needs the kubebook local control plane",
                             hint="run it against the cluster of 'kubebook cluster up'")
    stopped = ownership.unfinished(lab.id)
    if stopped:
        raise ParameterError(f"a reset of lab {lab.id} stopped midway ({stopped.get('at')}, trainee "
                             f"{stopped.get('trainee')})", hint=f"run 'kubebook lab reset {lab.id}' to finish it")
    held = ownership.holder(cluster, lab)
    if held is None:
        ownership.refuse_foreign(cluster, lab, None, "start")
        attempt = progress.new_attempt()
        setup(cluster, lab, who, attempt)
        progress.record_start(lab.id, restart=True, who=who, attempt=attempt)
        return lab
    ownership.refuse_foreign(cluster, lab, held.started, "start")
    if held.trainee not in (None, me):
        raise ParameterError(f"lab {lab.id} is in progress for trainee {held.trainee} (since {held.started}); "
                             "its namespaces hold their work, which your checks would grade",
                             hint=f"'kubebook lab reset {lab.id} --trainee {me}' gives you a fresh attempt and "
                                  "undoes theirs; or use another cluster")
    attempt = held.id or progress.new_attempt()
    if held.trainee is None or held.id is None:  # set up by a kubebook that did not mark attempts: adopt it
        cluster.apply_object(_namespace(lab.namespaces[0], lab, ownership.marks(lab, attempt, me, held.started)),
                             field_manager=OWNER_MANAGER)
    if not context(cluster, lab, who).workspace.exists() and lab.workspace_files:
        setup(cluster, lab, who, attempt)
    progress.record_start(lab.id, who=who, attempt=attempt)
    return lab


def _wait_for_default_accounts(cluster: Cluster, namespaces: Iterable[str], timeout: float) -> None:
    """Pods are refused until the ServiceAccount controller has made ``default`` in a new namespace."""
    deadline = time.monotonic() + timeout
    for ns in namespaces:
        while cluster.get_object("v1", "ServiceAccount", "default", ns) is None:
            if time.monotonic() > deadline:
                raise ParameterError(f"namespace {ns} got no default ServiceAccount in {timeout:.0f} s",
                                     hint="is kube-controller-manager running? ('kubebook cluster status')")
            time.sleep(0.1)


def _wait_gone(cluster: Cluster, refs: list[tuple[str, str, str, str | None]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while refs:
        refs = [r for r in refs if cluster.get_object(*r) is not None]
        if not refs:
            return
        if time.monotonic() > deadline:
            raise ParameterError(f"{', '.join(f'{r[1]} {r[2]}' for r in refs)} still there after {timeout:.0f} s",
                                 hint="look for finalizers on it and retry")
        time.sleep(0.1)


def reset(cluster: Cluster, lab_id: str, who: str | None = None) -> Lab:
    """Empty the lab's namespaces, delete the cluster objects made during its attempt and the trainee's
    workspace, then set it up again as a fresh attempt of ``who``. Deletes only what the lab created
    (refused, one line, nothing changed, otherwise); holds the lab's reset lock and journals its intent."""
    return _one_line(_reset, lab_id, cluster, lab_id, who)


def _reset(cluster: Cluster, lab_id: str, who: str | None) -> Lab:
    lab = model.get(lab_id)
    me = progress.trainee(who)
    held = ownership.holder(cluster, lab)
    stopped = ownership.unfinished(lab.id)
    since = held.started if held else (stopped or {}).get("since")
    ownership.refuse_foreign(cluster, lab, since, "reset")
    workspace = context(cluster, lab, who).workspace
    deletes = [f"{r['kind']} {r['name']}" for r in lab.cluster_objects] + \
        [f"everything in namespace {ns}" for ns in lab.namespaces] + [f"workspace {workspace}"]
    attempt = progress.new_attempt()
    with ownership.resetting(lab, me, deletes, since):
        for ref in lab.cluster_objects:
            try:
                cluster.delete_object(ref["apiVersion"], ref["kind"], ref["name"])
            except ParameterError:
                continue  # the kind is not served (yet): nothing of it can exist
        for ns in lab.namespaces:
            emptying.empty(cluster, ns, {LAB_LABEL: lab.id}, DELETE_TIMEOUT)
        shutil.rmtree(workspace, ignore_errors=True)
        setup(cluster, lab, who, attempt)
        if lab.cluster_objects:
            _settle(cluster, lab, who)
    progress.record_start(lab.id, restart=True, who=who, attempt=attempt)
    return lab


def _settle(cluster: Cluster, lab: Lab, who: str | None, timeout: float = 20.0) -> None:
    """Wait until deleted cluster-scoped objects stop acting (an admission policy stays in the API server's
    cache a moment after it is deleted), so a reset lab is observably at its start when reset returns."""
    ctx = context(cluster, lab, who)
    deadline = time.monotonic() + timeout
    while any(verify_step(ctx, step).passed for step in lab.steps) and time.monotonic() < deadline:
        time.sleep(0.3)


# --- checking -------------------------------------------------------------------------------------------

def verify_step(ctx: Context, step: model.Step) -> StepResult:
    """Run a step's probes in order; the first failure decides, with the lab's advice in front."""
    details = []
    for spec in step.verify:
        args = {k: v for k, v in spec.items() if k not in ("probe", "fail")}
        probe = ALL_PROBES.get(spec["probe"])
        if probe is None:
            return StepResult(step.id, False, f"unknown probe {spec['probe']!r} (a bug in the lab file)")
        try:
            ok, detail = probe(ctx, **args)
        except Inconclusive as undecided:  # the lab's advice would be wrong here: say what happened instead
            return StepResult(step.id, False, f"could not judge this step - {undecided}")
        except (ApiError, ParameterError, OSError, LookupError) as error:
            ok, detail = False, f"could not verify: {error}"
        if not ok:
            advice = spec.get("fail", "not yet")
            return StepResult(step.id, False, f"{advice.strip()} - {detail}")
        details.append(detail)
    return StepResult(step.id, True, "; ".join(details))


def check(cluster: Cluster, lab_id: str, step_id: str | None = None, *, who: str | None = None,
          wait: float = 0.0, record: bool = True) -> LabResult:
    """Verify one step or all; with ``wait``, re-check failing steps until they pass or time runs out
    (admission policies and RBAC reach the API server's caches a moment after they are written).

    A recorded check (``record``, the default) is credited only to the trainee whose attempt holds the lab
    (the attempt id on its namespace matches the trainee's record); anyone else gets NotStarted (one line,
    exit 2) and nothing is verified or recorded, so nobody is graded on someone else's work."""
    lab = model.get(lab_id)
    attempt = _own_attempt(cluster, lab, who) if record else None
    ctx = context(cluster, lab, who)
    steps = list(lab.steps) if step_id is None else [lab.step(step_id)]
    results = {s.id: verify_step(ctx, s) for s in steps}
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and not all(r.passed for r in results.values()):
        time.sleep(0.5)
        for s in steps:
            if not results[s.id].passed:
                results[s.id] = verify_step(ctx, s)
    outcome = LabResult(lab.id, [results[s.id] for s in steps])
    if record:
        progress.record_checks(lab.id, outcome.steps, [s.id for s in lab.steps], who=who, attempt=attempt)
    return outcome


def _own_attempt(cluster: Cluster, lab: Lab, who: str | None) -> str:
    """The id of the attempt in progress when it is ``who``'s; NotStarted otherwise."""
    me = progress.trainee(who)
    held = ownership.holder(cluster, lab)
    if held is None:
        raise NotStarted(f"lab {lab.id} is not started on this cluster (trainee {me})",
                         hint=f"run 'kubebook lab start {lab.id}' first")
    if held.trainee != me:
        raise NotStarted(f"trainee {me} has not started lab {lab.id}: its namespaces hold the attempt of trainee "
                         f"{held.trainee or 'unknown'}, whose work a check would grade",
                         hint=f"'kubebook lab start {lab.id}' (or reset) on a cluster of your own")
    entry = progress.entry_of(progress.load(who), lab.id)
    if entry is None or entry.get("attempt") != held.id:
        raise NotStarted(f"trainee {me} has no record of the attempt of lab {lab.id} in progress",
                         hint=f"run 'kubebook lab start {lab.id}' (it keeps your work and records the attempt)")
    return str(held.id)


def hint(lab_id: str, step_id: str, who: str | None = None) -> list[str]:
    """Reveal one more hint of a step (counted in progress); returns every hint revealed so far, with
    ``<workspace>`` replaced by the trainee's workspace folder."""
    step = model.get(lab_id).step(step_id)
    shown = progress.record_hint(lab_id, step_id, len(step.hints), who)
    folder = str(progress.workspace(lab_id, who))
    return [text.replace("<workspace>", folder) for text in step.hints[:shown]]


def status(lab_id: str | None = None, who: str | None = None) -> list[dict[str, Any]]:
    """Per lab: steps passed, time taken, hints used (from the trainee's local progress)."""
    doc = progress.load(who)
    labs = model.catalog().values() if lab_id is None else [model.get(lab_id)]
    return [progress.summary(lab, doc) for lab in labs]


class LabNotPassed(KubebookError):
    """A lab's check found steps that do not pass; the message lists each with its reason."""


def require_passed(result: LabResult) -> LabResult:
    """Raise LabNotPassed unless every step passed (the last cell of a solution notebook)."""
    if not result.passed:
        failing = [f"{s.id}: {s.reason}" for s in result.steps if not s.passed]
        raise LabNotPassed(f"lab {result.lab}: {len(failing)} step(s) do not pass: " + " | ".join(failing))
    return result
