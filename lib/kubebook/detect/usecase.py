"""The public functions of kubebook.detect: what the CLI, a runbook cell and a schedule call."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kubebook.detect import catalog, policy
from kubebook.detect.model import SEVERITIES
from kubebook.detect.scan import ScanResult, parse_since, scan
from kubebook.errors import ParameterError


def list_rules() -> list[dict[str, Any]]:
    """Every rule's record (id, title, severity, techniques, level, matcher), in catalogue order."""
    return [rule.summary() for rule in catalog.catalogue()]


def check_severity(text: str) -> str:
    value = text.strip().lower()
    if value not in SEVERITIES:
        raise ParameterError(f"severity {text!r} is not one of {', '.join(SEVERITIES)}; give one of them")
    return value


def scan_logs(paths: Iterable[str | Path], since: str | None = None) -> ScanResult:
    """Scan audit logs (JSON lines, ``.gz`` too) with every rule; ``since`` as ``--since`` takes it."""
    cutoff = parse_since(since) if since else None
    return scan(list(paths), catalog.catalogue(), cutoff)


def policy_coverage(policy_file: str | Path) -> list[dict[str, Any]]:
    """Per rule: the level the audit policy gives what it watches, and whether it can fire there."""
    return policy.coverage(policy.load_policy(policy_file), catalog.catalogue())
