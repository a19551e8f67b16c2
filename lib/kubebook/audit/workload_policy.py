"""Workload hygiene peers check and kubebook did not: ephemeral storage, pull policy, high run-as ids,
disruption budgets, CronJob deadlines and StatefulSet governing Services.

Each verdict is per top-level workload (see workloads.py), grouped into batches.
The pull policy is judged after the API server's defaulting: unset means Always
for an image with no tag or tag ``latest`` and IfNotPresent otherwise; a digest
pins the content, so any policy passes then. Run-as ids below 10000 may collide
with host users should the container escape; neither the Pod Security Standards
nor CIS require more than non-root, so that check is low severity and unscored.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from kubebook.audit import catalog, extra_kinds
from kubebook.audit.grouped import Grouped
from kubebook.audit.images import parse_image
from kubebook.audit.model import Finding, FindingBatch
from kubebook.audit.workloads import (
    CLUSTER,
    WORKLOAD_KINDS,
    Workload,
    not_evaluated,
    selector_matches,
    top_level_workloads,
)

CHECK_IDS = ("workloads.ephemeral-storage", "workloads.image-pull-policy", "workloads.high-uid",
             "workloads.disruption-budget", "workloads.cronjob-deadline", "workloads.statefulset-service")
MIN_ID = 10000
CONTAINER_CHECKS = ("workloads.ephemeral-storage", "workloads.image-pull-policy", "workloads.high-uid")


def applies_to(inv: Any) -> bool:
    return inv.source in ("cluster", "manifests")


def evaluate(inv: Any) -> Iterator[Finding | FindingBatch]:
    errors = not_evaluated(inv, WORKLOAD_KINDS, CHECK_IDS)
    if errors:
        yield from errors
        return
    checks = {check_id: catalog.get(check_id) for check_id in CHECK_IDS}
    grouped = Grouped()
    budgets = extra_kinds.objects(inv, "PodDisruptionBudget")
    services = extra_kinds.objects(inv, "Service")
    by_ns: dict[str, list[dict[str, Any]]] = {}
    for budget in budgets or ():
        by_ns.setdefault((budget.get("metadata") or {}).get("namespace") or "default", []).append(budget)
    headless = {((s.get("metadata") or {}).get("namespace") or "default", (s.get("metadata") or {}).get("name"))
                for s in services or () if (s.get("spec") or {}).get("clusterIP") == "None"}
    verdicts: dict[tuple[Any, ...], tuple[tuple[str, str], ...]] = {}
    for workload in top_level_workloads(inv):
        _containers(grouped, checks, workload, verdicts)
        if workload.kind in ("Deployment", "StatefulSet") and budgets is not None:
            _budget(grouped, checks["workloads.disruption-budget"], workload, by_ns.get(workload.namespace, []))
        if workload.kind == "CronJob":
            deadline = (workload.obj.get("spec") or {}).get("startingDeadlineSeconds")
            if deadline is None:
                grouped.add(checks["workloads.cronjob-deadline"], workload.resource, "FAIL",
                            "no startingDeadlineSeconds: after 100 missed schedules the controller stops starting it")
            else:
                grouped.add(checks["workloads.cronjob-deadline"], workload.resource, "PASS",
                            f"startingDeadlineSeconds: {deadline}")
        if workload.kind == "StatefulSet" and services is not None:
            _governing_service(grouped, checks["workloads.statefulset-service"], workload, headless)
    yield from grouped.entries()
    missing = {"workloads.disruption-budget": ("PodDisruptionBudget", budgets),
               "workloads.statefulset-service": ("Service", services)}
    for check_id, check in checks.items():
        kind, found = missing.get(check_id, ("", []))
        if found is None:
            yield Finding(check, CLUSTER, "INFO", extra_kinds.not_listed(kind))
        # a check with nothing to judge yields nothing: left out of the score, never a PASS


def pull_policy(container: dict[str, Any]) -> str:
    """The container's imagePullPolicy after the API server's defaulting."""
    return _pull(str(container.get("image") or ""), container.get("imagePullPolicy"))[0]


@functools.lru_cache(maxsize=4096)
def _pull(image: str, policy: str | None) -> tuple[str, bool]:
    """(effective pull policy, pinned by digest) of one image reference (few distinct values per cluster)."""
    _, _, tag, digest = parse_image(image)
    if policy:
        return str(policy), bool(digest)
    return ("Always" if not digest and tag in (None, "latest") else "IfNotPresent"), bool(digest)


def _containers(grouped: Grouped, checks: dict[str, Any], workload: Workload,
                verdicts: dict[tuple[Any, ...], tuple[tuple[str, str], ...]]) -> None:
    """The three per-container checks; workloads with equal container facts share one computed verdict."""
    pod_sc = workload.spec.get("securityContext") or {}
    facts: list[Any] = [pod_sc.get("runAsUser"), pod_sc.get("runAsGroup")]
    for container in workload.containers():
        resources = container.get("resources") or {}
        sc = container.get("securityContext") or {}
        facts.append((container.get("name", "?"), str(container.get("image") or ""), container.get("imagePullPolicy"),
                      "ephemeral-storage" in (resources.get("limits") or {}),
                      "ephemeral-storage" in (resources.get("requests") or {}),
                      sc.get("runAsUser"), sc.get("runAsGroup")))
    key = tuple(facts)
    found = verdicts.get(key)
    if found is None:
        found = verdicts[key] = _judge_containers(key)
    resource = workload.resource
    for check_id, (result, message) in zip(CONTAINER_CHECKS, found, strict=True):
        grouped.add(checks[check_id], resource, result, message)


def _judge_containers(key: tuple[Any, ...]) -> tuple[tuple[str, str], ...]:
    pod_user, pod_group = key[0], key[1]
    no_storage, cached, low = [], [], []
    for name, image, policy, limited, requested, user, group in key[2:]:
        if not limited:
            no_storage.append(name + (" (no limit)" if requested else " (no request or limit)"))
        effective, pinned = _pull(image, policy)
        if not pinned and effective != "Always":
            cached.append(f"{name}={image} ({effective})")
        for field, value in (("runAsUser", pod_user if user is None else user),
                             ("runAsGroup", pod_group if group is None else group)):
            if value is None:
                low.append(f"{name} {field} unset (the image decides)")
            elif isinstance(value, int) and value < MIN_ID:
                low.append(f"{name} {field}={value}")
    return (("FAIL", f"no ephemeral-storage limit: {'; '.join(no_storage)}") if no_storage else
            ("PASS", "every container limits its ephemeral storage"),
            ("FAIL", "tagged image not pulled Always (a cached copy runs without a registry credential check): "
             + "; ".join(cached)) if cached else
            ("PASS", "every tagged image is pulled Always (or pinned by digest)"),
            ("FAIL", f"run-as ids below {MIN_ID}: {'; '.join(low)}") if low else
            ("PASS", f"run-as user and group ids >= {MIN_ID}"))


def _replicas(workload: Workload) -> int:
    value = (workload.obj.get("spec") or {}).get("replicas")
    return value if isinstance(value, int) and not isinstance(value, bool) else 1


def _budget(grouped: Grouped, check: Any, workload: Workload, budgets: list[dict[str, Any]]) -> None:
    replicas = _replicas(workload)
    if replicas < 2:
        grouped.add(check, workload.resource, "PASS", f"{replicas} replica: a budget cannot keep one pod up")
        return
    labels = workload.pod_meta.get("labels") or {}
    matching = [str((b.get("metadata") or {}).get("name")) for b in budgets
                if (b.get("spec") or {}).get("selector") is not None
                and selector_matches((b.get("spec") or {})["selector"], labels)]
    if matching:
        grouped.add(check, workload.resource, "PASS", f"PodDisruptionBudget {', '.join(sorted(matching))}")
    else:
        grouped.add(check, workload.resource, "FAIL", f"{replicas} replicas and no PodDisruptionBudget selects "
                    "their pods: a node drain may evict all at once")


def _governing_service(grouped: Grouped, check: Any, workload: Workload, headless: set[tuple[str, Any]]) -> None:
    name = (workload.obj.get("spec") or {}).get("serviceName")
    if not name:
        grouped.add(check, workload.resource, "PASS", "no serviceName (no per-pod DNS names asked for)")
    elif (workload.namespace, name) in headless:
        grouped.add(check, workload.resource, "PASS", f"headless Service {name} governs it")
    else:
        grouped.add(check, workload.resource, "FAIL", f"serviceName {name} names no headless Service (clusterIP: "
                    f"None) in namespace {workload.namespace}: its pods get no stable DNS names")
