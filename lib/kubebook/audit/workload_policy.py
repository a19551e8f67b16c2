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
    for workload in top_level_workloads(inv):
        _containers(grouped, checks, workload)
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
        elif check_id not in grouped.checks:
            yield Finding(check, CLUSTER, "PASS", "no workload in the inventory this check applies to")


def pull_policy(container: dict[str, Any]) -> str:
    """The container's imagePullPolicy after the API server's defaulting."""
    if container.get("imagePullPolicy"):
        return str(container["imagePullPolicy"])
    _, _, tag, digest = parse_image(str(container.get("image") or ""))
    return "Always" if not digest and tag in (None, "latest") else "IfNotPresent"


def _containers(grouped: Grouped, checks: dict[str, Any], workload: Workload) -> None:
    no_storage, cached, low = [], [], []
    pod_sc = workload.spec.get("securityContext") or {}
    for container in workload.containers():
        name = container.get("name", "?")
        resources = container.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        if "ephemeral-storage" not in limits:
            no_storage.append(name + (" (no limit)" if "ephemeral-storage" in requests else " (no request or limit)"))
        _, _, _, digest = parse_image(str(container.get("image") or ""))
        policy = pull_policy(container)
        if not digest and policy != "Always":
            cached.append(f"{name}={container.get('image')} ({policy})")
        sc = container.get("securityContext") or {}
        for field in ("runAsUser", "runAsGroup"):
            value = sc.get(field, pod_sc.get(field))
            if value is None:
                low.append(f"{name} {field} unset (the image decides)")
            elif isinstance(value, int) and value < MIN_ID:
                low.append(f"{name} {field}={value}")
    grouped.add(checks["workloads.ephemeral-storage"], workload.resource, "FAIL" if no_storage else "PASS",
                f"no ephemeral-storage limit: {'; '.join(no_storage)}" if no_storage else
                "every container limits its ephemeral storage")
    grouped.add(checks["workloads.image-pull-policy"], workload.resource, "FAIL" if cached else "PASS",
                f"tagged image not pulled Always (a cached copy runs without a registry credential check): "
                f"{'; '.join(cached)}" if cached else "every tagged image is pulled Always (or pinned by digest)")
    grouped.add(checks["workloads.high-uid"], workload.resource, "FAIL" if low else "PASS",
                f"run-as ids below {MIN_ID}: {'; '.join(low)}" if low else f"run-as user and group ids >= {MIN_ID}")


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
