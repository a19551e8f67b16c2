"""The audit's name for :mod:`kubebook.yamlload`, the package's fast YAML loader.

The loader moved below the engines (the labs read their catalog with it too, and two engines may not import
each other); the audit's modules and tests keep importing it by this name.
"""

from __future__ import annotations

from typing import Any

from kubebook.yamlload import load as load
from kubebook.yamlload import needs_pyyaml as needs_pyyaml


def __getattr__(name: str) -> Any:
    """``YAMLError`` stays lazy, as in :mod:`kubebook.yamlload`: PyYAML is imported only when asked for."""
    from kubebook import yamlload

    return getattr(yamlload, name)
