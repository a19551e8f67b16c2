"""Hardening audit: checks as data, engines over one shared inventory, findings, score, waivers, exports.

Typical use::

    from kubebook.audit import AuditInventory, run_audit
    result = run_audit(AuditInventory.from_manifests("manifests/"))
    result.findings  # pandas DataFrame, one row per (check, resource)
"""

from kubebook.audit.engine import ENGINES, AuditResult, run_audit
from kubebook.audit.model import RESULTS, SEVERITIES, Check, Finding, Resource
from kubebook.audit.sources import AuditInventory

__all__ = ["ENGINES", "RESULTS", "SEVERITIES", "AuditInventory", "AuditResult", "Check", "Finding", "Resource",
           "run_audit"]
