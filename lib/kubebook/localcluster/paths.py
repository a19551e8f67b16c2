"""Where the local control plane keeps binaries and per-cluster state.

Binaries are cached by version under ``$KUBEBOOK_CACHE_DIR`` (default
``$XDG_CACHE_HOME/kubebook``) so that every clone and every cluster share one build;
state lives under ``$KUBEBOOK_DATA_DIR`` (default ``$XDG_DATA_HOME/kubebook``), one
directory per cluster name, so ``down --purge`` removes exactly one cluster.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

NAME_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")
DEFAULT_NAME = "default"


def cache_dir() -> Path:
    explicit = os.environ.get("KUBEBOOK_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kubebook"


def data_dir() -> Path:
    explicit = os.environ.get("KUBEBOOK_DATA_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "kubebook"


def cluster_dir(name: str = DEFAULT_NAME) -> Path:
    return data_dir() / "clusters" / name


def kubeconfig_path(name: str = DEFAULT_NAME) -> Path:
    return cluster_dir(name) / "kubeconfig"
