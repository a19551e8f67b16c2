"""The local control plane: build upstream binaries, start them as processes, report health.

Public names: :class:`LocalCluster` (``up``/``down``/``status``; imported lazily, it
pulls in the process and PKI modules), and the one lookup every caller uses to ask
"is this cluster one of kubebook's local control planes?":
:func:`name_for_kubeconfig` (by file) and :func:`name_serving` (by API server URL).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubebook.localcluster.paths import DEFAULT_NAME, cluster_dir, data_dir, kubeconfig_path

if TYPE_CHECKING:
    from kubebook.localcluster.manager import LocalCluster

__all__ = ["DEFAULT_NAME", "LocalCluster", "cluster_dir", "kubeconfig_path", "name_for_kubeconfig",
           "name_serving"]

_SERVER_LINE = re.compile(r"^\s*server:\s*['\"]?([^'\"\s]+)", re.MULTILINE)


def __getattr__(name: str) -> Any:
    if name == "LocalCluster":
        from kubebook.localcluster.manager import LocalCluster

        return LocalCluster
    raise AttributeError(name)


def name_for_kubeconfig(kubeconfig: str | os.PathLike[str] | None) -> str | None:
    """The local cluster whose admin kubeconfig this file is (``<data>/clusters/<name>/kubeconfig``), if any."""
    if not kubeconfig:
        return None
    path = Path(kubeconfig).resolve()
    clusters = (data_dir() / "clusters").resolve()
    if path.name == "kubeconfig" and path.parent.parent == clusters and path.is_file():
        return path.parent.name
    return None


def name_serving(server: str | None) -> str | None:
    """The local cluster whose kubeconfig names the API server URL ``server`` (any kubeconfig may reach it).

    kubebook writes these kubeconfigs itself, so their ``server:`` lines are read as
    text: no YAML parser on the audit's path.
    """
    if not server:
        return None
    for kubeconfig in sorted((data_dir() / "clusters").glob("*/kubeconfig")):
        try:
            text = kubeconfig.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if server.rstrip("/") in (s.rstrip("/") for s in _SERVER_LINE.findall(text)):
            return kubeconfig.parent.name
    return None
