"""Shared helpers for the audit engine unit tests: build an inventory, run one engine, pick a check."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

from kubebook.audit import AuditInventory, catalog
from kubebook.audit.model import Finding, FindingBatch

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "audit"


def findings(engine: ModuleType, objects: list[dict[str, Any]], source: str = "manifests",
             **attributes: Any) -> list[Finding]:
    inv = AuditInventory.from_objects(objects, source=source)
    for name, value in attributes.items():
        setattr(inv, name, value)
    found: list[Finding] = []
    for item in engine.evaluate(inv):  # a FindingBatch stands for one finding per resource
        found.extend(item if isinstance(item, FindingBatch) else [item])
    return found


def of(found: list[Finding], check_id: str) -> list[tuple[str, str, str]]:
    """(result, resource, message) of one check's findings."""
    return [(f.result, str(f.resource), f.message) for f in found if f.check.id == check_id]


def missing_fixtures(section: str, exempt: dict[str, str]) -> list[str]:
    checks = [c.id for c in catalog.load_catalog().values() if c.section == section]
    assert checks, f"no checks in section {section}"
    return [f"{check_id}/{kind}" for check_id in checks if check_id not in exempt
            for kind in ("pass", "fail") if not list((FIXTURES / check_id).glob(f"{kind}*.yaml"))]
