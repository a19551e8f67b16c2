"""Threat detection over the kube-apiserver audit log: rules as data, a streaming scan, policy coverage.

The public surface is :mod:`kubebook.detect.usecase` (a CLI command, a runbook cell and a schedule call the
same functions); the names are re-exported here lazily so ``import kubebook.detect`` stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Finding", "ScanResult", "list_rules", "policy_coverage", "scan_logs"]


def __getattr__(name: str) -> Any:
    if name in ("list_rules", "scan_logs", "policy_coverage"):
        from kubebook.detect import usecase

        return getattr(usecase, name)
    if name in ("ScanResult", "Finding"):
        from kubebook.detect import scan

        return getattr(scan, name)
    raise AttributeError(name)
