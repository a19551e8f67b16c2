"""The rule catalogue: every ``rules/*.yaml`` record, validated once and cached.

Rules are data so a reviewer reads what fires without reading Python, and so a fixture pair (one event
that fires, one that does not) sits beside each matcher (tests/unit/detect/test_detect_rules.py walks them).
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

from kubebook import yamlload
from kubebook.detect.model import Rule, build_rule
from kubebook.errors import ParameterError

RULES_DIR = Path(__file__).resolve().parent / "rules"

# What a fixture event is merged over: a complete, allowed request by an ordinary authenticated user.
BASE_EVENT: dict[str, Any] = {
    "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse", "stage": "ResponseComplete",
    "auditID": "00000000-0000-0000-0000-000000000000", "requestURI": "/api/v1/x",
    "user": {"username": "alice", "groups": ["system:authenticated"]}, "sourceIPs": ["10.0.0.5"],
    "userAgent": "kubectl/v1.33.0", "responseStatus": {"code": 200},
    "requestReceivedTimestamp": "2026-01-01T00:00:00.000000Z", "stageTimestamp": "2026-01-01T00:00:00.100000Z",
}


def load_rules(paths: list[Path] | None = None) -> list[Rule]:
    """The rules of ``paths`` (default: the shipped catalogue), refusing a duplicate id."""
    files = paths if paths is not None else sorted(RULES_DIR.glob("*.yaml"))
    rules: list[Rule] = []
    seen: set[str] = set()
    for path in files:
        records = yamlload.load_file(path, f"detection rules {path.name}")
        if not isinstance(records, list):
            raise ParameterError(f"detection rules {path}: expected a list of rules, got {type(records).__name__}")
        for record in records:
            rule = build_rule(record, f"detection rules {path.name}")
            if rule.id in seen:
                raise ParameterError(f"detection rules {path.name}: rule id {rule.id!r} appears twice; ids are unique")
            seen.add(rule.id)
            rules.append(rule)
    return rules


@lru_cache(maxsize=1)
def catalogue() -> tuple[Rule, ...]:
    return tuple(load_rules())


def fixture_events(rule: Rule, kind: str) -> list[dict[str, Any]]:
    """The rule's ``fires``/``quiet`` fixtures, each merged (top-level keys) over :data:`BASE_EVENT`."""
    events = []
    for partial in rule.fixtures.get(kind) or []:
        event = copy.deepcopy(BASE_EVENT)
        event.update(copy.deepcopy(partial))
        events.append(event)
    return events
