"""docs/reference/cli.md from the argparse tree of ``kubebook`` (every group, command, flag, default, help).

It walks the parser objects that ``kubebook.cli.build_parser`` builds, never the ``--help`` text, so a flag
added in code appears here at the next ``python -m tools.docsgen``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from kubebook import cli

from .common import BANNER, ROOT, cell, code, table


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def _stable(text: str) -> str:
    """Machine-specific paths in defaults spelled as the user would read them (~, repository-relative)."""
    return text.replace(str(ROOT) + "/", "").replace(str(Path.home()), "~")


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    if not action.help or action.help == argparse.SUPPRESS:
        return ""
    return _stable(parser._get_formatter()._expand_help(action))


def _default(action: argparse.Action) -> str:
    if action.default in (None, argparse.SUPPRESS) or isinstance(action, argparse._HelpAction):
        return "-"
    if isinstance(action, argparse._StoreTrueAction | argparse._StoreFalseAction) or action.default == []:
        return "-" if action.default in (False, []) else code(action.default)
    return code(_stable(str(action.default)))


def _flag(action: argparse.Action) -> str:
    names = ", ".join(f"`{name}`" for name in action.option_strings)
    if action.nargs == 0:
        return names
    metavar = action.metavar or (action.dest.upper() if action.option_strings else action.dest)
    if isinstance(metavar, tuple):
        metavar = " ".join(metavar)
    return f"{names} `{metavar}`" if names else f"`{metavar}`"


def _extra(action: argparse.Action) -> str:
    notes = []
    if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
        notes.append("one of " + ", ".join(code(str(c)) for c in action.choices))
    if action.required and action.option_strings:
        notes.append("required")
    if action.nargs in ("*", "+") or isinstance(action, argparse._AppendAction):
        notes.append("repeatable" if action.option_strings else "one or more" if action.nargs == "+" else "any number")
    return "; ".join(notes)


def _arguments(parser: argparse.ArgumentParser) -> str:
    rows = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction) or action.help == argparse.SUPPRESS:
            continue  # a hidden alias (an earlier spelling) is described once, in FLAGS
        help_text = _help(parser, action)
        extra = _extra(action)
        rows.append([_flag(action), _default(action), cell("; ".join(t for t in (help_text, extra) if t))])
    return table(["argument", "default", "what it does"], rows) if rows else ""


def _section(parser: argparse.ArgumentParser, path: list[str], help_text: str, depth: int) -> list[str]:
    title = " ".join(path)
    out = [f"{'#' * min(depth, 6)} `{title}`\n"]
    description = parser.description or help_text
    if description:
        out.append(_stable(" ".join(description.split())) + "\n")
    out.append(f"```text\n{_stable(' '.join(parser.format_usage().split()))}\n```\n")
    args = _arguments(parser)
    if args:
        out.append(args)
    sub = _subparsers(parser)
    if sub is not None:
        helps = {a.dest: a.help or "" for a in sub._choices_actions}
        out.append(table(["command", "what it does"],
                         [[f"[`{name}`](#{_anchor([*path, name])})", cell(helps.get(name, ""))]
                          for name in sub.choices]))
        for name, child in sub.choices.items():
            out += _section(child, [*path, name], helps.get(name, ""), depth + 1)
    return out


def _anchor(path: list[str]) -> str:
    """The id mkdocs' toc extension gives a heading `` `kubebook a b` `` (slugified text)."""
    return "-".join(path)


def group_parsers() -> list[tuple[str, str, argparse.ArgumentParser]]:
    """Each group's fully registered parser (build_parser imports only the group it is asked for)."""
    groups = []
    for name, _, help_text in cli.GROUPS:
        sub = _subparsers(cli.build_parser([name]))
        assert sub is not None
        groups.append((name, help_text, sub.choices[name]))
    return groups


FLAGS = """\
## Flags

The flags that name a cluster are spelled as kubectl spells them, on every command:

- `--kubeconfig FILE` and `--context NAME` on every command that reaches a cluster (`run`, `schedule`,
  `audit`, `provision`, `capacity`, `lab`, `dr backup`/`restore-namespace`, `certs`, `node`). Without `--kubeconfig` the
  usual resolution applies: `$KUBEBOOK_KUBECONFIG`, the local cluster `default`, `$KUBECONFIG` /
  `~/.kube/config`, then in-cluster credentials. Without `--context`, `$KUBEBOOK_CONTEXT`, else the
  kubeconfig's current context. `kubebook run` and `kubebook schedule` hand both to the notebooks' kernels
  (`$KUBEBOOK_KUBECONFIG`, `$KUBEBOOK_CONTEXT`); a notebook's own `kubeconfig`/`context` parameters win.
- `--name NAME` for a local cluster (`cluster`, `dr snapshot`/`restore`/`drill`, `lab jupyter`, `certs`,
  `node`; in `audit` and `provision apply` the local cluster whose control plane the audit includes).

Earlier spellings keep working as aliases (scripts and CronJobs use them) and are not shown in `--help`
or below: `--cluster` `KUBECONFIG` is `--kubeconfig` wherever it was accepted (in `audit` it may stand
alone: a live cluster, usual resolution), and `--control-plane` `NAME` is `--name` in `audit` and
`provision apply` (in `audit` it may stand alone: the local cluster `default`).
"""


def render() -> str:
    top = cli.build_parser(["--version"])
    out = [BANNER.format(source="the argparse tree of lib/kubebook/cli"), "# Command-line reference\n",
           "Every group, command and flag of `kubebook`, with its default and help text, read from the parser "
           "objects themselves. Usage errors are one line and exit 2; a `kubebook.errors.ParameterError` is printed "
           "as one line (`kubebook: ...`) and exits 2 before anything changes. `--debug` shows tracebacks.\n",
           f"```text\n{' '.join(top.format_usage().split())}\n```\n", _arguments(top), FLAGS]
    groups = group_parsers()
    out.append(table(["group", "what it does"], [[f"[`{name}`](#{_anchor(['kubebook', name])})", cell(help_text)]
                                                 for name, help_text, _ in groups]))
    for name, help_text, parser in groups:
        out += _section(parser, ["kubebook", name], help_text, 2)
    return "\n".join(out)
