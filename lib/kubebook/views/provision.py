"""What the provision-baseline runbook shows: the outcome first, long tables and diffs behind a count.

Why ``<details>``: it folds in JupyterLab and in the archived HTML alike (no widget, no script),
so a 70-object overlay opens as one line per section, with the count in the summary, and
the failing controls (the part someone has to act on) shown open.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kubebook.changes import Change, summary
from kubebook.views import FONT, Html, Message, headline_view, table
from kubebook.views.changes import changes_view

if TYPE_CHECKING:  # the results drawn here; this module calls no engine
    from kubebook.provision.usecase import Baseline, Proof


def folded(title: str, part: Html | Message, *, open_: bool = False) -> Html | Message:
    """``part`` behind a summary line (``title``), folded unless ``open_``; a Message stays as it is."""
    if not isinstance(part, Html):
        return part
    return Html(f'<details{" open" if open_ else ""} style="{FONT};margin:4px 0 10px 0"><summary><b>'
                f"{html.escape(title)}</b></summary>{part.html}</details>", f"{title}\n{part.plain}")


def objects_table(result: Baseline) -> Html | Message:
    """One row per object the overlay declares, in kustomize's order, folded behind the count per kind."""
    return folded(result.objects_title,
                  table(result.object_rows, code=["name"], empty="the overlay declares no objects"))


def changes_folded(changes: Sequence[Change]) -> Html:
    """The server's dry-run diffs behind one line of counts (refusals and conflicts shown open)."""
    counts = summary(changes)
    head = ", ".join(f"{n} {a}" for a, n in counts.items() if n) or "no objects"
    diffs = changes_view([c for c in changes if c.action != "refused"], open_diffs=False)
    parts = [folded(f"planned changes ({len(changes)} objects): {head}", diffs).html]
    refused = [c for c in changes if c.action == "refused"]
    if refused:
        parts.append(folded(f"{len(refused)} refused by the API server (conflicts keep the other owner's value)",
                            changes_view(refused), open_=True).html)
    plain = f"planned changes: {head}" + "".join(f"\nrefused {c.key}: {c.reason}" for c in refused)
    return Html("".join(parts), plain)


def proof_view(proved: Proof) -> Html:
    """The proof's headline, the failed controls open, the passed ones behind their count.

    After an apply, its notes (an interrupted remove finished or rolled back, a lock taken over),
    conflicts and failures come first, open: the apply did not do all it was asked.
    """
    parts: list[Html | Message] = []
    if proved.apply_rows:
        parts.append(folded(proved.apply_title, table(proved.apply_rows, code=["object"]), open_=True))
    parts.append(headline_view(proved.headline))
    if proved.failed:
        parts.append(folded(f"{len(proved.failed)} control(s) failed", controls_table(proved.failed_rows), open_=True))
    parts.append(folded(f"{len(proved.passed)} control(s) passed", controls_table(proved.passed_rows)))
    return Html("".join(p.html if isinstance(p, Html) else f"<p>{html.escape(str(p))}</p>" for p in parts),
                "\n".join(str(p) for p in parts))


def baseline_screen(result: Baseline) -> dict[str, Any]:
    """What the guard draws below its outcome: the proof of the result it holds (after Apply: the follow-up's)."""
    if result.proof is None:
        return {}
    return {"follow_up": proof_view(result.proof)}


def controls_table(rows: Sequence[dict[str, Any]]) -> Html | Message:
    """Pass/fail per control, with what was expected and what the API server answered (the engine's rows)."""
    return table(list(rows), code=["observed"], empty="nothing to verify")
