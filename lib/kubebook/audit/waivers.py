"""Waivers: accepted risks with a reason and an expiry, kept in a YAML file beside the audit.

File format::

    waivers:
      - check: privileged            # check id, or a glob ("rbac.*")
        resource:                    # all given fields must match; each is optional
          kind: DaemonSet            # glob
          namespace: "kube-*"        # glob ("" matches cluster-scoped objects)
          name: "kube-proxy*"        # glob
          labels: {app: kube-proxy}  # every label must equal the object's label
        reason: node networking needs a privileged agent
        expires: 2026-12-31          # applies through this date; after it the waiver is reported, not applied
        broad: false                 # true accepts a waiver whose check glob has no narrowing resource selector

A waiver marks matching FAIL/WARN findings ``waived`` (the result itself is kept);
waived findings do not count toward the score or ``--fail-on``. ERROR findings
(unreadable input) cannot be waived. An invalid file is a ParameterError that
lists every problem, raised before anything is audited. Refused too, because each
would hide risks silently: a blank reason, an expiry more than MAX_WAIVER_DAYS
ahead (a waiver is reviewed at least yearly), and a *broad* waiver - a check glob
(``*``, ``rbac.*``) with no resource field that narrows it - unless it says
``broad: true``.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubebook.audit import yamlload
from kubebook.audit.rows import FindingRows
from kubebook.audit.schemacheck import problems as schema_problems
from kubebook.errors import ParameterError

WAIVABLE = ("FAIL", "WARN")
MAX_WAIVER_DAYS = 366  # a waiver is reviewed at least yearly: a later expiry is refused
FILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["waivers"],
    "properties": {"waivers": {"type": "array", "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["check", "reason", "expires"],
        "properties": {
            "check": {"type": "string", "minLength": 1},
            "resource": {"type": "object", "additionalProperties": False, "properties": {
                "kind": {"type": "string"}, "namespace": {"type": "string"}, "name": {"type": "string"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}}}},
            "reason": {"type": "string", "minLength": 3},
            "expires": {"type": "string", "format": "date"},
            "broad": {"type": "boolean"},
        },
    }}},
}


@dataclass(frozen=True)
class Waiver:
    check: str
    reason: str
    expires: dt.date
    kind: str = "*"
    namespace: str = "*"
    name: str = "*"
    labels: dict[str, str] = field(default_factory=dict, hash=False)

    def expired(self, today: dt.date) -> bool:
        return today > self.expires

    def matches(self, check: str, kind: str, namespace: str | None, name: str,
                labels: dict[str, str] | None) -> bool:
        if not (fnmatch.fnmatchcase(check, self.check) and fnmatch.fnmatchcase(kind, self.kind)
                and fnmatch.fnmatchcase(namespace or "", self.namespace) and fnmatch.fnmatchcase(name, self.name)):
            return False
        return all((labels or {}).get(k) == v for k, v in self.labels.items())

    def describe(self) -> str:
        selector = f"{self.kind}/{self.namespace}/{self.name}"
        if self.labels:
            selector += " " + ",".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        return f"{self.check} on {selector} (expired {self.expires.isoformat()}): {self.reason}"


def load_waivers(path: str | Path, known_checks: set[str] | None = None, *,
                 today: dt.date | None = None) -> list[Waiver]:
    """Parse and validate a waivers file; every problem is listed in one ParameterError."""
    path = Path(path).expanduser()
    today = today or dt.date.today()
    if not path.is_file():
        raise ParameterError(f"waivers file {path} cannot be read: it is not a file",
                             hint="pass an existing YAML file to --waivers")
    what = f"waivers file {path}"
    text = yamlload.read_text(path, what)  # size and UTF-8 bounds, each refusal one line
    yamlload.check(text, what)  # aliases, depth, duplicate keys: refused before anything walks the document
    try:
        data = yamlload.load(text)
    except yamlload.YAMLError as error:
        raise ParameterError(f"waivers file {path} is not valid YAML",
                             problems=[str(error).replace("\n", " ")]) from error
    except (ValueError, RecursionError) as error:  # YAML reads 2026-02-30 as a date, which does not exist
        raise ParameterError(f"waivers file {path} is not valid YAML: {_impossible(text, error)}",
                             hint="dates are YYYY-MM-DD and must exist (expires: 2026-02-28)") from error
    # YAML turns an unquoted 2026-12-31 into a date; the schema speaks strings.
    for item in (data or {}).get("waivers", []) if isinstance(data, dict) else []:
        if isinstance(item, dict) and isinstance(item.get("expires"), dt.date):
            item["expires"] = item["expires"].isoformat()
    problems = schema_problems(FILE_SCHEMA, data)
    waivers: list[Waiver] = []
    if not problems:
        for index, item in enumerate(data["waivers"]):
            if known_checks is not None and not any(fnmatch.fnmatchcase(c, item["check"]) for c in known_checks):
                problems.append(f"waivers/{index}/check: {item['check']!r} matches no known check id")
            selector = item.get("resource", {})
            problems += _policy_problems(index, item, selector, known_checks, today)
            waivers.append(Waiver(check=item["check"], reason=item["reason"].strip(),
                                  expires=dt.date.fromisoformat(item["expires"]),
                                  kind=selector.get("kind", "*"), namespace=selector.get("namespace", "*"),
                                  name=selector.get("name", "*"), labels=dict(selector.get("labels", {}))))
    if problems:
        raise ParameterError(f"waivers file {path} is invalid", problems=problems,
                             hint="each waiver needs check, reason and expires (YYYY-MM-DD); see the README")
    return waivers


def _impossible(text: str, error: BaseException) -> str:
    """Name the impossible date (or say what else the parser refused) in one line."""
    import re

    for found in re.finditer(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", text):
        try:
            dt.date(*(int(part) for part in found.groups()))
        except ValueError:
            return f"{found.group()} is not a date ({error})"
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _policy_problems(index: int, item: dict[str, Any], selector: dict[str, Any], known_checks: set[str] | None,
                     today: dt.date) -> list[str]:
    """What makes a well-formed waiver unacceptable: blank reason, far expiry, broad without saying so."""
    problems = []
    if not item["reason"].strip() or len(item["reason"].strip()) < 3:
        problems.append(f"waivers/{index}/reason: a reason says why the risk is accepted; it cannot be blank")
    expires = dt.date.fromisoformat(item["expires"])
    if (expires - today).days > MAX_WAIVER_DAYS:
        problems.append(f"waivers/{index}/expires: {item['expires']} is more than {MAX_WAIVER_DAYS} days ahead; "
                        f"a waiver is reviewed at least yearly (latest: "
                        f"{(today + dt.timedelta(days=MAX_WAIVER_DAYS)).isoformat()})")
    if _broad(item["check"], selector, known_checks) and item.get("broad") is not True:
        problems.append(f"waivers/{index}: check {item['check']!r} with no narrowing resource selector is broad "
                        "(it hides every finding of many checks); narrow it with resource kind/namespace/name/"
                        "labels, or say broad: true")
    return problems


def _broad(check: str, selector: dict[str, Any], known_checks: set[str] | None) -> bool:
    """A glob check that may match several checks, on every resource (no field narrows it)."""
    matches = [c for c in known_checks if fnmatch.fnmatchcase(c, check)] if known_checks is not None else None
    several = (len(matches) > 1) if matches is not None else any(ch in check for ch in "*?[")
    narrowed = bool(selector.get("labels")) or any(
        str(selector.get(key, "*")).strip("*") for key in ("kind", "namespace", "name"))
    return several and not narrowed


def apply_waivers(rows: FindingRows, waivers: list[Waiver], inventory: Any,
                  today: dt.date) -> list[Waiver]:
    """Mark waived FAIL/WARN rows in place; return the waivers that have expired (and were not applied)."""
    active = [w for w in waivers if not w.expired(today)]
    expired = [w for w in waivers if w.expired(today)]
    if not active:
        return expired
    rows.split(WAIVABLE)  # a waiver covers one row, so FAIL/WARN batches become single findings first
    wants_labels = any(w.labels for w in active)
    for index, entry in enumerate(rows.entries):
        if entry.result not in WAIVABLE:
            continue
        resource = entry.resource
        labels = None
        if wants_labels:
            obj = inventory.find(resource.kind, resource.namespace, resource.name) if inventory is not None else None
            labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
        for waiver in active:
            if waiver.matches(entry.check.id, resource.kind, resource.namespace, resource.name, labels):
                rows.waivers[index] = f"{waiver.reason} (until {waiver.expires.isoformat()})"
                break
    return expired
