"""kubebook: parameterized notebooks for a security-hardened Kubernetes cluster.

The public API: the use-case functions (one per thing a runbook, the CLI or a schedule does) and
the result types they return, plus the in-notebook helpers a runbook needs (``record``, the
mutation ``guard``). Runbooks import only these (``from kubebook import ...``) and drawing from
``kubebook.views``; ``kubebook.conventions`` refuses a deeper import.

Every name is imported on first use (module ``__getattr__``), so ``import kubebook`` stays cheap:
a manifest audit must never import pandas or the kubernetes client it does not need.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from kubebook.errors import KubebookError

__version__ = "0.1.0"

# public name -> the module it lives in (imported lazily)
_EXPORTS: dict[str, str] = {
    # the client layer
    "connect": "kubebook.cluster",
    "Cluster": "kubebook.cluster",
    # in-notebook helpers: record a result, guard a mutation
    "record": "kubebook.notebook",
    "guard": "kubebook.notebook",
    "Decision": "kubebook.notebook",
    # disaster recovery
    "etcd_backup": "kubebook.dr.usecase",
    "etcd_backup_plan": "kubebook.dr.usecase",
    "etcd_backup_report": "kubebook.dr.usecase",
    "etcd_drill_plan": "kubebook.dr.usecase",
    "etcd_drill_report": "kubebook.dr.usecase",
    "ha_drill_plan": "kubebook.dr.usecase",
    "ha_drill_report": "kubebook.dr.usecase",
    "namespace_drill_plan": "kubebook.dr.usecase",
    "namespace_drill_report": "kubebook.dr.usecase",
    "DrillPlan": "kubebook.dr.usecase",
    "DrillReport": "kubebook.dr.usecase",
    "BackupReport": "kubebook.dr.usecase",
    "NamespaceDrillReport": "kubebook.dr.usecase",
    "Outcome": "kubebook.dr.outcome",
    "Verdict": "kubebook.dr.outcome",
    # capacity
    "capacity_collect": "kubebook.capacity.usecase",
    "capacity_history": "kubebook.capacity.usecase",
    "capacity_forecast": "kubebook.capacity.usecase",
    "capacity_rightsizing": "kubebook.capacity.usecase",
    "capacity_nodes": "kubebook.capacity.usecase",
    "capacity_cost": "kubebook.capacity.usecase",
    "NodesReport": "kubebook.capacity.usecase",
    "RightsizingReport": "kubebook.capacity.usecase",
    "CostReport": "kubebook.capacity.usecase",
    # cluster information
    "cluster_info": "kubebook.inventory",
    "ClusterInfo": "kubebook.inventory",
    "Outlook": "kubebook.capacity.outlook",
    # audit, provisioning, the report browser, the overview (issue 22, views helper: engines compute, views draw)
    "harden_audit": "kubebook.audit.usecase",
    "harden_remediate": "kubebook.audit.usecase",
    "PostureReport": "kubebook.audit.usecase",
    "Remediation": "kubebook.audit.usecase",
    "provision_baseline": "kubebook.provision.usecase",
    "Baseline": "kubebook.provision.usecase",
    "Proof": "kubebook.provision.usecase",
    "browse_reports": "kubebook.archive.query",
    "Browser": "kubebook.archive.query",
    "cluster_overview": "kubebook.overview",
    "OverviewReport": "kubebook.overview",
    "Headline": "kubebook.results",
}

__all__ = ["KubebookError", "__version__", *_EXPORTS]


def public_home(name: str) -> str | None:
    """The module a public name comes from, without importing it (None: not a public name)."""
    return _EXPORTS.get(name)


def __getattr__(name: str) -> Any:
    home = _EXPORTS.get(name)
    if home is None:
        raise AttributeError(f"module 'kubebook' has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value  # imported once; later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
