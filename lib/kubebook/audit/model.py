"""The audit's vocabulary: checks, resources, findings and their fixed value sets.

Kept free of I/O so every engine, exporter and test shares one definition. The
result set is closed on purpose (kube-bench style): a check that could not read
its input says ERROR or WARN, it never falls through to PASS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

SEVERITIES = ("critical", "high", "medium", "low", "info")
RESULTS = ("PASS", "FAIL", "WARN", "INFO", "ERROR")
PSS_LEVELS = ("baseline", "restricted")

# Results that count against a resource (and against --fail-on).
FAILING_RESULTS = frozenset({"FAIL", "ERROR"})


@dataclass(frozen=True)
class Check:
    """One auditable rule, loaded from the YAML catalog (see catalog.py)."""

    id: str
    title: str
    section: str
    cis: str | None
    severity: str
    scored: bool
    inspects: str
    remediation: str
    references: tuple[str, ...]
    pss_level: str | None = None


class Resource(NamedTuple):
    """What a finding is about; ``namespace`` is None for cluster-scoped or unnamespaced objects.

    A NamedTuple rather than a frozen dataclass: an audit of 50,000 pods creates
    hundreds of thousands of these, and a tuple is built in half the time.
    """

    kind: str
    namespace: str | None
    name: str

    @classmethod
    def of(cls, obj: dict[str, Any], kind: str | None = None) -> Resource:
        """The Resource for an API object given as a plain dict."""
        meta = obj.get("metadata") or {}
        return cls(kind=kind or str(obj.get("kind", "")), namespace=meta.get("namespace"),
                   name=str(meta.get("name", "")))

    def __str__(self) -> str:
        if self.namespace:
            return f"{self.kind}/{self.namespace}/{self.name}"
        return f"{self.kind}/{self.name}"


class Finding(NamedTuple):
    """The verdict of one check on one resource; ``result`` is one of RESULTS (immutable, cheap to build)."""

    check: Check
    resource: Resource
    result: str
    message: str


@dataclass(frozen=True)
class FindingBatch:
    """The same verdict of one check on many resources (typically PASS), one object instead of thousands.

    Engines may yield these alongside Finding objects; the audit expands them into
    one row per resource. It exists for speed: a large cluster has about a million
    (check, resource) verdicts, nearly all PASS.
    """

    check: Check
    resources: list[Resource]
    result: str
    message: str

    def __iter__(self):  # type: ignore[no-untyped-def]
        """The batch as individual findings (for code that wants them one by one)."""
        return (Finding(self.check, r, self.result, self.message) for r in self.resources)


def severity_rank(severity: str) -> int:
    """0 for critical ... 4 for info; used to compare against --fail-on."""
    return SEVERITIES.index(severity)
