"""The ``kubebook`` command: a thin shell that parses arguments and calls the library.

Each command group lives in its own module exposing ``register(subparsers)``;
handlers receive the parsed namespace and return an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence

from kubebook import __version__
from kubebook.errors import KubebookError

# (group, module, one-line help). Order is the order shown by --help.
GROUPS: list[tuple[str, str, str]] = [
    ("cluster", "kubebook.cli.cluster_cmd", "build, start, stop and inspect the local control plane"),
    ("run", "kubebook.cli.run_cmd", "run a notebook headless and archive its report"),
    ("reports", "kubebook.cli.reports_cmd", "list, show, verify and prune archived reports"),
    ("schedule", "kubebook.cli.schedule_cmd", "list and run scheduled notebooks"),
    ("audit", "kubebook.cli.audit_cmd", "audit a cluster, manifests or control-plane configuration"),
    ("provision", "kubebook.cli.provision_cmd", "build, diff, apply and verify the security baseline overlays"),
    ("dr", "kubebook.cli.dr_cmd", "etcd snapshots, restore drills and namespace backup/restore"),
    ("capacity", "kubebook.cli.capacity_cmd", "capacity history, forecasts, rightsizing, node counts and cost"),
    ("lab", "kubebook.cli.lab_cmd", "hands-on training labs: list, start, check, hint, reset, status"),
    ("detect", "kubebook.cli.detect_cmd", "threat detection over the API server's audit log: rules, scan"),
    ("certs", "kubebook.cli.certs_cmd", "certificate expiry: a local cluster's PKI and any cluster's certificates"),
    ("node", "kubebook.cli.node_cmd", "node maintenance: drain over the Eviction API (PDBs, a lock) and uncordon"),
]


class HintingParser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors are one line with a hint, exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}. Try '{self.prog} --help'.\n")
        raise SystemExit(2)


def _requested_group(argv: Sequence[str]) -> str | None:
    """The first positional argument: the group the user asked for, if any."""
    for arg in argv:
        if not arg.startswith("-"):
            return arg
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser, with only the requested group's module imported.

    Group modules pull in heavy libraries (pandas, the kubernetes client); importing
    all of them would cost every `kubebook run` about a second, so the other groups
    are registered by name and help text only.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    wanted = _requested_group(argv)
    parser = HintingParser(
        prog="kubebook",
        description="Provision, harden, audit, drill, forecast and teach a hardened Kubernetes cluster.",
    )
    parser.add_argument("--version", action="version", version=f"kubebook {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    groups = parser.add_subparsers(dest="group", metavar="GROUP", parser_class=HintingParser)
    groups.required = True
    for name, module_name, help_text in GROUPS:
        if name == wanted:
            importlib.import_module(module_name).register(groups, name, help_text)
        else:
            groups.add_parser(name, help=help_text, description=help_text)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except KubebookError as error:
        if args.debug:
            traceback.print_exc()
        sys.stderr.write(f"kubebook: {error}\n")
        return error.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("kubebook: interrupted\n")
        return 130
    except OSError as error:  # a full disk or a read-only folder no handler expected: one line, not a traceback
        if args.debug:
            traceback.print_exc()
        where = f" ({error.filename})" if getattr(error, "filename", None) else ""
        sys.stderr.write(f"kubebook: {error.strerror or error}{where}\n")
        return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
