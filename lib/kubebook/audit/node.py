"""Worker-node checks (CIS section 4 and the CNI file checks 1.1.9/1.1.10) over NodeCollections.

Every check is a record in ``checks/node.yaml`` plus a rule in ``rules/node.yaml``; this module
resolves each kubelet setting the way the kubelet does (flag, else config-file field, else the
default of whichever of the two is in use) and judges files like the control-plane engine.
Collections come from :mod:`kubebook.audit.nodecollect`: the real node of a local cluster
(``kubebook audit --control-plane NAME``) or ``NodeCollection`` documents among manifests.
A local cluster without a real node gets one INFO per check (KWOK nodes run no kubelet); an
unreadable config file is ERROR, a missing file WARN: nothing passes silently.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kubebook.audit import catalog, nodecollect, yamlload
from kubebook.audit.cpcollect import parse_flags
from kubebook.audit.model import Finding, Resource
from kubebook.errors import AuditError


@functools.cache
def rules() -> dict[str, Any]:
    text = (Path(__file__).resolve().parent / "rules" / "node.yaml").read_text(encoding="utf-8")
    return dict(yamlload.load(text))


def _collections(inv: Any) -> tuple[list[dict[str, Any]], list[str], bool]:
    """(collections, problems, local cluster without a real node)."""
    found = list(inv.objects(nodecollect.KIND))
    problems: list[str] = []
    kwok_only = False
    if inv.source == "control-plane" and inv.control_plane:
        try:
            local = nodecollect.collect_local(inv.control_plane)
        except (AuditError, OSError, ValueError) as error:
            problems.append(f"real node of {inv.control_plane}: {error}")
            local = None
        if local is not None:
            found.append(local)
        elif not problems:
            kwok_only = True
    return found, problems, kwok_only


def applies_to(inv: Any) -> bool:
    return bool(inv.objects(nodecollect.KIND)) or (inv.source == "control-plane" and bool(inv.control_plane))


def evaluate(inv: Any) -> Iterator[Finding]:
    found, problems, kwok_only = _collections(inv)
    for problem in problems:
        yield Finding(catalog.get("source.unreadable"), Resource("Node", None, str(inv.control_plane)), "ERROR",
                      problem)
    if kwok_only:
        where = Resource("Node", None, f"{inv.control_plane} (KWOK nodes)")
        for check_id in [*rules()["kubelet_checks"], *rules()["file_checks"]]:
            yield Finding(catalog.get(check_id), where, "INFO",
                          "not applicable: the cluster's workers are KWOK nodes, which run no kubelet "
                          "('kubebook cluster up --real-nodes 1' adds a real one)")
    for collection in found:
        yield from _kubelet_checks(collection)
        yield from _file_checks(collection)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _dotted(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def effective(setting: dict[str, Any], flags: dict[str, str], config: dict[str, Any] | None) -> tuple[str | None, str]:
    """(value, how it was found) of one kubelet setting."""
    flag, field = setting["flag"], setting.get("field")
    if flag in flags:
        return flags[flag], f"{flag}={flags[flag]}"
    if config is not None and field:
        value = _dotted(config, field)
        if value is not None:
            return _text(value), f"config {field}: {_text(value)}"
        default = setting.get("config_default")
        return default, f"config {field} unset (default {default if default is not None else 'none'})"
    default = setting.get("flag_default")
    return default, f"{flag} unset (default {default if default is not None else 'none'})"


def _test(test: dict[str, Any], flags: dict[str, str], config: dict[str, Any] | None) -> tuple[bool, str]:
    op = test["op"]
    if op == "either":
        results = [_test(t, flags, config) for t in test["tests"]]
        return any(ok for ok, _ in results), " or ".join(text for _, text in results)
    setting = rules()["settings"][test["setting"]]
    if op == "notset":
        present = setting["flag"] in flags
        return not present, (f"{setting['flag']}={flags[setting['flag']]}" if present
                             else f"{setting['flag']} not set")
    value, how = effective(setting, flags, config)
    expected = test.get("value")
    if op == "set":
        return bool(value), how
    if value is None:
        return False, how
    if op == "eq":
        return value.lower() == str(expected).lower(), how
    if op == "nothave":
        return str(expected) not in value.split(","), how
    if op == "gte":
        try:
            return float(value) >= float(expected), how
        except ValueError:
            return False, f"{how} (not a number)"
    if op == "nonzero_duration":
        return bool(re.search(r"[1-9]", value)), how
    if op == "valid_elements":
        weak = [v for v in value.split(",") if v and v not in expected]
        return not weak and bool(value), how + (f" (not allowed: {', '.join(weak)})" if weak else "")
    raise AuditError(f"rules/node.yaml: unknown op {op!r}")


def _kubelet_checks(collection: dict[str, Any]) -> Iterator[Finding]:
    kubelet = collection.get("kubelet") or {}
    flags = parse_flags(list(kubelet.get("argv") or []))
    config = kubelet.get("config")
    where = Resource("Node", None, str(collection["metadata"]["name"]))
    for check_id, test in rules()["kubelet_checks"].items():
        check = catalog.get(check_id)
        if isinstance(config, dict) and "error" in config:
            yield Finding(check, where, "ERROR", f"kubelet config not evaluated: {config['error']}")
            continue
        ok, how = _test(test, flags, config if isinstance(config, dict) else None)
        yield Finding(check, where, "PASS" if ok else "FAIL", f"kubelet {how}")


def _file_checks(collection: dict[str, Any]) -> Iterator[Finding]:
    sets = collection.get("file_sets") or {}
    facts_of = collection.get("files") or {}
    where = Resource("Node", None, str(collection["metadata"]["name"]))
    for check_id, rule in rules()["file_checks"].items():
        check = catalog.get(check_id)
        chosen = sets.get(rule["files"])
        paths = [p for p in (chosen if isinstance(chosen, list) else [chosen]) if p]
        if not paths:
            what = f"CNI configuration files in {collection.get('cni_dir')}" if rule["files"] == "cni" \
                else f"kubelet {rule['files']} file"
            yield Finding(check, where, "WARN", f"no {what} found; not checked")
            continue
        for path in paths:
            facts = facts_of.get(path) or {}
            resource = Resource("File", None, path)
            if "error" in facts:
                yield Finding(check, resource, "ERROR", facts["error"])
            elif not facts.get("exists"):
                yield Finding(check, resource, "WARN", f"{path} does not exist")
            elif "max_mode" in rule:
                extra = int(str(facts["mode"]), 8) & ~int(str(rule["max_mode"]), 8)
                yield Finding(check, resource, "FAIL" if extra else "PASS",
                              f"mode {facts['mode']}" + (f" allows bits {extra:03o} beyond {rule['max_mode']}"
                                                         if extra else f" (at most {rule['max_mode']})"))
            else:
                owner = f"{facts.get('owner')}:{facts.get('group')}"
                yield Finding(check, resource, "PASS" if owner == rule["owner"] else "FAIL",
                              f"owned by {owner}" + ("" if owner == rule["owner"] else f", expected {rule['owner']}"))
