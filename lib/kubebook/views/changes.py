"""Planned changes as ``kubectl diff`` shows them: counts per action, then one unified diff per object."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from kubebook.changes import Change, summary
from kubebook.views import FONT, Html

ACTION_COLOURS = {"create": "#1a7f37", "change": "#9a6700", "delete": "#cf222e", "refused": "#cf222e"}


def changes_view(changes: Sequence[Change], *, open_diffs: bool = True) -> Any:
    """Counts per action, then each object's unified diff (open, so it is read without a click)."""
    counts = summary(changes)
    head = ", ".join(f"{n} {a}" for a, n in counts.items() if n)
    parts = [f'<p style="{FONT}"><b>{html.escape(head or "no objects")}</b></p>']
    for change in changes:
        if change.action == "unchanged":
            continue
        lines = []
        for line in change.diff.splitlines():
            colour = ("#57606a" if line.startswith(("+++", "---")) else "#1a7f37" if line.startswith("+")
                      else "#cf222e" if line.startswith("-") else "inherit")
            lines.append(f'<span style="color:{colour}">{html.escape(line)}</span>')
        body = "\n".join(lines) or html.escape(change.reason)
        colour = ACTION_COLOURS.get(change.action, "#57606a")
        parts.append(f'<details{" open" if open_diffs else ""} style="{FONT};margin:0 0 8px 0"><summary>'
                     f'<b style="color:{colour}">{html.escape(change.action)}</b> <code>{html.escape(change.key)}'
                     f"</code>{' - ' + html.escape(change.reason) if change.reason else ''}</summary>"
                     f'<pre style="white-space:pre-wrap;background:#f6f8fa;padding:8px;margin:4px 0">{body}</pre>'
                     f"</details>")
    text = "\n".join(f"{c.action:9} {c.key}" + (f"\n{c.diff}" if c.diff else f" ({c.reason})" if c.reason else "")
                     for c in changes if c.action != "unchanged") or head or "no objects"
    return Html("".join(parts), text)
