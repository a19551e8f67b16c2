"""Cluster lifecycle: certificate expiry and node maintenance (drain over the Eviction API, uncordon).

The first slice of issue 25; upgrade, certificate renewal and key rotation are not built yet
(docs/capabilities/lifecycle.md says what is). Engines return data; the CLI draws it.
"""

from __future__ import annotations

from kubebook.lifecycle.certs import DEFAULT_WARN_DAYS, CertEntry, CertReport, check
from kubebook.lifecycle.maintenance import (
    DEFAULT_TIMEOUT,
    LOCK_NAME,
    LOCK_NAMESPACE,
    DrainReport,
    MaintenanceLocked,
    PodVerdict,
    drain,
    uncordon,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "DEFAULT_WARN_DAYS",
    "LOCK_NAME",
    "LOCK_NAMESPACE",
    "CertEntry",
    "CertReport",
    "DrainReport",
    "MaintenanceLocked",
    "PodVerdict",
    "check",
    "drain",
    "uncordon",
]
