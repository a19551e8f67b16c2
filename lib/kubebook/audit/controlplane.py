"""Control-plane checks (CIS 1.x, 2.x, 3.x): component flags and the files they point to.

Every check is a record in ``checks/controlplane.yaml`` plus a rule in
``rules/controlplane.yaml``; this module only walks the collections and applies
the rules (see :mod:`kubebook.audit.cprules`). Collections come from
:mod:`kubebook.audit.cpcollect`: the local control plane (``--control-plane``
source), ``ControlPlaneCollection`` documents among manifests, and control-plane
static/mirror Pods in kube-system.

A component missing from a collection is WARN (it could not be checked), a
component's config file that cannot be read is ERROR, and a file check on a
source that has no file facts (Pods seen through the API) is WARN: none of them
ever passes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubebook.audit import catalog, cpcollect
from kubebook.audit.cprules import Component, Unknown, rules, run_test
from kubebook.audit.model import Finding, Resource
from kubebook.errors import AuditError

CONVENTIONAL_SETS = ("admin-kubeconfigs",)


def _control_plane_pods(inv: Any) -> list[tuple[dict[str, Any], str | None]]:
    found = []
    for pod in inv.objects("Pod"):
        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        commands = [list(c.get("command") or []) for c in spec.get("containers") or []]
        if meta.get("namespace") == "kube-system" and any(cpcollect.component_of(c) for c in commands):
            origin = inv.origins.get(("Pod", meta.get("namespace"), meta.get("name")))
            found.append((pod, origin[0] if origin else None))
    return found


def collections(inv: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """(collections, problems) for an inventory, computed once and kept on it."""
    cached = getattr(inv, "_kubebook_cp", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    found: list[dict[str, Any]] = list(inv.objects(cpcollect.KIND))
    problems: list[str] = []
    if inv.control_plane:  # the control-plane source, or a live cluster audited with --control-plane
        try:
            found.append(cpcollect.collect_local(inv.control_plane))
        except AuditError as error:
            problems.append(str(error))
    pods = _control_plane_pods(inv)
    local = [p for p in pods if p[1]]
    remote = [p for p in pods if not p[1]]
    for group, is_local, origin in ((local, True, "static pod manifests"), (remote, False, "control-plane Pods")):
        collection = cpcollect.from_pods(group, origin, local=is_local) if group else None
        if collection:
            found.append(collection)
    result = (found, problems)
    object.__setattr__(inv, "_kubebook_cp", result)
    return result


def applies_to(inv: Any) -> bool:
    return (inv.source == "control-plane" or bool(inv.control_plane) or bool(inv.objects(cpcollect.KIND))
            or bool(_control_plane_pods(inv)))


def evaluate(inv: Any) -> Iterator[Finding]:
    found, problems = collections(inv)
    for problem in problems:
        yield Finding(catalog.get("source.unreadable"), Resource("ControlPlane", None, str(inv.control_plane)),
                      "ERROR", problem)
    for collection in found:
        components = [Component(entry, collection) for entry in collection.get("components") or []]
        for check_id, rule in rules()["flag_checks"].items():
            yield from _flag_check(check_id, rule, components, collection)
        for check_id, rule in rules()["file_checks"].items():
            yield from _file_check(check_id, rule, components, collection)


def _flag_check(check_id: str, rule: dict[str, Any], components: list[Component],
                collection: dict[str, Any]) -> Iterator[Finding]:
    check = catalog.get(check_id)
    targets = [c for c in components if c.name == rule["component"]]
    if not targets:
        yield Finding(check, Resource("ControlPlane", None, str(collection["metadata"]["name"])), "WARN",
                      f"no {rule['component']} found in {collection.get('origin')}; not checked")
        return
    for component in targets:
        texts, passed = [], True
        try:
            for test in rule.get("all") or []:
                ok, text = run_test(component, test, components)
                passed &= ok
                texts.append(text)
        except Unknown as error:
            yield Finding(check, component.resource, "ERROR", f"not evaluated: {error}")
            continue
        yield Finding(check, component.resource, "PASS" if passed else "FAIL", "; ".join(texts))


def file_paths(spec: str, components: list[Component], collection: dict[str, Any]) -> list[tuple[str, str]]:
    """(path, why it is checked) for a file set of rules/controlplane.yaml."""
    if spec.startswith("manifest:"):
        name = spec.split(":", 1)[1]
        return [(c.entry["manifest"], f"{c.resource.name} static pod manifest") for c in components
                if c.name == name and c.entry.get("manifest")]
    if spec == "admin-kubeconfigs":
        return [(p, "admin kubeconfig") for p in collection.get("admin_kubeconfigs") or []]
    wanted = rules()["file_sets"][spec]["flags"]
    paths: dict[str, str] = {}
    for component in components:
        for flag in wanted.get(component.name, []):
            try:
                found = component.explicit(flag)
            except Unknown:
                found = None
            value = component.flags.get(flag) if found is None else found[0]
            if value and value.startswith("/"):
                paths.setdefault(value, f"{component.resource.name} {flag}")
    return sorted(paths.items())


def _file_check(check_id: str, rule: dict[str, Any], components: list[Component],
                collection: dict[str, Any]) -> Iterator[Finding]:
    check = catalog.get(check_id)
    origin = collection.get("origin")
    where = Resource("ControlPlane", None, str(collection["metadata"]["name"]))
    files = collection.get("files")
    paths = file_paths(rule["files"], components, collection)
    if rule.get("with_dirs"):
        dirs = {p.rsplit("/", 1)[0]: f"directory of {p}" for p, _ in paths if "/" in p.strip("/")}
        paths = sorted({**dict(paths), **dirs}.items())
    if files is None:
        yield Finding(check, where, "WARN", f"{origin} carries no file facts (the files are on the control-plane "
                      "host); collect them there with 'python -m kubebook.audit.cpcollect'")
        return
    if not paths:
        what = rule["files"].replace("manifest:", "static pod manifest of ")
        yield Finding(check, where, "INFO", f"not applicable: {origin} names no {what}")
        return
    evaluated = 0
    for path, why in paths:
        facts = files.get(path)
        resource = Resource("File", None, path)
        if facts is None:
            yield Finding(check, resource, "WARN", f"{why}: the collection has no facts for {path}")
            continue
        if "error" in facts:
            yield Finding(check, resource, "ERROR", f"{why}: {facts['error']}")
            continue
        if not facts.get("exists"):
            result = "INFO" if rule["files"] in CONVENTIONAL_SETS else "WARN"
            yield Finding(check, resource, result, f"{why}: {path} does not exist")
            continue
        if rule.get("pem") and facts.get("type") == "file" and facts.get("pem") not in rule["pem"]:
            continue
        evaluated += 1
        yield _judge(check, resource, why, facts, rule)
    if not evaluated and rule.get("pem"):
        yield Finding(check, where, "INFO", f"not applicable: no {'/'.join(rule['pem'])} file among those "
                      f"{origin} names")


def _judge(check: Any, resource: Resource, why: str, facts: dict[str, Any], rule: dict[str, Any]) -> Finding:
    if "max_mode" in rule:
        mode, limit = int(str(facts["mode"]), 8), int(str(rule["max_mode"]), 8)
        extra = mode & ~limit
        if extra:
            return Finding(check, resource, "FAIL", f"{why}: mode {facts['mode']} allows bits {extra:03o} "
                           f"beyond {rule['max_mode']}")
        return Finding(check, resource, "PASS", f"{why}: mode {facts['mode']} (at most {rule['max_mode']})")
    owner = f"{facts.get('owner')}:{facts.get('group')}"
    if owner == rule["owner"]:
        return Finding(check, resource, "PASS", f"{why}: owned by {owner}")
    return Finding(check, resource, "FAIL", f"{why}: owned by {owner}, expected {rule['owner']}")
