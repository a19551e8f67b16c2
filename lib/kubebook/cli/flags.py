"""The flags every command spells the same way, as kubectl does: ``--kubeconfig``, ``--context``, ``--name``.

A command that reaches a cluster takes ``--kubeconfig FILE`` and ``--context NAME`` (dests ``kubeconfig``
and ``context``); a command about a local cluster takes ``--name NAME``. The spellings of earlier
versions (``--cluster KUBECONFIG``, ``--control-plane NAME``) keep working, because automation uses them,
but are hidden from ``--help``: each is a second option with the same dest and ``help=SUPPRESS``.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

KUBECONFIG_HELP = "kubeconfig file (default: $KUBEBOOK_KUBECONFIG, the local cluster 'default', $KUBECONFIG)"
CONTEXT_HELP = "kubeconfig context (default: $KUBEBOOK_CONTEXT, else the kubeconfig's current context)"


def add_target(parser: Any, *, kubeconfig_help: str = KUBECONFIG_HELP, group: Any = None,
               optional_value: bool = False) -> None:
    """``--kubeconfig`` and ``--context`` on ``parser``, with ``--cluster`` a hidden alias of ``--kubeconfig``.

    ``group`` (a mutually exclusive group) holds the kubeconfig options when given. ``optional_value``
    keeps ``--cluster`` usable without a value (``kubebook audit --cluster``: the usual resolution),
    as it was; ``--kubeconfig`` always takes one, like kubectl's.
    """
    holder = group if group is not None else parser
    holder.add_argument("--kubeconfig", metavar="FILE", default=None, help=kubeconfig_help)
    holder.add_argument("--cluster", dest="kubeconfig", metavar="KUBECONFIG", default=None, help=argparse.SUPPRESS,
                        **({"nargs": "?", "const": ""} if optional_value else {}))
    parser.add_argument("--context", metavar="NAME", default=None, help=CONTEXT_HELP)


def add_name(parser: Any, *, default: str | None, help_text: str, alias: str | None = None,
             alias_const: str | None = None) -> None:
    """``--name NAME`` for a local cluster; ``alias`` (e.g. ``--control-plane``) a hidden second spelling.

    ``alias_const`` lets the alias stand without a value, as ``kubebook audit --control-plane`` did.
    """
    parser.add_argument("--name", metavar="NAME", default=default, help=help_text)
    if alias:
        extra: dict[str, Any] = {"nargs": "?", "const": alias_const} if alias_const is not None else {}
        parser.add_argument(alias, dest="name", metavar="NAME", default=default, help=argparse.SUPPRESS, **extra)


def export_context(args: argparse.Namespace) -> None:
    """Hand ``--context`` to the kernels a command starts: they inherit ``$KUBEBOOK_CONTEXT``, which
    :func:`kubebook.cluster.connect` reads when a notebook names no context of its own."""
    from kubebook.cluster import CONTEXT_ENV

    if getattr(args, "context", None):
        os.environ[CONTEXT_ENV] = args.context


def connect(args: argparse.Namespace) -> Any:
    """The cluster ``--kubeconfig``/``--context`` name (each: the usual resolution when not given)."""
    from kubebook.cluster import connect as connect_cluster

    return connect_cluster(args.kubeconfig or None, args.context or None)
